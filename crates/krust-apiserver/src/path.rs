//! Parsing resource paths: `/api/v1/namespaces/default/pods/nginx/status` and friends.

use crate::custom::CustomResources;
use krust_api::resources::{self, Resource, Subresource};
use krust_api::status::ApiError;

/// What a resource path names.
#[derive(Debug)]
pub struct Target {
    pub resource: &'static Resource,
    /// The namespace from the path (namespaced resources only).
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<&'static Subresource>,
}

/// The 404 for paths that name nothing served.
pub fn not_found() -> ApiError {
    let mut e = ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    );
    e.name = None;
    e
}

/// Parses a path under `/api/v1` or `/apis/<group>/<version>`, of a built-in resource or
/// one of `custom`.
pub fn parse(path: &str, custom: &CustomResources) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found()),
    };
    let find = |plural: &str| {
        resources::find(group, version, plural)
            .or_else(|| custom.find(group, version, plural))
            .ok_or_else(not_found)
    };
    let sub = |r: &'static Resource, s: &str| r.subresource(s).ok_or_else(not_found);
    let namespaced =
        |ns: &str, r: &'static Resource, name: Option<&str>, s: Option<&'static Subresource>| {
            if !r.namespaced {
                return Err(not_found());
            }
            Ok(Target {
                resource: r,
                namespace: Some(ns.to_string()),
                name: name.map(String::from),
                subresource: s,
            })
        };
    let cluster =
        |r: &'static Resource, name: Option<&str>, s: Option<&'static Subresource>| Target {
            resource: r,
            namespace: None,
            name: name.map(String::from),
            subresource: s,
        };
    match rest {
        [plural] => Ok(cluster(find(plural)?, None, None)),
        [plural, name] => {
            let r = find(plural)?;
            if r.namespaced {
                return Err(not_found());
            }
            Ok(cluster(r, Some(name), None))
        }
        ["namespaces", ns, third] => {
            let namespaces = resources::find("", "v1", "namespaces").filter(|_| group.is_empty());
            match namespaces.and_then(|n| n.subresource(third).map(|s| (n, s))) {
                Some((n, s)) => Ok(cluster(n, Some(ns), Some(s))),
                None => namespaced(ns, find(third)?, None, None),
            }
        }
        [plural, name, s] => {
            let r = find(plural)?;
            if r.namespaced {
                return Err(not_found());
            }
            Ok(cluster(r, Some(name), Some(sub(r, s)?)))
        }
        ["namespaces", ns, plural, name] => namespaced(ns, find(plural)?, Some(name), None),
        ["namespaces", ns, plural, name, s] => {
            let r = find(plural)?;
            namespaced(ns, r, Some(name), Some(sub(r, s)?))
        }
        _ => Err(not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_builtin(path: &str) -> Result<Target, ApiError> {
        parse(path, &CustomResources::default())
    }

    #[test]
    fn paths() {
        let t = parse_builtin("/api/v1/namespaces/default/pods/nginx/status").unwrap();
        assert_eq!(
            (t.resource.plural, t.namespace.as_deref(), t.name.as_deref()),
            ("pods", Some("default"), Some("nginx"))
        );
        assert_eq!(t.subresource.unwrap().name, "status");
        let t = parse_builtin("/api/v1/namespaces/kube-system").unwrap();
        assert_eq!(
            (t.resource.plural, t.name.as_deref()),
            ("namespaces", Some("kube-system"))
        );
        let t = parse_builtin("/api/v1/namespaces/foo/finalize").unwrap();
        assert_eq!(t.subresource.unwrap().name, "finalize");
        let t = parse_builtin("/api/v1/namespaces/foo/configmaps").unwrap();
        assert_eq!((t.resource.plural, t.name), ("configmaps", None));
        let t = parse_builtin("/apis/apps/v1/namespaces/default/deployments").unwrap();
        assert_eq!(
            (t.resource.plural, t.namespace.as_deref()),
            ("deployments", Some("default"))
        );
        let t = parse_builtin("/apis/apps/v1/deployments").unwrap();
        assert!(t.namespace.is_none());
        assert!(parse_builtin("/api/v1/pods/x").is_err());
        assert!(parse_builtin("/apis/apps/v1/namespaces/d/deployments/x/nope").is_err());
        assert!(parse_builtin("/api/v1/nodes/n1/status").is_ok());
    }
}
