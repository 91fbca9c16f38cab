//! The answer to one question from a [`Records`] snapshot, as CoreDNS' kubernetes plugin
//! gives it with the Corefile k3s and kubeadm ship (`kubernetes cluster.local in-addr.arpa
//! ip6.arpa { pods insecure; fallthrough in-addr.arpa ip6.arpa }`, TTL 5): `handler.go`'s
//! `ServeDNS` by question type over `kubernetes.go`'s `Services`/`Records`/`findServices`/
//! `findPods`/`Reverse` and `plugin/backend_lookup.go`'s `A`, `AAAA`, `SRV`, `CNAME`, `TXT`.
//!
//! A name that does not exist is NXDOMAIN; a name that exists without records of the asked
//! type is NODATA (NOERROR, no answer); both carry the zone's SOA (added by `response.rs`).
//! Names outside the zone, and reverse names of no cluster address, are for the upstream
//! resolvers ([`Outcome::Forward`], the `forward` plugin and `fallthrough`).

use std::collections::HashSet;
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::parse::{Request, parse};
use crate::records::{Records, ServiceKind};

/// The TTL of every record (the kubernetes plugin's default `ttl`).
pub const TTL: u32 = 5;
/// The version `dns-version.<zone>` answers (the DNS specification's schema version).
const SCHEMA_VERSION: &str = "1.1.0";
/// How many CNAMEs an in-zone chain may have (`len(previousRecords) > 7`).
const MAX_CNAMES: usize = 8;

/// What to do with a question.
#[derive(Debug)]
pub enum Outcome {
    /// The cluster's answer.
    Answer(Answer),
    /// Not the cluster's: ask the upstream resolvers.
    Forward,
}

/// An answer from the cluster (authoritative).
#[derive(Debug, Default)]
pub struct Answer {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub additionals: Vec<Record>,
    /// An ExternalName's CNAME to a name outside the zone: the upstream's answer for the
    /// target follows it; when the upstream cannot be asked, the CNAME is left out.
    pub chase: Option<Box<Chase>>,
}

/// A CNAME whose target the upstream resolvers answer.
#[derive(Debug)]
pub struct Chase {
    pub cname: Record,
    pub target: Name,
}

/// The zone's SOA record (`plugin.SOA`): `ns.dns.<zone>`, `hostmaster.<zone>`.
pub fn soa(zone: &Name, serial: u32) -> Record {
    let join = |label: &str| Name::from_ascii(label).expect("label").append_domain(zone);
    let rdata = SOA::new(
        join("ns.dns").expect("name"),
        join("hostmaster").expect("name"),
        serial,
        7200,
        1800,
        86400,
        TTL,
    );
    Record::from_rdata(zone.clone(), TTL, RData::SOA(rdata))
}

/// One thing a name stands for (CoreDNS' `msg.Service`): an address or a name, a port, and
/// the name an SRV record points to.
#[derive(Clone, Debug)]
struct Hit {
    host: Host,
    port: i32,
    target: String,
}

#[derive(Clone, Debug)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

/// The name is not in the cluster (`errNoItems`, `errInvalidRequest`): NXDOMAIN.
struct NoItems;

type Found = Result<Vec<Hit>, NoItems>;

