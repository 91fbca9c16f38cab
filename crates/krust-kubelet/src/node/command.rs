//! The process a container runs: the pod's `command`/`args` against the image's
//! `Entrypoint`/`Cmd` (as containerd's CRI plugin combines them), after the kubelet's
//! `ExpandContainerCommandAndArgs` expanded `$(VAR)` references with the container's env.

use k8s_openapi::api::core::v1::Container;
use krust_image::oci::RunConfig;

use super::expansion::{expand, lookup_in};

/// The argv of `container`: `env` is the environment the kubelet resolved (the image's env
/// is not visible to `$(VAR)` expansion, as in Kubernetes).
///
/// - neither command nor args: the image's entrypoint and cmd;
/// - command only: the command (the image's cmd is dropped);
/// - args only: the image's entrypoint with the args;
/// - both: the command with the args.
pub fn argv(container: &Container, image: &RunConfig, env: &[(String, String)]) -> Vec<String> {
    let lookup = lookup_in(env);
    let expand_all =
        |v: &Vec<String>| -> Vec<String> { v.iter().map(|s| expand(s, &lookup)).collect() };
    let command = container.command.as_ref().filter(|c| !c.is_empty());
    let args = container.args.as_ref().filter(|a| !a.is_empty());
    let entrypoint = image.entrypoint.clone().unwrap_or_default();
    let cmd = image.cmd.clone().unwrap_or_default();
    match (command, args) {
        (None, None) => entrypoint.into_iter().chain(cmd).collect(),
        (Some(c), None) => expand_all(c),
        (None, Some(a)) => entrypoint.into_iter().chain(expand_all(a)).collect(),
        (Some(c), Some(a)) => expand_all(c).into_iter().chain(expand_all(a)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> RunConfig {
        RunConfig {
            entrypoint: Some(vec!["/entry".into()]),
            cmd: Some(vec!["default".into()]),
            ..RunConfig::default()
        }
    }

    fn container(command: Option<&[&str]>, args: Option<&[&str]>) -> Container {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Container {
            name: "c".into(),
            command: command.map(own),
            args: args.map(own),
            ..Container::default()
        }
    }

    #[test]
    fn without_command_or_args_the_image_entrypoint_and_cmd_run() {
        assert_eq!(
            argv(&container(None, None), &image(), &[]),
            ["/entry", "default"]
        );
    }

    #[test]
    fn a_command_alone_replaces_entrypoint_and_cmd() {
        let c = container(Some(&["/bin/sh"]), None);
        assert_eq!(argv(&c, &image(), &[]), ["/bin/sh"]);
    }

    #[test]
    fn args_alone_follow_the_image_entrypoint() {
        let c = container(None, Some(&["-v"]));
        assert_eq!(argv(&c, &image(), &[]), ["/entry", "-v"]);
    }

    #[test]
    fn command_and_args_ignore_the_image() {
        let c = container(Some(&["/bin/sh"]), Some(&["-c", "true"]));
        assert_eq!(argv(&c, &image(), &[]), ["/bin/sh", "-c", "true"]);
    }

    #[test]
    fn references_in_command_and_args_are_expanded_from_the_container_env() {
        let c = container(Some(&["echo", "$(GREETING)"]), Some(&["$(WHO)", "$$(WHO)"]));
        let env = vec![("GREETING".to_string(), "hello".to_string())];
        assert_eq!(
            argv(&c, &image(), &env),
            ["echo", "hello", "$(WHO)", "$(WHO)"]
        );
    }

    #[test]
    fn the_image_entrypoint_and_cmd_are_not_expanded() {
        let image = RunConfig {
            entrypoint: Some(vec!["$(X)".into()]),
            ..RunConfig::default()
        };
        let env = vec![("X".to_string(), "x".to_string())];
        assert_eq!(argv(&container(None, None), &image, &env), ["$(X)"]);
    }
}
