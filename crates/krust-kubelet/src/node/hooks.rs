//! Lifecycle hooks and killing a container, the kubelet's `lifecycle/handlers.go` and
//! `kuberuntime_container.go` (`killContainer`): postStart runs right after the container
//! started and, when it fails, a `FailedPostStartHook` Event is recorded and the container
//! killed; preStop runs before the stop signal, within the grace period (what it uses is
//! taken from the grace left to the signal, at least 2 seconds), with a
//! `FailedPreStopHook` Event when it fails.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};

use super::Shared;
use super::probes::{self, Action, Outcome, Target};

/// How long a postStart hook may run.
const POST_START_TIMEOUT: Duration = Duration::from_secs(120);
/// The least grace the stop signal gets after a preStop hook.
const MINIMUM_GRACE: Duration = Duration::from_secs(2);

/// Where the container runs: its runtime id, its pod's address and its Events' field path.
pub struct Running<'a> {
    pub id: &'a str,
    pub pod_ip: Option<&'a str>,
    pub field: String,
}

/// Runs the container's postStart hook, if any; `Err` with the Event's message on failure
/// (the Event is recorded).
pub async fn post_start(
    shared: &Shared,
    pod: &Pod,
    c: &Container,
    at: &Running<'_>,
) -> Result<(), String> {
    let Some(handler) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) else {
        return Ok(());
    };
    let result = run(shared, pod, c, at, handler, POST_START_TIMEOUT).await;
    if let Err(message) = &result {
        shared.events.pod_warning(
            pod,
            &shared.name,
            Some(at.field.clone()),
            "FailedPostStartHook",
            message.clone(),
        );
    }
    result
}

/// The kubelet's killContainer: a `Killing` Event with `message`, the preStop hook within
/// `grace`, then the stop signal with the grace left (SIGKILL after it).
pub async fn kill(
    shared: &Shared,
    pod: &Pod,
    c: Option<&Container>,
    at: &Running<'_>,
    grace: Duration,
    message: String,
) {
    shared.events.pod(
        pod,
        &shared.name,
        Some(at.field.clone()),
        "Killing",
        message,
    );
    let mut left = grace;
    let pre_stop = c.and_then(|c| Some((c, c.lifecycle.as_ref()?.pre_stop.as_ref()?)));
    if let Some((c, handler)) = pre_stop
        && !grace.is_zero()
    {
        let began = Instant::now();
        if let Err(message) = run(shared, pod, c, at, handler, grace).await {
            shared.events.pod_warning(
                pod,
                &shared.name,
                Some(at.field.clone()),
                "FailedPreStopHook",
                message,
            );
        }
        left = grace.saturating_sub(began.elapsed()).max(MINIMUM_GRACE);
    }
    if let Err(e) = shared.runtime.stop_container(at.id, left).await {
        tracing::warn!(container = %at.id, error = %e, "stopping a container");
    }
}

/// Runs one hook handler; the error is the kubelet's message for it.
async fn run(
    shared: &Shared,
    pod: &Pod,
    c: &Container,
    at: &Running<'_>,
    handler: &LifecycleHandler,
    timeout: Duration,
) -> Result<(), String> {
    let action = Action::of_handler(handler);
    let target = Target {
        runtime: &shared.runtime,
        id: at.id,
        container: c,
        pod_ip: at.pod_ip,
    };
    let error = match probes::run(&action, &target, timeout).await {
        Outcome::Success(_) => return Ok(()),
        Outcome::Failure(e) => e,
    };
    let who = format!(
        "Container {:?} in Pod \"{}_{}({})\"",
        c.name,
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default()
    );
    Err(match &action {
        Action::Exec(command) => {
            format!("Exec lifecycle hook ({command:?}) for {who} failed - error: {error}")
        }
        Action::Http(h) => format!(
            "HTTP lifecycle hook ({}) for {who} failed - error: {error}",
            h.path.as_deref().unwrap_or("/")
        ),
        _ => format!("Lifecycle hook for {who} failed - error: {error}"),
    })
}
