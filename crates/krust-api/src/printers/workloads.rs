//! Printers for workload controllers: deployments, replica sets, stateful sets, daemon
//! sets, jobs, cron jobs and replication controllers.

use jiff::Timestamp;
use serde_json::Value;

use super::Column;
use super::docs;
use super::util::{
    AGE_COL, CONTAINERS_COL, IMAGES_COL, NAME_COL, age_cell, arr_at, col, condition_status, get,
    human_duration, int_at, int_col, layout_containers, len_at, name_cell, obj_at, parse_time,
    present, str_at,
};
use crate::selectors::{LabelSelector, format_label_selector, format_labels};

pub(super) const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME_COL,
    col("Ready", docs::READY_STATE, 0),
    col("Up-to-date", docs::DEPLOYMENT_UPDATED, 0),
    col("Available", docs::DEPLOYMENT_AVAILABLE, 0),
    AGE_COL,
    CONTAINERS_COL,
    IMAGES_COL,
    col("Selector", docs::DEPLOYMENT_SELECTOR, 1),
];

pub(super) const REPLICASET_COLUMNS: &[Column] = &[
    NAME_COL,
    int_col("Desired", docs::RS_DESIRED, 0),
    int_col("Current", docs::RS_CURRENT, 0),
    int_col("Ready", docs::RS_READY, 0),
    AGE_COL,
    CONTAINERS_COL,
    IMAGES_COL,
    col("Selector", docs::RS_SELECTOR, 1),
];

pub(super) const RC_COLUMNS: &[Column] = &[
    NAME_COL,
    int_col("Desired", docs::RC_DESIRED, 0),
    int_col("Current", docs::RC_CURRENT, 0),
    int_col("Ready", docs::RC_READY, 0),
    AGE_COL,
    CONTAINERS_COL,
    IMAGES_COL,
    col("Selector", docs::RC_SELECTOR, 1),
];

pub(super) const STATEFULSET_COLUMNS: &[Column] = &[
    NAME_COL,
    col("Ready", docs::READY_STATE, 0),
    AGE_COL,
    CONTAINERS_COL,
    IMAGES_COL,
];

pub(super) const DAEMONSET_COLUMNS: &[Column] = &[
    NAME_COL,
    int_col("Desired", docs::DS_DESIRED, 0),
    int_col("Current", docs::DS_CURRENT, 0),
    int_col("Ready", docs::DS_READY, 0),
    int_col("Up-to-date", docs::DS_UPDATED, 0),
    int_col("Available", docs::DS_AVAILABLE, 0),
    col("Node Selector", docs::POD_NODE_SELECTOR, 0),
    AGE_COL,
    CONTAINERS_COL,
    IMAGES_COL,
    col("Selector", docs::DS_SELECTOR, 1),
];

pub(super) const JOB_COLUMNS: &[Column] = &[
    NAME_COL,
    col("Status", docs::JOB_STATUS, 0),
    col("Completions", docs::JOB_COMPLETIONS, 0),
    col("Duration", docs::JOB_DURATION, 0),
    AGE_COL,
    CONTAINERS_COL,
    IMAGES_COL,
    col("Selector", docs::JOB_SELECTOR, 1),
];

pub(super) const CRONJOB_COLUMNS: &[Column] = &[
    NAME_COL,
    col("Schedule", docs::CRON_SCHEDULE, 0),
    col("Timezone", docs::CRON_TIMEZONE, 0),
    Column {
        name: "Suspend",
        kind: "boolean",
        format: "",
        description: docs::CRON_SUSPEND,
        priority: 0,
    },
    int_col("Active", docs::CRON_ACTIVE, 0),
    col("Last Schedule", docs::CRON_LAST_SCHEDULE, 0),
    AGE_COL,
    CONTAINERS_COL,
    IMAGES_COL,
    col("Selector", docs::JOB_SELECTOR, 1),
];

