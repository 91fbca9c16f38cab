//! IPv4 CIDRs (`10.42.0.0/16`): the one parser and the address arithmetic that the service
//! IP allocator, node IPAM and the sim nodes' pod addresses share. Each user adds its own
//! rule on the prefix length (a service range is /8 to /30, a node's pod range at most /30).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network: its first address and its prefix length (0 to 32).
///
/// Parsing clears the host bits, as Kubernetes' `net.ParseCIDR` does: `10.42.3.7/24` is
/// `10.42.3.0/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: Ipv4Addr,
    prefix: u8,
}

/// A text that is not an IPv4 CIDR.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}: not an IPv4 CIDR")]
pub struct ParseCidrError(String);

impl Cidr {
    /// The network of `prefix` bits that holds `ip` (`None` for a prefix over 32).
    pub fn new(ip: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then(|| Cidr {
            network: Ipv4Addr::from(u32::from(ip) & mask(prefix)),
            prefix,
        })
    }

    /// The first address (the network address).
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The number of addresses (2^(32 - prefix)).
    pub fn size(&self) -> u64 {
        1 << (32 - u32::from(self.prefix))
    }

    /// The `n`th address (0 is the network address); `n` is below [`Cidr::size`].
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network).wrapping_add(n))
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.network)
    }
}

/// The netmask of a prefix length (0 to 32).
fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = ParseCidrError;

    /// Parses `a.b.c.d/n`; IPv6, a missing or malformed prefix and a prefix over 32 fail.
    fn from_str(s: &str) -> Result<Self, ParseCidrError> {
        let invalid = || ParseCidrError(s.to_string());
        let (ip, prefix) = s.split_once('/').ok_or_else(invalid)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| invalid())?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        Cidr::new(ip, prefix).ok_or_else(invalid)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn parsing_clears_host_bits_and_prints_the_network() {
        assert_eq!(cidr("10.42.3.7/24").to_string(), "10.42.3.0/24");
        assert_eq!(cidr("10.42.3.7/24").network(), Ipv4Addr::new(10, 42, 3, 0));
        assert_eq!(cidr("10.43.0.0/16").prefix(), 16);
        assert_eq!(cidr("1.2.3.4/0").to_string(), "0.0.0.0/0");
        assert_eq!(cidr("1.2.3.4/32").to_string(), "1.2.3.4/32");
    }

    #[test]
    fn ipv6_missing_or_bad_prefixes_are_not_cidrs() {
        for s in [
            "fd00::/64",
            "10.43.0.0",
            "10.43.0.0/",
            "10.43.0.0/33",
            "10.43.0.0/+8",
            "10.43.0/16",
            "",
        ] {
            assert!(s.parse::<Cidr>().is_err(), "{s}");
        }
        assert_eq!(
            "x/1".parse::<Cidr>().unwrap_err().to_string(),
            "x/1: not an IPv4 CIDR"
        );
    }

    #[test]
    fn sizes_addresses_and_membership() {
        let c = cidr("10.43.0.0/16");
        assert_eq!(c.size(), 65536);
        assert_eq!(c.nth(1), Ipv4Addr::new(10, 43, 0, 1));
        assert_eq!(c.nth(65535), Ipv4Addr::new(10, 43, 255, 255));
        assert!(c.contains(Ipv4Addr::new(10, 43, 200, 1)));
        assert!(!c.contains(Ipv4Addr::new(10, 44, 0, 1)));
        assert_eq!(cidr("0.0.0.0/0").size(), 1 << 32);
        assert!(cidr("0.0.0.0/0").contains(Ipv4Addr::new(192, 168, 0, 1)));
        assert_eq!(cidr("10.0.0.1/32").size(), 1);
        assert_eq!(Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 33), None);
    }
}
