//! `kubectl get -w`: a Table list, then a Table watch that stays open.

use krust_e2e::{Cluster, table};
use std::thread;
use std::time::Duration;

const LINE: Duration = Duration::from_secs(10);

#[test]
fn get_pods_watch_prints_added_modified_and_deleted_rows() {
    let c = Cluster::start();
    c.ok(&["run", "nginx", "--image=nginx"]);
    let mut watch = c.kubectl_background(&["get", "pods", "-w"]);
    assert_eq!(
        watch.next_line(LINE),
        "NAME    READY   STATUS    RESTARTS   AGE"
    );
    assert!(
        watch
            .next_line(LINE)
            .starts_with("nginx   0/1     Pending   0          ")
    );

    c.ok(&["run", "wp", "--image=nginx"]);
    let added = watch.next_line(LINE);
    assert_eq!(
        table(&added)[0][..4],
        ["wp", "0/1", "Pending", "0"],
        "{added}"
    );

    c.ok(&["label", "pod", "wp", "seen=yes"]);
    let modified = watch.next_line(LINE);
    assert_eq!(
        table(&modified)[0][..4],
        ["wp", "0/1", "Pending", "0"],
        "{modified}"
    );

    c.ok(&["delete", "pod", "wp"]);
    // The row is printed once more for the DELETED event.
    let deleted = watch.next_line(LINE);
    assert_eq!(table(&deleted)[0][0], "wp", "{deleted}");

    // kubectl get -w exits as soon as the server ends the stream: it must stay open.
    thread::sleep(Duration::from_secs(2));
    assert!(
        watch.is_running(),
        "kubectl get -w ended; lines:\n{}",
        watch.seen().join("\n")
    );
    c.ok(&["run", "late", "--image=nginx"]);
    let late = watch.next_line(LINE);
    assert_eq!(table(&late)[0][0], "late", "{late}");
    let stderr = watch.kill();
    assert_eq!(stderr, "");
}

#[test]
fn watch_events_are_typed() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "before", "--from-literal=a=1"]);
    let mut watch = c.kubectl_background(&["get", "configmaps", "-w", "--output-watch-events"]);
    let header = watch.next_line(LINE);
    assert_eq!(
        table(&header)[0],
        ["EVENT", "NAME", "DATA", "AGE"],
        "{header}"
    );
    assert_eq!(
        table(&watch.next_line(LINE))[0][..3],
        ["ADDED", "before", "1"]
    );

    c.ok(&["create", "configmap", "cm", "--from-literal=a=1"]);
    assert_eq!(table(&watch.next_line(LINE))[0][..3], ["ADDED", "cm", "1"]);
    c.ok(&["patch", "configmap", "cm", "-p", r#"{"data":{"b":"2"}}"#]);
    assert_eq!(
        table(&watch.next_line(LINE))[0][..3],
        ["MODIFIED", "cm", "2"]
    );
    c.ok(&["delete", "configmap", "cm"]);
    assert_eq!(
        table(&watch.next_line(LINE))[0][..3],
        ["DELETED", "cm", "2"]
    );
    assert!(watch.is_running());
}

#[test]
fn watch_only_skips_existing_objects_and_honours_the_selector() {
    let c = Cluster::start();
    c.ok(&["run", "old", "--image=nginx", "--labels=app=web"]);
    let mut watch = c.kubectl_background(&["get", "pods", "--watch-only", "-l", "app=web"]);
    // Nothing is printed for the existing pod. Probe until the watch is established: a new
    // matching pod shows up.
    let mut established = false;
    for n in 0..10 {
        c.ok(&[
            "run",
            &format!("probe-{n}"),
            "--image=nginx",
            "--labels=app=web",
        ]);
        if let Some(line) = watch.try_next_line(Duration::from_secs(2)) {
            let line = if line.starts_with("NAME") {
                watch.next_line(LINE)
            } else {
                line
            };
            assert!(line.starts_with("probe-"), "lines: {:?}", watch.seen());
            established = true;
            break;
        }
    }
    assert!(established, "kubectl get --watch-only printed nothing");
    // One pod outside the selector, then one inside: only the latter is printed.
    c.ok(&["run", "other", "--image=nginx", "--labels=app=db"]);
    c.ok(&["run", "new", "--image=nginx", "--labels=app=web"]);
    assert_eq!(
        table(&watch.next_line(LINE))[0][0],
        "new",
        "lines: {:?}",
        watch.seen()
    );
    assert!(
        watch
            .seen()
            .iter()
            .all(|l| !l.starts_with("old ") && !l.starts_with("other ")),
        "lines: {:?}",
        watch.seen()
    );
}
