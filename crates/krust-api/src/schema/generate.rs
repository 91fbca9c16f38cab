//! Builds the OpenAPI 3 definitions of the served kinds from k8s-openapi's `JsonSchema` impls.

use k8s_openapi::Resource;
use k8s_openapi::api::{
    apps, authentication, authorization, autoscaling, coordination, core, discovery, events,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::schemars::JsonSchema;
use k8s_openapi::schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::REF_PREFIX;
use super::patch_meta::{ATOMIC_LISTS, ATOMIC_MAPS, ATOMIC_STRUCTS, PATCH_META, full_name};

/// A served kind: its group/version/kind, root definition name and whether it has a `...List`.
pub(super) struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: String,
    pub definition: String,
    pub listable: bool,
}

/// Registers `T` with the generator and returns its [`Kind`].
fn kind<T: Resource + JsonSchema>(generator: &mut SchemaGenerator, listable: bool) -> Kind {
    generator.subschema_for::<T>();
    Kind {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND.to_owned(),
        definition: T::schema_name().into_owned(),
        listable,
    }
}

/// Builds every definition, annotated and with `x-kubernetes-group-version-kind` on roots.
pub(super) fn build() -> (Map<String, Value>, Vec<Kind>) {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut kinds = vec![
        kind::<core::v1::Namespace>(&mut generator, true),
        kind::<core::v1::Pod>(&mut generator, true),
        kind::<core::v1::Service>(&mut generator, true),
        kind::<core::v1::Endpoints>(&mut generator, true),
        kind::<core::v1::Node>(&mut generator, true),
        kind::<core::v1::Event>(&mut generator, true),
        kind::<core::v1::ConfigMap>(&mut generator, true),
        kind::<core::v1::Secret>(&mut generator, true),
        kind::<core::v1::ServiceAccount>(&mut generator, true),
        kind::<core::v1::Binding>(&mut generator, false),
        kind::<apps::v1::Deployment>(&mut generator, true),
        kind::<apps::v1::ReplicaSet>(&mut generator, true),
        kind::<autoscaling::v1::Scale>(&mut generator, false),
        kind::<authentication::v1::TokenRequest>(&mut generator, false),
        kind::<authentication::v1::TokenReview>(&mut generator, false),
        kind::<authentication::v1::SelfSubjectReview>(&mut generator, false),
        kind::<authorization::v1::SubjectAccessReview>(&mut generator, false),
        kind::<authorization::v1::SelfSubjectAccessReview>(&mut generator, false),
        kind::<authorization::v1::LocalSubjectAccessReview>(&mut generator, false),
        kind::<authorization::v1::SelfSubjectRulesReview>(&mut generator, false),
        kind::<k8s_openapi::api::certificates::v1::CertificateSigningRequest>(&mut generator, true),
        kind::<coordination::v1::Lease>(&mut generator, true),
        kind::<discovery::v1::EndpointSlice>(&mut generator, true),
        kind::<events::v1::Event>(&mut generator, true),
        kind::<k8s_openapi::api::networking::v1::NetworkPolicy>(&mut generator, true),
        kind::<CustomResourceDefinition>(&mut generator, true),
    ];
    // Meta types that are not `Resource`s in k8s-openapi.
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::DeleteOptions>();
    generator.subschema_for::<meta::ListMeta>();
    generator.subschema_for::<meta::APIResourceList>();
    generator.subschema_for::<meta::APIGroupList>();
    generator.subschema_for::<meta::APIVersions>();
    let mut defs = generator.take_definitions(true);

    let mut list_kinds = Vec::new();
    for k in kinds.iter().filter(|k| k.listable) {
        let list_name = format!("{}List", k.definition);
        defs.insert(list_name.clone(), list_schema(k));
        list_kinds.push(Kind {
            group: k.group,
            version: k.version,
            kind: format!("{}List", k.kind),
            definition: list_name,
            listable: false,
        });
    }
    kinds.extend(list_kinds);
    for k in &kinds {
        set_gvk(&mut defs, &k.definition, &[(k.group, k.version, &k.kind)]);
        metadata_optional(&mut defs, &k.definition);
    }
    set_gvk(
        &mut defs,
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        &[("", "v1", "Status")],
    );
    let mut delete_gvks: Vec<(&str, &str, &str)> = Vec::new();
    for k in &kinds {
        if !delete_gvks
            .iter()
            .any(|(g, v, _)| *g == k.group && *v == k.version)
        {
            delete_gvks.push((k.group, k.version, "DeleteOptions"));
        }
    }
    set_gvk(
        &mut defs,
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        &delete_gvks,
    );
    untyped_alternatives(&mut defs);
    annotate(&mut defs);
    (defs, kinds)
}

