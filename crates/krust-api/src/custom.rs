//! Custom resources (apiextensions.k8s.io): what a CustomResourceDefinition makes the
//! server serve, as kube-apiserver's apiextensions-apiserver does.
//!
//! A definition becomes one entry of the resource table per served version
//! ([`definition::resources`]), so discovery, OpenAPI, routing, storage keys and printing
//! derive from it as from the built-in kinds. Its objects are checked against the
//! version's structural schema ([`structural`]) and printed by its printer columns
//! ([`columns`]).

pub mod columns;
pub mod definition;
pub mod jsonpath;
pub mod structural;

use serde_json::Value;

/// What a custom resource's version adds to its entry in the resource table.
#[derive(Debug, PartialEq)]
pub struct Custom {
    /// The CustomResourceDefinition's name (`crontabs.stable.example.com`).
    pub definition: String,
    /// The version objects are stored at. Objects are converted between versions by their
    /// `apiVersion` alone (conversion strategy `None`).
    pub storage_version: String,
    /// The version's `schema.openAPIV3Schema`.
    pub schema: Value,
    /// The version's printer columns, `Name` first.
    pub columns: Vec<columns::Column>,
    /// The version's scale subresource, if it has one.
    pub scale: Option<Scale>,
    /// Whether the definition is being deleted: its objects are read and deleted, no
    /// longer created.
    pub terminating: bool,
}

/// A scale subresource's paths (`spec.versions[].subresources.scale`).
#[derive(Debug, PartialEq)]
pub struct Scale {
    /// `.spec.replicas`: the desired replicas.
    pub spec_replicas: String,
    /// `.status.replicas`: the observed replicas.
    pub status_replicas: String,
    /// `.status.selector`: the label selector (as a string), if given.
    pub label_selector: Option<String>,
}
