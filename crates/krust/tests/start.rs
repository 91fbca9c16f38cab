//! `krust start` as a user other than root: the host cannot be the cluster's node, and the
//! user is told how to start it instead (with sudo, or with simulated nodes); no profile is
//! made.

mod nobody;

#[test]
fn a_start_without_root_says_how_to_start_and_makes_no_profile() {
    let home = tempfile::Builder::new()
        .prefix("krust-start-test")
        .tempdir()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = nobody::krust()
        .args(["start", "-p", "krt-nonroot"])
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "Error: krust start runs this host as the cluster's node, which needs root: \
             run `sudo krust start -p krt-nonroot`, or start simulated nodes (no containers) \
             with `krust start -p krt-nonroot --sim-nodes 3`"
        ),
        "{stderr}"
    );
    assert!(
        !home.path().join(".krust/profiles/krt-nonroot").exists(),
        "a profile was made"
    );
    assert!(
        !home.path().join(".kube/config").exists(),
        "a kubeconfig was written"
    );
}