/// The JSON-schema values that are one of two shapes (`JSONSchemaPropsOrArray`, `…OrBool`,
/// `…OrStringArray`) are published by Kubernetes with a description alone: Swagger 2.0 has no
/// `oneOf`.
fn untyped_alternatives(defs: &mut Map<String, Value>) {
    for (name, def) in defs.iter_mut() {
        if name.starts_with(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOr",
        ) && let Some(def) = def.as_object_mut()
        {
            def.retain(|k, _| k == "description");
        }
    }
}

/// The `<Kind>List` schema Kubernetes publishes for a listable kind.
fn list_schema(k: &Kind) -> Value {
    json!({
        "description": format!("{}List is a list of {} objects.", k.kind, k.kind),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object.",
                "type": "string",
            },
            "items": {
                "description": format!("List of {} objects.", k.kind),
                "type": "array",
                "items": { "$ref": format!("{REF_PREFIX}{}", k.definition) },
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents.",
                "type": "string",
            },
            "metadata": {
                "description": "Standard list metadata.",
                "allOf": [{ "$ref": format!("{REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta") }],
            },
        },
        "required": ["items"],
    })
}

/// k8s-openapi marks `metadata` required on kinds; Kubernetes does not.
fn metadata_optional(defs: &mut Map<String, Value>, name: &str) {
    let Some(Value::Object(def)) = defs.get_mut(name) else {
        return;
    };
    if let Some(Value::Array(required)) = def.get_mut("required") {
        required.retain(|r| r != "metadata");
        if required.is_empty() {
            def.remove("required");
        }
    }
}

fn set_gvk(defs: &mut Map<String, Value>, name: &str, gvks: &[(&str, &str, &str)]) {
    let list: Vec<Value> = gvks
        .iter()
        .map(|(g, v, k)| json!({ "group": g, "version": v, "kind": k }))
        .collect();
    if let Some(Value::Object(def)) = defs.get_mut(name) {
        def.insert("x-kubernetes-group-version-kind".into(), Value::Array(list));
    }
}

/// The property schema `definition.properties.property`, if both exist.
fn property_mut<'a>(
    defs: &'a mut Map<String, Value>,
    definition: &str,
    property: &str,
) -> Option<&'a mut Map<String, Value>> {
    defs.get_mut(&full_name(definition))?
        .get_mut("properties")?
        .get_mut(property)?
        .as_object_mut()
}

/// Merges the checked-in patch metadata into the definitions.
fn annotate(defs: &mut Map<String, Value>) {
    for row in PATCH_META {
        let Some(prop) = property_mut(defs, row.definition, row.property) else {
            continue;
        };
        if let Some(strategy) = row.strategy {
            prop.insert("x-kubernetes-patch-strategy".into(), strategy.into());
        }
        if let Some(key) = row.merge_key {
            prop.insert("x-kubernetes-patch-merge-key".into(), key.into());
        }
        if let Some(list_type) = row.list_type {
            prop.insert("x-kubernetes-list-type".into(), list_type.into());
        }
        if !row.map_keys.is_empty() {
            prop.insert(
                "x-kubernetes-list-map-keys".into(),
                row.map_keys.to_vec().into(),
            );
        }
    }
    for (definition, properties) in ATOMIC_LISTS {
        for property in *properties {
            if let Some(prop) = property_mut(defs, definition, property) {
                prop.insert("x-kubernetes-list-type".into(), "atomic".into());
            }
        }
    }
    for (definition, property) in ATOMIC_MAPS {
        if let Some(prop) = property_mut(defs, definition, property) {
            prop.insert("x-kubernetes-map-type".into(), "atomic".into());
        }
    }
    for definition in ATOMIC_STRUCTS {
        if let Some(Value::Object(def)) = defs.get_mut(&full_name(definition)) {
            def.insert("x-kubernetes-map-type".into(), "atomic".into());
        }
    }
}
