//! A question's name under the cluster domain, taken apart as CoreDNS' kubernetes plugin
//! does (`parse.go`, `parseRequest`): `[_port._proto.|endpoint.]service.namespace.svc|pod`.

/// The parts of a name under the zone. Empty strings are parts the name does not have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// `svc` or `pod`; empty for the zone itself, `svc` or `pod` alone.
    pub pod_or_svc: String,
    pub namespace: String,
    pub service: String,
    /// The endpoint label (a hostname or a dashed address).
    pub endpoint: String,
    /// The port name of an SRV-style name, without its underscore.
    pub port: String,
    /// The protocol of an SRV-style name, without its underscore.
    pub protocol: String,
}

/// Why a name under the zone names nothing (NXDOMAIN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid;

/// Parses `base`, the lowercased name with the zone and the final dot removed (`""` for
/// the zone itself).
pub fn parse(base: &str) -> Result<Request, Invalid> {
    let mut r = Request::default();
    // NODATA for the apex and for `svc` and `pod` alone.
    if base.is_empty() || base == "svc" || base == "pod" {
        return Ok(r);
    }
    let segs: Vec<&str> = base.split('.').collect();
    let mut rest = segs.as_slice();
    let mut next = || {
        let (last, init) = rest.split_last()?;
        rest = init;
        Some(last.to_string())
    };
    r.pod_or_svc = next().unwrap_or_default();
    if r.pod_or_svc != "svc" && r.pod_or_svc != "pod" {
        return Err(Invalid);
    }
    let Some(namespace) = next() else {
        return Ok(r);
    };
    r.namespace = namespace;
    let Some(service) = next() else {
        return Ok(r);
    };
    r.service = service;
    match rest {
        [] => {}
        [endpoint] => r.endpoint = endpoint.to_string(),
        [port, protocol] => {
            r.port = strip_underscore(port);
            r.protocol = strip_underscore(protocol);
        }
        _ => return Err(Invalid),
    }
    Ok(r)
}

fn strip_underscore(s: &str) -> String {
    s.strip_prefix('_').unwrap_or(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_name_has_a_service_and_a_namespace() {
        let r = parse("web.default.svc").unwrap();
        assert_eq!(
            (r.service.as_str(), r.namespace.as_str()),
            ("web", "default")
        );
        assert_eq!(r.pod_or_svc, "svc");
    }

    #[test]
    fn four_labels_name_an_endpoint_and_five_a_port_and_protocol() {
        let r = parse("db-0.db.prod.svc").unwrap();
        assert_eq!(r.endpoint, "db-0");
        let r = parse("_http._tcp.web.default.svc").unwrap();
        assert_eq!((r.port.as_str(), r.protocol.as_str()), ("http", "tcp"));
        assert_eq!(parse("a.b.c.web.default.svc"), Err(Invalid));
    }

    #[test]
    fn names_outside_svc_and_pod_are_invalid_and_the_apex_is_empty() {
        assert_eq!(parse("foo"), Err(Invalid));
        assert_eq!(parse("web.default.foo"), Err(Invalid));
        assert_eq!(parse(""), Ok(Request::default()));
        assert_eq!(parse("svc"), Ok(Request::default()));
        assert_eq!(parse("default.svc").unwrap().namespace, "default");
    }
}
