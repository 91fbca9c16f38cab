use k8s_openapi::api::core::v1::{
    ConfigMapEnvSource, ConfigMapKeySelector, EnvFromSource, EnvVar, EnvVarSource,
    ObjectFieldSelector, SecretEnvSource, SecretKeySelector,
};

use super::super::context::ObjectMap;
use super::super::testing::{self, Node};
use super::*;

fn value(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn from(name: &str, source: EnvVarSource) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(source),
    }
}

fn cm_key(name: &str, key: &str, optional: Option<bool>) -> EnvVarSource {
    EnvVarSource {
        config_map_key_ref: Some(ConfigMapKeySelector {
            name: name.into(),
            key: key.into(),
            optional,
        }),
        ..EnvVarSource::default()
    }
}

fn secret_key(name: &str, key: &str, optional: Option<bool>) -> EnvVarSource {
    EnvVarSource {
        secret_key_ref: Some(SecretKeySelector {
            name: name.into(),
            key: key.into(),
            optional,
        }),
        ..EnvVarSource::default()
    }
}

fn resolve(container: Container, objects: &ObjectMap) -> Result<ResolvedEnv, ConfigError> {
    let pod = testing::pod(vec![container.clone()]);
    let node = Node::default();
    container_env(&node.context(&pod, objects), &container)
}

fn names(env: &ResolvedEnv) -> Vec<(&str, &str)> {
    env.vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn env_from_comes_first_then_env_entries_override_in_place() {
    let mut objects = ObjectMap::default();
    objects.add_config_map(testing::config_map("cfg", &[("A", "1"), ("B", "2")]));
    objects.add_secret(testing::secret("sec", &[("TOKEN", "s3cr3t")]));
    let container = Container {
        env_from: Some(vec![
            EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: "cfg".into(),
                    optional: None,
                }),
                ..EnvFromSource::default()
            },
            EnvFromSource {
                prefix: Some("S_".into()),
                secret_ref: Some(SecretEnvSource {
                    name: "sec".into(),
                    optional: None,
                }),
                ..EnvFromSource::default()
            },
        ]),
        env: Some(vec![value("A", "one"), value("C", "$(B)-$(S_TOKEN)-$(D)")]),
        ..testing::container()
    };
    let env = resolve(container, &objects).unwrap();
    assert_eq!(
        names(&env),
        [
            ("A", "one"),
            ("B", "2"),
            ("S_TOKEN", "s3cr3t"),
            ("C", "2-s3cr3t-$(D)")
        ]
    );
}

#[test]
fn env_from_skips_invalid_keys_with_the_kubelet_warning() {
    let mut objects = ObjectMap::default();
    objects.add_config_map(testing::config_map("cfg", &[("OK", "1"), ("a=b", "2")]));
    let container = Container {
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: "cfg".into(),
                optional: None,
            }),
            ..EnvFromSource::default()
        }]),
        ..testing::container()
    };
    let env = resolve(container, &objects).unwrap();
    assert_eq!(names(&env), [("OK", "1")]);
    assert_eq!(
        env.warnings,
        [
            "Keys [a=b] from the EnvFrom configMap prod/cfg were skipped since they are considered invalid environment variable names."
        ]
    );
}

#[test]
fn a_missing_config_map_is_a_config_error_unless_optional() {
    let objects = ObjectMap::default();
    let container = Container {
        env: Some(vec![from("X", cm_key("absent", "k", None))]),
        ..testing::container()
    };
    let err = resolve(container, &objects).unwrap_err();
    assert_eq!(err.to_string(), "configmap \"absent\" not found");
    let container = Container {
        env: Some(vec![from("X", cm_key("absent", "k", Some(true)))]),
        ..testing::container()
    };
    assert!(resolve(container, &objects).unwrap().vars.is_empty());
}

#[test]
fn a_missing_key_names_the_namespace_and_object() {
    let mut objects = ObjectMap::default();
    objects.add_config_map(testing::config_map("cfg", &[("a", "1")]));
    objects.add_secret(testing::secret("sec", &[("a", "1")]));
    let container = Container {
        env: Some(vec![from("X", cm_key("cfg", "k", None))]),
        ..testing::container()
    };
    let err = resolve(container, &objects).unwrap_err();
    assert_eq!(err.to_string(), "couldn't find key k in ConfigMap prod/cfg");
    let container = Container {
        env: Some(vec![from("X", secret_key("sec", "k", None))]),
        ..testing::container()
    };
    let err = resolve(container, &objects).unwrap_err();
    assert_eq!(err.to_string(), "couldn't find key k in Secret prod/sec");
    let container = Container {
        env: Some(vec![
            from("X", secret_key("sec", "k", Some(true))),
            from("Y", secret_key("sec", "a", None)),
        ]),
        ..testing::container()
    };
    assert_eq!(names(&resolve(container, &objects).unwrap()), [("Y", "1")]);
}

#[test]
fn a_missing_secret_is_a_config_error() {
    let container = Container {
        env_from: Some(vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: "s".into(),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        }]),
        ..testing::container()
    };
    let err = resolve(container, &ObjectMap::default()).unwrap_err();
    assert_eq!(err.to_string(), "secret \"s\" not found");
}

#[test]
fn field_refs_read_the_pod_and_values_from_sources_are_not_expanded() {
    let mut objects = ObjectMap::default();
    objects.add_config_map(testing::config_map("cfg", &[("k", "$(POD)")]));
    let field = |path: &str| EnvVarSource {
        field_ref: Some(ObjectFieldSelector {
            field_path: path.into(),
            api_version: Some("v1".into()),
        }),
        ..EnvVarSource::default()
    };
    let container = Container {
        env: Some(vec![
            from("POD", field("metadata.name")),
            from("IP", field("status.podIP")),
            from("RAW", cm_key("cfg", "k", None)),
            value("BOTH", "$(POD)@$(IP)"),
        ]),
        ..testing::container()
    };
    let env = resolve(container, &objects).unwrap();
    assert_eq!(
        names(&env),
        [
            ("POD", "web"),
            ("IP", "10.42.0.7"),
            ("RAW", "$(POD)"),
            ("BOTH", "web@10.42.0.7")
        ]
    );
}

#[test]
fn the_image_env_comes_first_and_the_pod_overrides_it_in_place() {
    let image = ["PATH=/bin".to_string(), "LANG=C".to_string()];
    let vars = [
        ("LANG".to_string(), "en".to_string()),
        ("X".to_string(), "1".to_string()),
    ];
    assert_eq!(
        merge_with_image(&image, &vars),
        ["PATH=/bin", "LANG=en", "X=1"]
    );
}
