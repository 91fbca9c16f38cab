//! Which slices to create, update and delete so that a service's slices hold the desired
//! endpoints, moving as few endpoints between slices as possible (an endpoint stays in the
//! slice that holds it while its port set is unchanged; new ones fill free room first).

use super::{Groups, MAX_ENDPOINTS_PER_SLICE, PortsKey, SliceMeta, ports_key};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use kube::ResourceExt;
use std::collections::HashMap;
use std::sync::Arc;

/// The writes a sync makes.
#[derive(Debug, Default)]
pub struct Plan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<String>,
}

struct Working {
    base: Option<Arc<EndpointSlice>>,
    ports: Vec<EndpointPort>,
    key: PortsKey,
    endpoints: Vec<Endpoint>,
    placeholder: bool,
}

/// The identity of an endpoint across syncs: its pod's UID (else its address).
fn identity(e: &Endpoint) -> String {
    e.target_ref
        .as_ref()
        .and_then(|r| r.uid.clone())
        .unwrap_or_else(|| e.addresses.join(","))
}

fn target_name(e: &Endpoint) -> String {
    e.target_ref
        .as_ref()
        .and_then(|r| r.name.clone())
        .unwrap_or_default()
}

/// Plans the writes turning `existing` (the service's managed slices) into slices holding
/// `groups` (endpoints by port set).
pub fn plan(existing: &[Arc<EndpointSlice>], groups: Groups, meta: &SliceMeta) -> Plan {
    let total: usize = groups.values().map(|(_, e)| e.len()).sum();
    let mut wanted: HashMap<String, (PortsKey, Endpoint)> = HashMap::new();
    for (key, (_, endpoints)) in &groups {
        for e in endpoints {
            wanted.insert(identity(e), (key.clone(), e.clone()));
        }
    }
    let mut plan = Plan::default();
    let mut working: Vec<Working> = Vec::new();
    // Slices to delete, unless reused for new ones.
    let mut doomed: Vec<Arc<EndpointSlice>> = Vec::new();
    for slice in existing {
        let ports = slice.ports.clone().unwrap_or_default();
        let key = ports_key(&ports);
        if slice.address_type != "IPv4" {
            doomed.push(slice.clone());
        } else if let Some((ports, _)) = groups.get(&key) {
            let mut kept = Vec::new();
            for e in &slice.endpoints {
                let id = identity(e);
                if wanted.get(&id).is_some_and(|(k, _)| *k == key)
                    && let Some((_, desired)) = wanted.remove(&id)
                {
                    kept.push(desired);
                }
            }
            working.push(Working {
                base: Some(slice.clone()),
                ports: ports.clone(),
                key,
                endpoints: kept,
                placeholder: false,
            });
        } else if total == 0 && !working.iter().any(|w| w.placeholder) {
            // Reused as the placeholder a service without endpoints keeps.
            working.push(Working {
                base: Some(slice.clone()),
                ports: Vec::new(),
                key: Vec::new(),
                endpoints: Vec::new(),
                placeholder: true,
            });
        } else {
            doomed.push(slice.clone());
        }
    }
    for (key, (ports, endpoints)) in groups {
        let mut rest = endpoints
            .into_iter()
            .filter(|e| wanted.contains_key(&identity(e)))
            .peekable();
        for w in working
            .iter_mut()
            .filter(|w| w.key == key && !w.placeholder)
        {
            while w.endpoints.len() < MAX_ENDPOINTS_PER_SLICE
                && let Some(e) = rest.next()
            {
                w.endpoints.push(e);
            }
        }
        let rest: Vec<Endpoint> = rest.collect();
        for chunk in rest.chunks(MAX_ENDPOINTS_PER_SLICE) {
            working.push(Working {
                base: None,
                ports: ports.clone(),
                key: key.clone(),
                endpoints: chunk.to_vec(),
                placeholder: false,
            });
        }
    }
    if total == 0 && !working.iter().any(|w| w.placeholder) {
        working.push(Working {
            base: None,
            ports: Vec::new(),
            key: Vec::new(),
            endpoints: Vec::new(),
            placeholder: true,
        });
    }
    for mut w in working {
        if w.endpoints.is_empty() && !w.placeholder {
            doomed.extend(w.base);
            continue;
        }
        w.endpoints.sort_by_key(target_name);
        let owners = Some(vec![meta.owner.clone()]);
        match w.base {
            Some(base) => {
                let same = base.endpoints == w.endpoints
                    && base.ports.clone().unwrap_or_default() == w.ports
                    && base.metadata.labels.as_ref() == Some(&meta.labels)
                    && base.metadata.owner_references == owners;
                if !same {
                    let mut slice = (*base).clone();
                    slice.endpoints = w.endpoints;
                    slice.ports = Some(w.ports);
                    slice.metadata.labels = Some(meta.labels.clone());
                    slice.metadata.owner_references = owners;
                    plan.update.push(slice);
                }
            }
            None => {
                // As Kubernetes does, a slice about to be deleted becomes the new one.
                let reusable = doomed.iter().position(|d| {
                    d.address_type == "IPv4"
                        && d.owner_references().iter().any(|o| o.uid == meta.owner.uid)
                });
                let mut slice = match reusable {
                    Some(i) => (*doomed.remove(i)).clone(),
                    None => meta.new_slice(),
                };
                slice.endpoints = w.endpoints;
                slice.ports = Some(w.ports);
                slice.metadata.labels = Some(meta.labels.clone());
                slice.metadata.owner_references = owners;
                if reusable.is_some() {
                    plan.update.push(slice);
                } else {
                    plan.create.push(slice);
                }
            }
        }
    }
    plan.delete = doomed.iter().map(|d| d.name_any()).collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn meta() -> SliceMeta {
        SliceMeta {
            service: "web".into(),
            namespace: "default".into(),
            labels: BTreeMap::from([("kubernetes.io/service-name".into(), "web".into())]),
            owner: OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name: "web".into(),
                uid: "u".into(),
                ..Default::default()
            },
        }
    }

    fn endpoint(i: usize) -> Endpoint {
        serde_json::from_value(json!({"addresses": [format!("10.42.0.{i}")],
            "targetRef": {"kind": "Pod", "name": format!("p{i:03}"), "uid": format!("uid{i}")}}))
        .unwrap()
    }

    fn port() -> Vec<EndpointPort> {
        vec![serde_json::from_value(json!({"name": "", "port": 80, "protocol": "TCP"})).unwrap()]
    }

    fn groups(n: usize) -> Groups {
        let mut g = Groups::new();
        if n > 0 {
            g.insert(ports_key(&port()), (port(), (0..n).map(endpoint).collect()));
        }
        g
    }

    fn existing(p: &Plan) -> Vec<Arc<EndpointSlice>> {
        p.create
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut s = s.clone();
                s.metadata.name = Some(format!("web-{i}"));
                Arc::new(s)
            })
            .collect()
    }

    #[test]
    fn splits_at_one_hundred_and_keeps_a_placeholder() {
        let p = plan(&[], groups(250), &meta());
        assert_eq!(p.create.len(), 3);
        assert_eq!(p.create[2].endpoints.len(), 50);
        let again = plan(&existing(&p), groups(250), &meta());
        assert!(again.create.is_empty() && again.update.is_empty() && again.delete.is_empty());

        let emptied = plan(&existing(&p), groups(0), &meta());
        assert_eq!(emptied.update.len(), 1, "one slice becomes the placeholder");
        assert!(emptied.update[0].endpoints.is_empty());
        assert_eq!(emptied.delete.len(), 2);

        let none = plan(&[], groups(0), &meta());
        assert_eq!(none.create.len(), 1);
        assert_eq!(none.create[0].ports, Some(vec![]));
    }

    #[test]
    fn the_placeholder_becomes_the_first_slice() {
        let none = plan(&[], groups(0), &meta());
        let first = plan(&existing(&none), groups(3), &meta());
        assert!(
            first.create.is_empty() && first.delete.is_empty(),
            "{first:?}"
        );
        assert_eq!(first.update.len(), 1);
        assert_eq!(first.update[0].name_any(), "web-0");
        assert_eq!(first.update[0].endpoints.len(), 3);
    }

    #[test]
    fn new_endpoints_fill_free_room() {
        let p = plan(&[], groups(150), &meta());
        let grown = plan(&existing(&p), groups(160), &meta());
        assert!(grown.create.is_empty());
        assert_eq!(grown.update.len(), 1);
        assert_eq!(grown.update[0].endpoints.len(), 60);
    }
}
