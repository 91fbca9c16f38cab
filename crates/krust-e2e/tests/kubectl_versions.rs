//! Every kubectl build on this machine (the `kubectl` dispatcher runs the build matching the
//! server's minor version; it keeps 1.27–1.33 beside it) finds and writes the built-in kinds:
//! older ones ask for `apidiscovery.k8s.io/v2beta1` aggregated discovery.

use krust_e2e::{Cluster, KUBECTL_TIMEOUT, kubectl_bin, run_with_timeout};
use std::path::PathBuf;
use std::process::Command;

/// The versioned kubectl builds beside the dispatcher (`kubectl.1.27`, …), oldest first.
fn kubectl_builds() -> Vec<PathBuf> {
    let bin = kubectl_bin();
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(&bin))
        .find(|p| p.is_file())
        .unwrap_or(bin);
    let real = std::fs::canonicalize(&found).unwrap_or(found);
    let dir = real.parent().expect("kubectl's directory").to_path_buf();
    let mut builds: Vec<(u32, PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let minor = name.strip_prefix("kubectl.1.")?.parse().ok()?;
            Some((minor, e.path()))
        })
        .collect();
    builds.sort();
    builds.into_iter().map(|(_, p)| p).collect()
}

#[test]
fn every_kubectl_build_on_this_machine_creates_lists_and_applies_deployments() {
    let builds = kubectl_builds();
    assert!(
        !builds.is_empty(),
        "no versioned kubectl builds beside {}",
        kubectl_bin().display()
    );
    let c = Cluster::start();
    let manifest = c.write_file(
        "web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: applied}\nspec:\n  selector: {matchLabels: {app: applied}}\n  template:\n    metadata: {labels: {app: applied}}\n    spec: {containers: [{name: c, image: nginx}]}\n",
    );
    for (i, build) in builds.iter().enumerate() {
        let run = |args: &[&str]| {
            let mut cmd = Command::new(build);
            cmd.arg("--kubeconfig")
                .arg(c.kubeconfig())
                .arg("--cache-dir")
                .arg(c.cache_dir().join(format!("build-{i}")))
                .args(args)
                .env_remove("KUBECONFIG");
            let out = run_with_timeout(cmd, KUBECTL_TIMEOUT);
            assert!(
                out.success(),
                "{} {args:?} failed:\n{}",
                build.display(),
                out.stderr
            );
            out.stdout
        };
        let name = format!("web-{i}");
        run(&["create", "deployment", &name, "--image=nginx"]);
        let listed = run(&["get", "deploy", &name, "-o", "name"]);
        assert_eq!(listed.trim(), format!("deployment.apps/{name}"));
        run(&["apply", "-f", manifest.to_str().unwrap()]);
        run(&["delete", "deploy", &name]);
    }
}