/// The answer to `qname`/`qtype` in `zone` (`cluster.local.`, lowercase, fully qualified).
pub fn lookup(records: &Records, zone: &Name, qname: &Name, qtype: RecordType) -> Outcome {
    let mut lower = qname.to_lowercase();
    lower.set_fqdn(true);
    let text = lower.to_ascii();
    if is_reverse(&text) {
        return reverse(records, zone, qname, &lower, qtype);
    }
    if !zone.zone_of(&lower) {
        return Outcome::Forward;
    }
    let z = Zone::new(zone);
    let base = z.base(&text);
    let mut answer = Answer::default();
    let found: Result<(), NoItems> = match qtype {
        RecordType::AXFR | RecordType::IXFR => {
            answer.rcode = ResponseCode::Refused;
            return Outcome::Answer(answer);
        }
        RecordType::A | RecordType::AAAA => address(
            records,
            &z,
            qname,
            qtype,
            0,
            &mut answer.answers,
            &mut answer.chase,
        ),
        RecordType::SRV => srv(records, &z, qname, base, &mut answer),
        RecordType::CNAME => services(records, &z, base, qtype).map(|hits| {
            if let Some(Hit {
                host: Host::Name(h),
                ..
            }) = hits.first()
            {
                answer.answers.push(cname(qname, h));
            }
        }),
        RecordType::PTR => services(records, &z, base, qtype).map(|_| ()),
        RecordType::TXT if base == "dns-version" => {
            let txt = TXT::new(vec![SCHEMA_VERSION.into()]);
            answer
                .answers
                .push(Record::from_rdata(qname.clone(), 28800, RData::TXT(txt)));
            Ok(())
        }
        RecordType::TXT => match services(records, &z, base, qtype) {
            Ok(hits) if !hits.is_empty() => Ok(()),
            _ => Err(NoItems),
        },
        RecordType::SOA if base.is_empty() => {
            answer.answers.push(soa(zone, records.serial));
            Ok(())
        }
        RecordType::SOA => Ok(()),
        RecordType::NS if base.is_empty() => {
            let ns = z.name("ns.dns");
            answer.answers.push(Record::from_rdata(
                qname.clone(),
                TTL,
                RData::NS(NS(ns.clone())),
            ));
            for ip in &records.dns_ips {
                answer.additionals.push(address_record(&ns, *ip));
            }
            Ok(())
        }
        // Any other type: an A lookup tells NODATA from NXDOMAIN.
        _ => address(
            records,
            &z,
            qname,
            RecordType::A,
            0,
            &mut Vec::new(),
            &mut None,
        ),
    };
    if found.is_err() {
        answer = Answer {
            // Before the caches are synced, a name not found may yet exist.
            rcode: if records.synced {
                ResponseCode::NXDomain
            } else {
                ResponseCode::ServFail
            },
            ..Default::default()
        };
    }
    Outcome::Answer(answer)
}

/// The zone's names.
struct Zone<'a> {
    name: &'a Name,
    /// `cluster.local`, without the final dot.
    text: String,
}

impl<'a> Zone<'a> {
    fn new(name: &'a Name) -> Self {
        let text = name.to_ascii().trim_end_matches('.').to_string();
        Zone { name, text }
    }

    /// `text` (lowercase, with a final dot) without the zone: `""` for the zone itself.
    fn base<'t>(&self, text: &'t str) -> &'t str {
        let text = text.trim_end_matches('.');
        if text == self.text {
            return "";
        }
        text.strip_suffix(&self.text)
            .and_then(|s| s.strip_suffix('.'))
            .unwrap_or(text)
    }

    /// `labels.<zone>`, fully qualified.
    fn name(&self, labels: &str) -> Name {
        let mut n = Name::from_ascii(format!("{labels}.{}", self.text))
            .unwrap_or_else(|_| self.name.clone());
        n.set_fqdn(true);
        n
    }
}

/// `Services`: the kube-dns addresses for `ns.dns.<zone>`, else [`records_of`].
fn services(records: &Records, zone: &Zone, base: &str, _qtype: RecordType) -> Found {
    if base == "ns.dns" {
        return Ok(records
            .dns_ips
            .iter()
            .map(|ip| Hit {
                host: Host::Ip(*ip),
                port: 0,
                target: format!("ns.dns.{}", zone.text),
            })
            .collect());
    }
    records_of(records, zone, base)
}

/// `Records`: what a name under the zone stands for.
fn records_of(records: &Records, zone: &Zone, base: &str) -> Found {
    let r = parse(base).map_err(|_| NoItems)?;
    if r.pod_or_svc.is_empty() {
        return Ok(Vec::new());
    }
    if !records.has_namespace(&r.namespace) {
        return Err(NoItems);
    }
    if r.pod_or_svc == "pod" {
        find_pods(&r, zone)
    } else {
        find_services(records, &r, zone)
    }
}

