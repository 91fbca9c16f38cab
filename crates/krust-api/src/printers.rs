//! Server-side Table printing (`as=Table`), as the real kube-apiserver does it with
//! the printers of `kubernetes/pkg/printers/internalversion`: the same column names,
//! types, formats, descriptions and priorities (priority 1 = `-o wide`), and the same
//! cell formatting.
//!
//! The API server always prints the wide form; kubectl hides priority-1 columns unless
//! `-o wide`. So [`cells`] always returns one cell per column of [`columns`].
//! Resources without a printer get the default `Name`, `Created At` table.

mod certificates;
mod cluster;
mod config;
pub(crate) mod docs;
mod events;
mod networking;
mod pods;
mod services;
mod util;
mod workloads;

#[cfg(test)]
mod certificates_tests;
#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod default_tests;
#[cfg(test)]
mod events_tests;
#[cfg(test)]
mod networking_tests;
#[cfg(test)]
mod pods_tests;
#[cfg(test)]
mod services_tests;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod util_tests;
#[cfg(test)]
mod workloads_tests;

use jiff::Timestamp;
use serde_json::Value;

use util::{NAME_COL, get, name_cell, parse_time};
pub use util::{age, human_duration};

/// One column definition of a Table (`metav1.TableColumnDefinition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The column name, e.g. `"Ready"`; kubectl prints it upper-cased.
    pub name: &'static str,
    /// The column's `type`: `"string"`, `"integer"`, `"boolean"`, `"date"`, …
    pub kind: &'static str,
    /// The column's `format`: `"name"` for the object name column, else `""`.
    pub format: &'static str,
    /// The column's `description` (the documentation of the field it shows).
    pub description: &'static str,
    /// 0 for the default columns, 1 for the `-o wide` ones.
    pub priority: u8,
}

impl Column {
    /// The column as a `TableColumnDefinition` JSON object.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// The columns of the default table convertor, for resources without a printer.
const DEFAULT_COLUMNS: &[Column] = &[
    NAME_COL,
    Column {
        name: "Created At",
        kind: "date",
        format: "",
        description: docs::CREATION_TIMESTAMP,
        priority: 0,
    },
];

/// Which printer prints a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printer {
    Pod,
    Node,
    Namespace,
    Lease,
    CertificateSigningRequest,
    NetworkPolicy,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
    Service,
    Endpoints,
    EndpointSlice,
    Event,
    ConfigMap,
    Secret,
    ServiceAccount,
    Default,
}

fn printer(group: &str, resource: &str) -> Printer {
    match (group, resource) {
        ("", "pods") => Printer::Pod,
        ("", "nodes") => Printer::Node,
        ("", "namespaces") => Printer::Namespace,
        ("coordination.k8s.io", "leases") => Printer::Lease,
        ("certificates.k8s.io", "certificatesigningrequests") => Printer::CertificateSigningRequest,
        ("networking.k8s.io", "networkpolicies") => Printer::NetworkPolicy,
        ("apps", "deployments") => Printer::Deployment,
        ("apps", "replicasets") => Printer::ReplicaSet,
        ("apps", "statefulsets") => Printer::StatefulSet,
        ("apps", "daemonsets") => Printer::DaemonSet,
        ("batch", "jobs") => Printer::Job,
        ("batch", "cronjobs") => Printer::CronJob,
        ("", "replicationcontrollers") => Printer::ReplicationController,
        ("", "services") => Printer::Service,
        ("", "endpoints") => Printer::Endpoints,
        ("discovery.k8s.io", "endpointslices") => Printer::EndpointSlice,
        ("" | "events.k8s.io", "events") => Printer::Event,
        ("", "configmaps") => Printer::ConfigMap,
        ("", "secrets") => Printer::Secret,
        ("", "serviceaccounts") => Printer::ServiceAccount,
        _ => Printer::Default,
    }
}

/// The columns for a resource, by API group (`""` for core, `"apps"`,
/// `"events.k8s.io"`, …) and plural resource name (`"pods"`, `"deployments"`, …).
pub fn columns(group: &str, resource: &str) -> &'static [Column] {
    match printer(group, resource) {
        Printer::Pod => pods::COLUMNS,
        Printer::Node => cluster::NODE_COLUMNS,
        Printer::Namespace => cluster::NAMESPACE_COLUMNS,
        Printer::Lease => cluster::LEASE_COLUMNS,
        Printer::CertificateSigningRequest => certificates::CSR_COLUMNS,
        Printer::NetworkPolicy => networking::NETWORK_POLICY_COLUMNS,
        Printer::Deployment => workloads::DEPLOYMENT_COLUMNS,
        Printer::ReplicaSet => workloads::REPLICASET_COLUMNS,
        Printer::StatefulSet => workloads::STATEFULSET_COLUMNS,
        Printer::DaemonSet => workloads::DAEMONSET_COLUMNS,
        Printer::Job => workloads::JOB_COLUMNS,
        Printer::CronJob => workloads::CRONJOB_COLUMNS,
        Printer::ReplicationController => workloads::RC_COLUMNS,
        Printer::Service => services::SERVICE_COLUMNS,
        Printer::Endpoints => services::ENDPOINTS_COLUMNS,
        Printer::EndpointSlice => services::SLICE_COLUMNS,
        Printer::Event => events::COLUMNS,
        Printer::ConfigMap => config::CONFIGMAP_COLUMNS,
        Printer::Secret => config::SECRET_COLUMNS,
        Printer::ServiceAccount => config::SERVICEACCOUNT_COLUMNS,
        Printer::Default => DEFAULT_COLUMNS,
    }
}

/// The cells of one row for an object of the resource, in the order of [`columns`]
/// (wide columns included). Ages are relative to `now`.
pub fn cells(group: &str, resource: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    match printer(group, resource) {
        Printer::Pod => pods::cells(obj, now),
        Printer::Node => cluster::node_cells(obj, now),
        Printer::Namespace => cluster::namespace_cells(obj, now),
        Printer::Lease => cluster::lease_cells(obj, now),
        Printer::CertificateSigningRequest => certificates::csr_cells(obj, now),
        Printer::NetworkPolicy => networking::network_policy_cells(obj, now),
        Printer::Deployment => workloads::deployment_cells(obj, now),
        Printer::ReplicaSet => workloads::replicaset_cells(obj, now),
        Printer::StatefulSet => workloads::statefulset_cells(obj, now),
        Printer::DaemonSet => workloads::daemonset_cells(obj, now),
        Printer::Job => workloads::job_cells(obj, now),
        Printer::CronJob => workloads::cronjob_cells(obj, now),
        Printer::ReplicationController => workloads::rc_cells(obj, now),
        Printer::Service => services::service_cells(obj, now),
        Printer::Endpoints => services::endpoints_cells(obj, now),
        Printer::EndpointSlice => services::slice_cells(obj, now),
        Printer::Event => events::cells(obj, now),
        Printer::ConfigMap => config::configmap_cells(obj, now),
        Printer::Secret => config::secret_cells(obj, now),
        Printer::ServiceAccount => config::serviceaccount_cells(obj, now),
        Printer::Default => default_cells(obj),
    }
}

/// The default table convertor's row: the name and the creation time in RFC 3339
/// (UTC, whole seconds; Go's zero time when absent).
fn default_cells(obj: &Value) -> Vec<Value> {
    let created = parse_time(get(obj, "metadata.creationTimestamp").and_then(Value::as_str))
        .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
    vec![name_cell(obj), Value::from(created)]
}