/// `spec.replicas`, defaulted to 1 as the API server defaults it.
fn desired(obj: &Value) -> i64 {
    get(obj, "spec.replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// The container names and images of the pod template at `template`.
fn containers(obj: &Value, template: &str) -> [Value; 2] {
    let (names, images) = layout_containers(arr_at(obj, &format!("{template}.spec.containers")));
    [Value::from(names), Value::from(images)]
}

fn selector_at(obj: &Value, path: &str) -> Value {
    Value::from(format_label_selector(
        get(obj, path).unwrap_or(&Value::Null),
    ))
}

pub(super) fn deployment_cells(d: &Value, now: Timestamp) -> Vec<Value> {
    // printDeployment uses LabelSelectorAsSelector directly: "" for none, "<invalid>".
    let selector = match LabelSelector::from_object(get(d, "spec.selector").unwrap_or(&Value::Null))
    {
        Ok(s) => s.to_string(),
        Err(_) => "<invalid>".into(),
    };
    let mut cells = vec![
        name_cell(d),
        Value::from(format!(
            "{}/{}",
            int_at(d, "status.readyReplicas"),
            desired(d)
        )),
        Value::from(int_at(d, "status.updatedReplicas")),
        Value::from(int_at(d, "status.availableReplicas")),
        age_cell(d, now),
    ];
    cells.extend(containers(d, "spec.template"));
    cells.push(Value::from(selector));
    cells
}

pub(super) fn replicaset_cells(rs: &Value, now: Timestamp) -> Vec<Value> {
    let mut cells = vec![
        name_cell(rs),
        Value::from(desired(rs)),
        Value::from(int_at(rs, "status.replicas")),
        Value::from(int_at(rs, "status.readyReplicas")),
        age_cell(rs, now),
    ];
    cells.extend(containers(rs, "spec.template"));
    cells.push(selector_at(rs, "spec.selector"));
    cells
}

pub(super) fn rc_cells(rc: &Value, now: Timestamp) -> Vec<Value> {
    let mut cells = vec![
        name_cell(rc),
        Value::from(desired(rc)),
        Value::from(int_at(rc, "status.replicas")),
        Value::from(int_at(rc, "status.readyReplicas")),
        age_cell(rc, now),
    ];
    cells.extend(containers(rc, "spec.template"));
    cells.push(Value::from(format_labels(obj_at(rc, "spec.selector"))));
    cells
}

pub(super) fn statefulset_cells(ss: &Value, now: Timestamp) -> Vec<Value> {
    let mut cells = vec![
        name_cell(ss),
        Value::from(format!(
            "{}/{}",
            int_at(ss, "status.readyReplicas"),
            desired(ss)
        )),
        age_cell(ss, now),
    ];
    cells.extend(containers(ss, "spec.template"));
    cells
}

pub(super) fn daemonset_cells(ds: &Value, now: Timestamp) -> Vec<Value> {
    let mut cells = vec![name_cell(ds)];
    for f in [
        "desiredNumberScheduled",
        "currentNumberScheduled",
        "numberReady",
        "updatedNumberScheduled",
        "numberAvailable",
    ] {
        cells.push(Value::from(int_at(ds, &format!("status.{f}"))));
    }
    cells.push(Value::from(format_labels(obj_at(
        ds,
        "spec.template.spec.nodeSelector",
    ))));
    cells.push(age_cell(ds, now));
    cells.extend(containers(ds, "spec.template"));
    cells.push(selector_at(ds, "spec.selector"));
    cells
}

/// `hasJobCondition`: the first condition of the type has status `True`.
fn has_condition(obj: &Value, kind: &str) -> bool {
    condition_status(arr_at(obj, "status.conditions"), kind) == Some("True")
}

fn job_status(job: &Value) -> &'static str {
    if has_condition(job, "Complete") {
        "Complete"
    } else if has_condition(job, "Failed") {
        "Failed"
    } else if present(job, "metadata.deletionTimestamp") {
        "Terminating"
    } else if has_condition(job, "Suspended") {
        "Suspended"
    } else if has_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

pub(super) fn job_cells(job: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int_at(job, "status.succeeded");
    let completions = match get(job, "spec.completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int_at(job, "spec.parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let time = |p: &str| parse_time(get(job, p).and_then(Value::as_str));
    let duration = match (time("status.startTime"), time("status.completionTime")) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now.duration_since(start)),
        (Some(start), Some(end)) => human_duration(end.duration_since(start)),
    };
    let mut cells = vec![
        name_cell(job),
        Value::from(job_status(job)),
        Value::from(completions),
        Value::from(duration),
        age_cell(job, now),
    ];
    cells.extend(containers(job, "spec.template"));
    cells.push(selector_at(job, "spec.selector"));
    cells
}

pub(super) fn cronjob_cells(cj: &Value, now: Timestamp) -> Vec<Value> {
    let last = match get(cj, "status.lastScheduleTime").and_then(Value::as_str) {
        Some(t) => super::age(Some(t), now),
        None => "<none>".into(),
    };
    let suspend = match get(cj, "spec.suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let tz = get(cj, "spec.timeZone")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let mut cells = vec![
        name_cell(cj),
        Value::from(str_at(cj, "spec.schedule")),
        Value::from(tz),
        Value::from(suspend),
        Value::from(len_at(cj, "status.active")),
        Value::from(last),
        age_cell(cj, now),
    ];
    cells.extend(containers(cj, "spec.jobTemplate.spec.template"));
    cells.push(selector_at(cj, "spec.jobTemplate.spec.selector"));
    cells
}
