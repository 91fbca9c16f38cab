//! The usages a kubelet may ask for (`kubelet.go`'s `KeyUsages` and the approver's
//! `kubeletClientUsages`/`kubeletServingUsages` checks).

/// Whether `usages` are only from `allowed` and name each of `required`.
pub(crate) fn fits(usages: &[String], required: &[&str], allowed: &[&str]) -> bool {
    usages.iter().all(|u| allowed.contains(&u.as_str()))
        && required.iter().all(|r| usages.iter().any(|u| u == r))
}

/// A kubelet client certificate: `client auth` with `digital signature`, and `key
/// encipherment` for RSA keys.
pub(crate) fn kubelet_client(usages: &[String]) -> bool {
    fits(
        usages,
        &["client auth"],
        &["digital signature", "key encipherment", "client auth"],
    )
}

/// A kubelet serving certificate: `server auth` with `digital signature`, and `key
/// encipherment` for RSA keys.
pub(crate) fn kubelet_serving(usages: &[String]) -> bool {
    fits(
        usages,
        &["server auth"],
        &["digital signature", "key encipherment", "server auth"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(u: &[&str]) -> Vec<String> {
        u.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn kubelet_usages_are_client_or_server_auth_with_signing() {
        assert!(kubelet_client(&v(&["digital signature", "client auth"])));
        assert!(kubelet_client(&v(&[
            "key encipherment",
            "digital signature",
            "client auth"
        ])));
        assert!(!kubelet_client(&v(&[
            "digital signature",
            "client auth",
            "server auth"
        ])));
        assert!(!kubelet_client(&v(&["digital signature"])));
        assert!(kubelet_serving(&v(&["digital signature", "server auth"])));
        assert!(!kubelet_serving(&v(&["digital signature", "client auth"])));
    }
}