/// `findPods` with `pods insecure`: the address is read from the name.
fn find_pods(r: &Request, zone: &Zone) -> Found {
    let name = &r.service;
    if name.is_empty() {
        return Ok(Vec::new());
    }
    let text = if name.matches('-').count() == 3 && !name.contains("--") {
        name.replace('-', ".")
    } else {
        name.replace('-', ":")
    };
    let ip: IpAddr = text.parse().map_err(|_| NoItems)?;
    Ok(vec![Hit {
        host: Host::Ip(ip),
        port: 0,
        target: format!("{name}.{}.pod.{}", r.namespace, zone.text),
    }])
}

/// `matchPortAndProtocol`: an empty port or protocol in the question matches any.
fn port_matches(r: &Request, name: &str, protocol: &str) -> bool {
    (r.port.is_empty() || r.port.eq_ignore_ascii_case(name))
        && (r.protocol.is_empty() || r.protocol.eq_ignore_ascii_case(protocol))
}

/// `findServices`.
fn find_services(records: &Records, r: &Request, zone: &Zone) -> Found {
    if r.service.is_empty() {
        return Ok(Vec::new());
    }
    let Some(svc) = records.service(&r.namespace, &r.service) else {
        return Err(NoItems);
    };
    let service_name = format!("{}.{}.svc.{}", svc.name, svc.namespace, zone.text);
    let mut hits = Vec::new();
    let mut found = false;
    match &svc.kind {
        ServiceKind::ExternalName(host) => {
            // An IP is no CNAME target; an endpoint of an ExternalName is nothing.
            if r.endpoint.is_empty() && host.parse::<IpAddr>().is_err() && !host.is_empty() {
                hits.push(Hit {
                    host: Host::Name(host.clone()),
                    port: 0,
                    target: service_name,
                });
                found = true;
            }
        }
        kind if matches!(kind, ServiceKind::Headless) || !r.endpoint.is_empty() => {
            for slice in records.endpoints(&svc.namespace, &svc.name) {
                for a in &slice.addresses {
                    let label = a.label();
                    if !r.endpoint.is_empty() && !r.endpoint.eq_ignore_ascii_case(&label) {
                        continue;
                    }
                    for p in &slice.ports {
                        if !port_matches(r, &p.name, &p.protocol) {
                            continue;
                        }
                        found = true;
                        hits.push(Hit {
                            host: Host::Ip(a.ip),
                            port: p.port,
                            target: format!("{label}.{service_name}"),
                        });
                    }
                }
            }
        }
        ServiceKind::ClusterIp(ips) => {
            for p in &svc.ports {
                if !port_matches(r, &p.name, &p.protocol) {
                    continue;
                }
                found = true;
                for ip in ips {
                    hits.push(Hit {
                        host: Host::Ip(*ip),
                        port: p.port,
                        target: service_name.clone(),
                    });
                }
            }
        }
        ServiceKind::Headless => unreachable!("matched above"),
    }
    if found { Ok(hits) } else { Err(NoItems) }
}

fn cname(qname: &Name, host: &str) -> Record {
    Record::from_rdata(qname.clone(), TTL, RData::CNAME(CNAME(fqdn(host))))
}

fn fqdn(host: &str) -> Name {
    let mut n = Name::from_ascii(host).unwrap_or_else(|_| Name::root());
    n.set_fqdn(true);
    n
}

fn address_record(name: &Name, ip: IpAddr) -> Record {
    let rdata = match ip {
        IpAddr::V4(ip) => RData::A(A(ip)),
        IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
    };
    Record::from_rdata(name.clone(), TTL, rdata)
}

