use k8s_openapi::api::core::v1::ResourceRequirements;

use super::super::testing;
use super::*;

fn container(name: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
    let list = |l: &[(&str, &str)]| (!l.is_empty()).then(|| testing::resources(l));
    Container {
        name: name.into(),
        resources: Some(ResourceRequirements {
            requests: list(requests),
            limits: list(limits),
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    }
}

const FULL: &[(&str, &str)] = &[("cpu", "500m"), ("memory", "128Mi")];

#[test]
fn a_pod_without_requests_or_limits_is_best_effort() {
    let pod = testing::pod(vec![container("a", &[], &[])]);
    assert_eq!(qos_class(&pod), QosClass::BestEffort);
    assert_eq!(cgroup_parent(&pod), "kubepods/besteffort/poduid-1");
    assert_eq!(pod_resources(&pod).cpu_shares, Some(2));
    assert_eq!(pod_resources(&pod).memory_limit, None);
}

#[test]
fn limits_equal_to_requests_on_every_container_are_guaranteed() {
    let pod = testing::pod(vec![container("a", FULL, FULL), container("b", &[], FULL)]);
    assert_eq!(qos_class(&pod), QosClass::Guaranteed);
    assert_eq!(cgroup_parent(&pod), "kubepods/poduid-1");
    assert_eq!(
        pod_resources(&pod),
        Resources {
            cpu_shares: Some(1024),
            cpu_quota: Some(100_000),
            cpu_period: Some(100_000),
            memory_limit: Some(256 << 20),
            pids_limit: None,
        }
    );
}

#[test]
fn requests_below_limits_or_a_missing_limit_are_burstable() {
    let pod = testing::pod(vec![container("a", &[("cpu", "100m")], FULL)]);
    assert_eq!(qos_class(&pod), QosClass::Burstable);
    let pod = testing::pod(vec![container("a", FULL, FULL), container("b", &[], &[])]);
    assert_eq!(qos_class(&pod), QosClass::Burstable);
    assert_eq!(cgroup_parent(&pod), "kubepods/burstable/poduid-1");
    let r = pod_resources(&pod);
    assert_eq!(r.cpu_shares, Some(512));
    assert_eq!((r.cpu_quota, r.memory_limit), (None, None));
    let pod = testing::pod(vec![container("a", &[("memory", "1Gi")], &[])]);
    assert_eq!(qos_class(&pod), QosClass::Burstable);
    assert_eq!(QosClass::Burstable.as_str(), "Burstable");
}

#[test]
fn a_zero_quantity_counts_as_unset() {
    let pod = testing::pod(vec![container("a", &[("cpu", "0")], &[])]);
    assert_eq!(qos_class(&pod), QosClass::BestEffort);
}

#[test]
fn container_shares_come_from_requests_and_quota_from_limits() {
    let r = container_resources(&container(
        "a",
        &[("cpu", "250m")],
        &[("cpu", "1500m"), ("memory", "64Mi")],
    ));
    assert_eq!(r.cpu_shares, Some(256));
    assert_eq!(r.cpu_quota, Some(150_000));
    assert_eq!(r.cpu_period, Some(100_000));
    assert_eq!(r.memory_limit, Some(64 << 20));
    let r = container_resources(&container("a", &[], &[]));
    assert_eq!(
        (r.cpu_shares, r.cpu_quota, r.memory_limit),
        (Some(2), None, None)
    );
    let r = container_resources(&container("a", &[], &[("cpu", "2")]));
    assert_eq!(r.cpu_shares, Some(2048));
}

#[test]
fn shares_and_quota_are_clamped_as_the_kubelet_clamps_them() {
    assert_eq!(milli_cpu_to_shares(0), 2);
    assert_eq!(milli_cpu_to_shares(1), 2);
    assert_eq!(milli_cpu_to_shares(1_000_000), 262_144);
    assert_eq!(milli_cpu_to_quota(0, 100_000), 0);
    assert_eq!(milli_cpu_to_quota(5, 100_000), 1_000);
}

#[test]
fn an_init_container_bigger_than_the_rest_sets_the_pod_totals() {
    let mut pod = testing::pod(vec![container("a", FULL, FULL)]);
    let big = &[("cpu", "2"), ("memory", "1Gi")];
    let mut sidecar = container("side", FULL, FULL);
    sidecar.restart_policy = Some("Always".into());
    pod.spec.as_mut().unwrap().init_containers = Some(vec![sidecar, container("init", big, big)]);
    assert_eq!(qos_class(&pod), QosClass::Guaranteed);
    let r = pod_resources(&pod);
    // max(a + side, side + init) = 2.5 cores, 1Gi + 128Mi.
    assert_eq!(r.cpu_quota, Some(250_000));
    assert_eq!(r.memory_limit, Some((1 << 30) + (128 << 20)));
}
