//! The pod sandbox the kubelet asks for (`kuberuntime_sandbox.go`:
//! `generatePodSandboxConfig`): names, hostname, host namespaces, and the pod cgroup with
//! its limits.

use k8s_openapi::api::core::v1::Pod;
use krust_runtime::SandboxSpec;

use super::resources::{cgroup_parent, pod_resources};
use super::volumes::hosts::uts_hostname;

/// The sandbox of `pod` on a node named `node_hostname` in a cluster of `cluster_domain`.
pub fn sandbox_spec(pod: &Pod, node_hostname: &str, cluster_domain: &str) -> SandboxSpec {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let flag = |f: fn(&k8s_openapi::api::core::v1::PodSpec) -> Option<bool>| {
        spec.and_then(f) == Some(true)
    };
    SandboxSpec {
        pod_uid: meta.uid.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        hostname: uts_hostname(pod, node_hostname, cluster_domain),
        host_network: flag(|s| s.host_network),
        host_ipc: flag(|s| s.host_ipc),
        host_pid: flag(|s| s.host_pid),
        cgroup_parent: cgroup_parent(pod),
        resources: pod_resources(pod),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::testing;

    #[test]
    fn a_sandbox_carries_the_pod_names_hostname_and_cgroup() {
        let mut pod = testing::pod(vec![testing::container()]);
        pod.spec.as_mut().unwrap().host_ipc = Some(true);
        let s = sandbox_spec(&pod, "node-1", "cluster.local");
        assert_eq!(
            (s.pod_uid.as_str(), s.namespace.as_str(), s.name.as_str()),
            ("uid-1", "prod", "web")
        );
        assert_eq!(s.hostname, "web");
        assert!(s.host_ipc && !s.host_network && !s.host_pid);
        assert_eq!(s.cgroup_parent, "kubepods/besteffort/poduid-1");
        assert_eq!(s.resources.cpu_shares, Some(2));
    }
}