/// `plugin.A` and `plugin.AAAA`: addresses of the family asked, CNAMEs of ExternalNames
/// followed within the zone (or left to the upstream through `chase`).
fn address(
    records: &Records,
    zone: &Zone,
    qname: &Name,
    qtype: RecordType,
    depth: usize,
    out: &mut Vec<Record>,
    chase: &mut Option<Box<Chase>>,
) -> Result<(), NoItems> {
    let mut lower = qname.to_lowercase();
    lower.set_fqdn(true);
    let text = lower.to_ascii();
    let base = zone.base(&text);
    // The apex has no addresses (`checkForApex`).
    let hits = if base.is_empty() {
        Vec::new()
    } else {
        services(records, zone, base, qtype)?
    };
    let mut seen = HashSet::new();
    for hit in hits {
        match hit.host {
            Host::Name(host) => {
                let target = fqdn(&host).to_lowercase();
                if target == lower || depth + 1 >= MAX_CNAMES {
                    continue;
                }
                let record = cname(qname, &host);
                if zone.name.zone_of(&target) {
                    let mut next = Vec::new();
                    let mut inner = None;
                    let r = address(
                        records,
                        zone,
                        &fqdn(&host),
                        qtype,
                        depth + 1,
                        &mut next,
                        &mut inner,
                    );
                    if r.is_ok() && (!next.is_empty() || inner.is_some()) {
                        out.push(record);
                        out.extend(next);
                        *chase = chase.take().or(inner);
                    }
                } else if chase.is_none() {
                    *chase = Some(Box::new(Chase {
                        cname: record,
                        target: fqdn(&host),
                    }));
                }
            }
            Host::Ip(ip) => {
                let wanted = match ip {
                    IpAddr::V4(_) => qtype == RecordType::A,
                    IpAddr::V6(_) => qtype == RecordType::AAAA,
                };
                if wanted && seen.insert(ip) {
                    out.push(address_record(qname, ip));
                }
            }
        }
    }
    Ok(())
}

/// `plugin.SRV`: one record per port and target, weights sharing 100, the targets'
/// addresses in the additional section. ExternalNames have no SRV records.
fn srv(
    records: &Records,
    zone: &Zone,
    qname: &Name,
    base: &str,
    answer: &mut Answer,
) -> Result<(), NoItems> {
    let hits: Vec<Hit> = services(records, zone, base, RecordType::SRV)?
        .into_iter()
        .filter(|h| matches!(h.host, Host::Ip(_)))
        .collect();
    let weight = if hits.is_empty() {
        100
    } else {
        (100 / hits.len()).max(1) as u16
    };
    let mut seen_srv = HashSet::new();
    let mut seen_addr = HashSet::new();
    for hit in hits {
        let Host::Ip(ip) = hit.host else { continue };
        let Ok(port) = u16::try_from(hit.port) else {
            continue;
        };
        let target = fqdn(&hit.target);
        if seen_srv.insert((hit.target.clone(), port)) {
            let rdata = SRV::new(0, weight, port, target.clone());
            answer
                .answers
                .push(Record::from_rdata(qname.clone(), TTL, RData::SRV(rdata)));
        }
        if seen_addr.insert((hit.target, ip)) {
            answer.additionals.push(address_record(&target, ip));
        }
    }
    Ok(())
}

fn is_reverse(text: &str) -> bool {
    text.ends_with("in-addr.arpa.") || text.ends_with("ip6.arpa.")
}

/// `Reverse`: PTR records of a Service's cluster IP, else of every ready endpoint at the
/// address; any other reverse question falls through to the upstream resolvers.
fn reverse(
    records: &Records,
    zone: &Name,
    qname: &Name,
    lower: &Name,
    qtype: RecordType,
) -> Outcome {
    if qtype != RecordType::PTR {
        return Outcome::Forward;
    }
    let Some(ip) = lower
        .parse_arpa_name()
        .ok()
        .filter(|net| net.prefix_len() == net.max_prefix_len())
        .map(|net| net.addr())
    else {
        return Outcome::Forward;
    };
    let z = Zone::new(zone);
    let mut names = Vec::new();
    if let Some((ns, name)) = records.service_of_ip(ip) {
        names.push(format!("{name}.{ns}.svc"));
    } else {
        for ((ns, name), label) in records.endpoints_of_ip(ip) {
            names.push(format!("{label}.{name}.{ns}.svc"));
        }
    }
    if names.is_empty() {
        return Outcome::Forward;
    }
    let answers = names
        .iter()
        .map(|n| Record::from_rdata(qname.clone(), TTL, RData::PTR(PTR(z.name(n)))))
        .collect();
    Outcome::Answer(Answer {
        answers,
        ..Default::default()
    })
}
