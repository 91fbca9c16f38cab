//! `krust dashboard` in a real headless browser (root: the node is this host): the overview
//! lists the node and a Deployment, the Deployment is scaled from the page and kubectl sees
//! it, a YAML edit is applied server-side, a pod's log shows, a pod kubectl deletes leaves
//! the page's list at once (a watch, no polling), a broken rollout is rolled back, a Secret's
//! value shows only when asked, and the Deployment is kept when the confirmation is cancelled
//! and deleted when it is given; the overview's node usage (metrics.k8s.io) and recent
//! warnings, a container picked for its logs and its previous run's, a Deployment restarted
//! from the page; without `--url` on a desktop, the URL opened with `xdg-open`; a custom
//! resource defined while the page is open, listed by its printer columns. Screenshots are
//! kept under `target/tmp/dashboard/`.

mod real_node_support;

use std::process::Command;
use std::time::{Duration, Instant};

use krust_e2e::{Background, cdp, krust_bin, true_within};
use real_node_support::{IMAGE, apply, cluster, free_port};

const WAIT: Duration = Duration::from_secs(20);

/// `krust dashboard --url` of `c` (stopped when the handle is dropped), its URL, and the
/// directory kept for screenshots.
fn dashboard(c: &krust_e2e::Cluster) -> (Background, String, std::path::PathBuf) {
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&shots).expect("artifacts dir");
    let mut cmd = Command::new(krust_bin());
    cmd.args(["dashboard", "--port", "0", "--url", "--kubeconfig"])
        .arg(c.kubeconfig());
    let mut dashboard = Background::spawn(cmd);
    let url = dashboard.next_line(Duration::from_secs(20));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (dashboard, url, shots)
}

#[test]
fn the_dashboard_shows_scales_edits_and_follows_the_cluster_in_a_browser() {
    let c = cluster();
    apply(
        &c,
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\n\
             spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    \
             metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        \
             image: {IMAGE}\n        command: [sh, -c, 'echo hello-dashboard; exec sleep 3600']\n"
        ),
    );
    assert!(c.deployment_ready("web", "1/1"), "web never became ready");
    let (_dashboard, url, shots) = dashboard(&c);

    let mut page = cdp::Browser::start(1280, 800);
    // Overview: the node and the Deployment, painted from watched lists (the figure the
    // `krust-bench start` dashboard row measures in a release build).
    let node = c.node_name();
    let painted = page.paint_time(&url, &cdp::overview_shows(&node, "web"), WAIT);
    page.screenshot(&shots.join("overview.png"));
    let painted = painted.unwrap_or_else(|| panic!("overview incomplete:\n{}", page.text()));
    eprintln!("overview painted {painted:.0} ms after navigation started");

    // Scale from the page, seen by kubectl.
    page.eval("location.hash = '#/r/apps/v1/deployments/default/web'");
    assert!(
        page.wait_for("document.querySelector('#scale')", WAIT)
            .is_some(),
        "{}",
        page.text()
    );
    page.eval(
        "document.querySelector('#replicas').value = 2; document.querySelector('#scale').click()",
    );
    assert!(
        true_within(WAIT, || c
            .jsonpath(&["deployment", "web"], "{.spec.replicas}")
            == "2"),
        "kubectl does not see the scale:\n{}",
        page.text()
    );
    page.screenshot(&shots.join("deployment.png"));

    // A YAML edit, applied server-side: the label it changes is kubectl's, so the apply
    // conflicts; the page shows the conflict and forces it when asked.
    c.ok(&["label", "deployment", "web", "edited=by-kubectl"]);
    assert!(
        page.wait_for(
            "document.querySelector('#yaml')?.textContent.includes('edited: by-kubectl')",
            WAIT
        )
        .is_some(),
        "the label never showed:\n{}",
        page.text()
    );
    page.eval("document.querySelector('#edit').click()");
    assert!(
        page.wait_for("document.querySelector('#editor')", WAIT)
            .is_some(),
        "{}",
        page.text()
    );
    let edited = page.eval(
        "(() => { const t = document.querySelector('#editor'); const before = t.value; \
         t.value = t.value.replace('edited: by-kubectl', 'edited: by-dashboard'); \
         document.querySelector('#apply').click(); return t.value !== before; })()",
    );
    assert_eq!(
        edited,
        serde_json::json!(true),
        "no edited label in the editor"
    );
    assert!(
        page.wait_for("document.querySelector('#force')", WAIT)
            .is_some(),
        "no conflict shown:\n{}",
        page.text()
    );
    let conflict = page.eval("document.querySelector('.error').textContent");
    assert!(
        conflict.as_str().is_some_and(|m| m.contains("conflict")
            && m.contains("kubectl-label")
            && m.contains(".metadata.labels.edited")),
        "{conflict}"
    );
    page.screenshot(&shots.join("conflict.png"));
    assert_eq!(
        c.jsonpath(&["deployment", "web"], "{.metadata.labels.edited}"),
        "by-kubectl",
        "a conflicting apply changed the object"
    );
    page.eval("document.querySelector('#force').click()");
    assert!(
        true_within(WAIT, || {
            c.jsonpath(&["deployment", "web"], "{.metadata.labels.edited}") == "by-dashboard"
        }),
        "the forced edit was not applied:\n{}",
        page.text()
    );
    let managers = c.jsonpath(
        &["deployment", "web"],
        "{.metadata.managedFields[*].manager}",
    );
    assert!(managers.contains("krust-dashboard"), "{managers}");

    // A pod's logs.
    let pod = c.jsonpath(
        &[
            "pods",
            "-l",
            "app=web",
            "--field-selector=status.phase=Running",
        ],
        "{.items[0].metadata.name}",
    );
    page.eval(&format!("location.hash = '#/logs/default/{pod}'"));
    let logged = page.wait_for(
        "document.querySelector('#log').textContent.includes('hello-dashboard')",
        WAIT,
    );
    page.screenshot(&shots.join("logs.png"));
    assert!(logged.is_some(), "no log line:\n{}", page.text());

    // A shell in the pod with a terminal, through the proxy's WebSocket tunnel: keys typed,
    // the shell's echo and answer drawn, the terminal's size the page's.
    page.eval(&format!("location.hash = '#/exec/default/{pod}'"));
    let connected = "document.querySelector('#exec-state').textContent === 'connected'";
    assert!(
        page.wait_for(connected, WAIT).is_some(),
        "exec never connected:\n{}",
        page.text()
    );
    assert!(
        page.wait_for(
            "document.querySelector('#exec-terminal').textContent.includes('#')",
            WAIT
        )
        .is_some(),
        "no prompt:\n{}",
        page.text()
    );
    page.eval(
        "(() => { const t = document.querySelector('#exec-terminal'); \
         for (const key of [...'echo $((6*7)) && stty size', 'Enter']) \
           t.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true })); })()",
    );
    let answered = page.wait_for(
        "/\\n42\\n\\d+ \\d+/.test(document.querySelector('#exec-terminal').textContent)",
        WAIT,
    );
    page.screenshot(&shots.join("exec.png"));
    assert!(answered.is_some(), "no answer from exec:\n{}", page.text());

    // Live: kubectl deletes the pod, the list shows it go within a second or so.
    page.eval("location.hash = '#/r/core/v1/pods'");
    let row = format!("document.querySelector('tr[data-name=\"{pod}\"]')");
    assert!(page.wait_for(&row, WAIT).is_some(), "{}", page.text());
    // Filters: a label selector matching nothing, a namespace without the pod, by name.
    let set = |page: &mut cdp::Browser, id: &str, value: &str, event: &str| {
        page.eval(&format!(
            "(() => {{ const e = document.querySelector('#{id}'); e.value = '{value}'; \
             e.dispatchEvent(new Event('{event}')); }})()"
        ));
    };
    set(&mut page, "label", "app=nothing", "change");
    assert!(
        page.wait_for(
            &format!(
                "!{row} && document.querySelector('main').textContent.includes('No Pod here')"
            ),
            WAIT
        )
        .is_some(),
        "{}",
        page.text()
    );
    set(&mut page, "label", "app=web", "change");
    assert!(page.wait_for(&row, WAIT).is_some(), "{}", page.text());
    set(&mut page, "name", "no-such-name", "input");
    assert!(
        page.wait_for(&format!("!{row}"), WAIT).is_some(),
        "{}",
        page.text()
    );
    set(&mut page, "name", "", "input");
    page.eval("document.querySelector('#ns').dispatchEvent(new Event('focus'))");
    assert!(
        page.wait_for(
            "[...document.querySelector('#ns').options].some(o => o.value === 'kube-system')",
            WAIT
        )
        .is_some()
    );
    set(&mut page, "ns", "kube-system", "change");
    assert!(
        page.wait_for(&format!("!{row}"), WAIT).is_some(),
        "{}",
        page.text()
    );
    set(&mut page, "ns", "default", "change");
    assert!(page.wait_for(&row, WAIT).is_some(), "{}", page.text());

    // A reload right after streaming watches: the page's watches share one connection
    // (`/krust/watches`), so the new page never waits for the old one's to close.
    page.reload();
    assert!(
        page.wait_for(&row, WAIT).is_some(),
        "after a reload: {}",
        page.text()
    );
    let direct = page.eval(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('watch=')).length",
    );
    assert_eq!(
        direct,
        serde_json::json!(0),
        "a watch outside the page's stream"
    );

    let deleting = Instant::now();
    c.ok(&["delete", "pod", &pod, "--wait=false"]);
    let seen = page.wait_for(
        &format!("!{row} || {row}.textContent.includes('Terminating')"),
        WAIT,
    );
    page.screenshot(&shots.join("pods.png"));
    assert!(
        seen.is_some(),
        "the deletion never showed:\n{}",
        page.text()
    );
    let latency = deleting.elapsed();
    eprintln!("deletion on screen {latency:?} after kubectl was started");
    assert!(latency < Duration::from_secs(3), "{latency:?}");

    // A rollout to a broken image, rolled back from the page (`kubectl rollout undo`).
    c.ok(&["set", "image", "deployment/web", "web=127.0.0.1:1/none:1"]);
    page.eval("location.hash = '#/r/apps/v1/deployments/default/web'");
    assert!(
        page.wait_for("document.querySelector('#rollback')", WAIT)
            .is_some()
    );
    page.eval("window.confirm = () => true; document.querySelector('#rollback').click()");
    let image = "{.spec.template.spec.containers[0].image}";
    assert!(
        true_within(WAIT, || c.jsonpath(&["deployment", "web"], image) == IMAGE),
        "not rolled back:\n{}",
        page.text()
    );
    assert!(
        page.wait_for("document.querySelector('#events')", WAIT)
            .is_some(),
        "no Events of the Deployment:\n{}",
        page.text()
    );
    page.screenshot(&shots.join("rollback.png"));

    // A Secret's values stay hidden until asked.
    c.ok(&[
        "create",
        "secret",
        "generic",
        "s1",
        "--from-literal=password=hunter2",
    ]);
    page.eval("location.hash = '#/r/core/v1/secrets/default/s1'");
    assert!(
        page.wait_for(
            "document.querySelector('#yaml').textContent.includes('password')",
            WAIT
        )
        .is_some(),
        "{}",
        page.text()
    );
    assert!(!page.text().contains("hunter2"), "{}", page.text());
    page.eval(
        "[...document.querySelectorAll('button')].find(b => b.textContent === 'Show').click()",
    );
    assert!(
        page.wait_for("document.body.innerText.includes('hunter2')", WAIT)
            .is_some()
    );
    page.screenshot(&shots.join("secret.png"));

    // Delete: the page asks first; cancelled, nothing happens; confirmed, it is deleted.
    page.eval("location.hash = '#/r/apps/v1/deployments/default/web'");
    assert!(
        page.wait_for("document.querySelector('#delete')", WAIT)
            .is_some()
    );
    let asked = page.eval(
        "(() => { let asked = ''; window.confirm = m => { asked = m; return false; }; \
         document.querySelector('#delete').click(); return asked; })()",
    );
    assert!(
        asked.as_str().is_some_and(|m| m.contains("web")),
        "no confirmation asked: {asked}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        c.kubectl(&["get", "deployment", "web"]).success(),
        "deleted although cancelled"
    );
    page.eval("window.confirm = () => true; document.querySelector('#delete').click()");
    assert!(
        true_within(WAIT, || !c.kubectl(&["get", "deployment", "web"]).success()),
        "the deployment was not deleted:\n{}",
        page.text()
    );

    // At a small laptop's width the sidebar goes above the page.
    page.call(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({"width": 760, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    );
    page.eval("location.hash = '#/'");
    assert!(
        page.wait_for("document.querySelector('#nodes tr.link')", WAIT)
            .is_some()
    );
    let fits = page.eval("document.documentElement.scrollWidth <= innerWidth");
    page.screenshot(&shots.join("narrow.png"));
    assert_eq!(
        fits,
        serde_json::json!(true),
        "the page scrolls sideways at 760 px"
    );
}

/// A `krust start` profile under a temporary HOME (this test's names and ranges); deleted
/// (or killed and its node reset) when dropped.
struct Profile {
    home: tempfile::TempDir,
    name: String,
}

impl Profile {
    fn krust(&self, args: &[&str]) -> krust_e2e::Output {
        let mut cmd = Command::new(krust_bin());
        cmd.args(args)
            .args(["-p", &self.name])
            .env("HOME", self.home.path())
            .env("KUBECONFIG", self.home.path().join("kubeconfig"));
        krust_e2e::run_with_timeout(cmd, Duration::from_secs(180))
    }

    fn dir(&self) -> std::path::PathBuf {
        self.home.path().join(".krust/profiles").join(&self.name)
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        if !self.dir().exists() {
            return;
        }
        if !self.krust(&["delete"]).success() {
            if let Ok(pid) = std::fs::read_to_string(self.dir().join("krust.pid")) {
                let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            }
            let mut killall = Command::new(krust_bin());
            killall.arg("killall").arg("--data-dir").arg(self.dir());
            let _ = krust_e2e::run_with_timeout(killall, Duration::from_secs(60));
        }
    }
}

/// A plain HTTP/1.1 GET of `path` on 127.0.0.1:`port` with `host` as Host: the whole answer.
fn get(port: u16, host: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    answer
}

#[test]
fn a_started_profile_is_served_with_its_admin_credentials_on_loopback_only() {
    let n = krust_e2e::test_number();
    let profile = Profile {
        home: tempfile::Builder::new()
            .prefix("krust-db-")
            .tempdir()
            .expect("tempdir"),
        name: format!("krt-e2e-db{n}"),
    };
    let started = profile.krust(&[
        "start",
        "--node-name",
        &format!("krt-db-{n}"),
        "--bridge",
        &format!("krt-db{n}"),
        "--cluster-cidr",
        &format!("10.32.{n}.0/24"),
        "--service-cidr",
        &format!("10.32.{}.0/24", 128 + n),
        "--apiserver-port",
        &free_port().to_string(),
        "--kubelet-port",
        &free_port().to_string(),
    ]);
    assert!(
        started.success(),
        "krust start: {}\n{}",
        started.stdout,
        started.stderr
    );

    let mut cmd = Command::new(krust_bin());
    cmd.args(["dashboard", "--url", "-p", &profile.name])
        .env("HOME", profile.home.path());
    let mut dashboard = Background::spawn(cmd);
    let url = dashboard.next_line(Duration::from_secs(20));
    let port: u16 = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|_| panic!("{url}"));
    let host = format!("127.0.0.1:{port}");
    let version = get(port, &host, "/version");
    assert!(
        version.starts_with("HTTP/1.1 200") && version.contains("gitVersion"),
        "{version}"
    );
    let nodes = get(port, &format!("localhost:{port}"), "/api/v1/nodes");
    assert!(nodes.contains(&format!("krt-db-{n}")), "{nodes}");
    let page = get(port, &host, "/");
    assert!(page.contains("<title>krust dashboard</title>"), "{page}");
    let rebound = get(port, &format!("attacker.example:{port}"), "/api/v1/secrets");
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
    // Nothing listens beyond loopback.
    let listening = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let ours: Vec<&str> = listening
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(&format!(":{port:04X}")))
        })
        .filter(|l| l.split_whitespace().nth(3) == Some("0A"))
        .collect();
    assert!(
        !ours.is_empty() && ours.iter().all(|l| l.contains("0100007F:")),
        "{ours:?}"
    );
    dashboard.kill();

    // Without --url, on a desktop, the URL is opened in the desktop's browser (xdg-open,
    // here a stand-in that writes down what it was given).
    let bin = profile.home.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let opened = profile.home.path().join("opened");
    let xdg_open = bin.join("xdg-open");
    std::fs::write(
        &xdg_open,
        format!("#!/bin/sh\necho \"$@\" > {}\n", opened.display()),
    )
    .expect("xdg-open");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&xdg_open, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(krust_bin());
    cmd.args(["dashboard", "-p", &profile.name])
        .env("HOME", profile.home.path())
        .env("DISPLAY", ":99")
        .env("PATH", path);
    let desktop = Background::spawn(cmd);
    assert!(
        true_within(Duration::from_secs(20), || std::fs::read_to_string(&opened)
            .is_ok_and(|u| u.starts_with("http://127.0.0.1:"))),
        "xdg-open was not run"
    );
    desktop.kill();
}

#[test]
fn the_dashboard_shows_node_usage_warnings_a_containers_previous_log_and_restarts_a_deployment() {
    let c = cluster();
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: two}}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{{name: runs, emptyDir: {{}}}}]
  containers:
  - name: steady
    image: {IMAGE}
    command: [sh, -c, 'echo steady-says-hello; exec sleep 3600']
  - name: counting
    image: {IMAGE}
    volumeMounts: [{{name: runs, mountPath: /runs}}]
    command: [sh, -c, 'n=$(($(cat /runs/n 2>/dev/null || echo 0) + 1)); echo $n > /runs/n; echo run-$n; sleep 1; exit 1']
---
apiVersion: v1
kind: Pod
metadata: {{name: never}}
spec:
  containers: [{{name: main, image: krust.test/not-here:1, imagePullPolicy: Never}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{{name: web, image: {IMAGE}, command: [sleep, "3600"]}}]
"#
        ),
    );
    assert!(c.deployment_ready("web", "1/1"), "web never became ready");
    // The counting container has run at least twice: a previous log exists.
    assert!(
        true_within(Duration::from_secs(60), || c
            .jsonpath(
                &["pod", "two"],
                "{.status.containerStatuses[?(@.name==\"counting\")].restartCount}"
            )
            .parse::<u32>()
            .is_ok_and(|n| n >= 1)),
        "{}",
        c.ok(&["describe", "pod", "two"])
    );
    // The metrics API has the node's usage before the page asks for it (once, at load).
    assert!(
        true_within(Duration::from_secs(60), || c
            .kubectl(&["top", "nodes"])
            .stdout
            .contains(&c.node_name())),
        "no node metrics"
    );
    let (_dashboard, url, shots) = dashboard(&c);
    let mut page = cdp::Browser::start(1280, 800);

    // The overview: the node's CPU and memory in use (from metrics.k8s.io) with meters, and
    // the never-pulled image among the recent warnings.
    page.goto(&url);
    assert!(
        page.wait_for(
            "document.querySelectorAll('#nodes .meter').length === 2 && \
             document.querySelector('#warnings')?.textContent.includes('ErrImageNeverPull')",
            WAIT
        )
        .is_some(),
        "overview without usage or warnings:\n{}",
        page.text()
    );
    let usage = page.eval("document.querySelector('#nodes tr:nth-child(2)').textContent");
    assert!(usage.as_str().is_some_and(|u| u.contains(" / ")), "{usage}");
    page.screenshot(&shots.join("usage-and-warnings.png"));

    // Logs: the first container's, then the other's picked, then its previous run's.
    page.eval("location.hash = '#/logs/default/two'");
    let log_says = |page: &mut cdp::Browser, text: &str| {
        page.wait_for(
            &format!("document.querySelector('#log')?.textContent.includes('{text}')"),
            WAIT,
        )
        .is_some()
    };
    assert!(log_says(&mut page, "steady-says-hello"), "{}", page.text());
    page.eval(
        "(() => { const p = document.querySelector('#container'); p.value = 'counting'; \
         p.dispatchEvent(new Event('change')); })()",
    );
    assert!(log_says(&mut page, "run-"), "{}", page.text());
    let current = page.eval("document.querySelector('#log').textContent");
    page.eval(
        "(() => { const p = document.querySelector('#previous'); p.checked = true; \
         p.dispatchEvent(new Event('change')); })()",
    );
    assert!(
        page.wait_for(
            &format!(
                "(t => t.includes('run-') && t !== {current})(document.querySelector('#log')?.textContent || '')"
            ),
            WAIT
        )
        .is_some(),
        "no previous log (current: {current}):\n{}",
        page.text()
    );
    page.screenshot(&shots.join("previous-log.png"));

    // Restart: a new template annotation, as `kubectl rollout restart`, and a new pod.
    let before = c.ok(&["get", "pods", "-l", "app=web", "-o", "name"]);
    page.eval("location.hash = '#/r/apps/v1/deployments/default/web'");
    assert!(
        page.wait_for("document.querySelector('#restart')", WAIT)
            .is_some(),
        "{}",
        page.text()
    );
    page.eval("document.querySelector('#restart').click()");
    assert!(
        true_within(WAIT, || !c
            .jsonpath(
                &["deployment", "web"],
                "{.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}"
            )
            .is_empty()),
        "kubectl sees no restart:\n{}",
        page.text()
    );
    let status = c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(status.contains("successfully rolled out"), "{status}");
    assert!(
        true_within(WAIT, || {
            let now = c.ok(&["get", "pods", "-l", "app=web", "-o", "name"]);
            !now.is_empty() && !now.lines().any(|p| before.contains(p))
        }),
        "the old pod stayed: {}",
        c.ok(&["get", "pods", "-o", "wide"])
    );
}

const CRONTABS: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, kind: CronTab}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {cronSpec: {type: string}, image: {type: string}}}
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
    - {name: Image, type: string, jsonPath: .spec.image}
---
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: nightly}
spec: {cronSpec: '0 3 * * *', image: backup:1}
";

#[test]
fn a_custom_resource_appears_in_the_dashboard_with_its_printer_columns_when_defined() {
    let c = krust_e2e::Cluster::start();
    let (_dashboard, url, shots) = dashboard(&c);
    let mut page = cdp::Browser::start(1280, 800);
    page.goto(&url);
    page.eval("location.hash = '#/r/stable.example.com/v1/crontabs'");
    assert!(
        page.wait_for(
            "document.body.textContent.includes('does not serve crontabs')",
            WAIT
        )
        .is_some(),
        "{}",
        page.text()
    );
    // Defined while the page is open: the page learns it from its watch of the definitions.
    let file = c.write_file("crontabs.yaml", CRONTABS);
    let applied = c.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    if !applied.success() {
        // The object can race its definition's first discovery: kubectl is told to retry.
        c.ok(&["apply", "-f", file.to_str().unwrap()]);
    }
    let row = "document.querySelector('#list tr[data-name=nightly]')";
    assert!(
        page.wait_for(&format!("{row}?.textContent.includes('0 3 * * *')"), WAIT)
            .is_some(),
        "no CronTab row:\n{}",
        page.text()
    );
    let head = page.eval("document.querySelector('#list tr').textContent");
    assert!(
        head.as_str()
            .is_some_and(|h| h.contains("Spec") && h.contains("Image")),
        "{head}"
    );
    assert!(
        page.wait_for("document.querySelector('nav a[data-kind=CronTab]')", WAIT)
            .is_some(),
        "not in the sidebar:\n{}",
        page.text()
    );
    page.screenshot(&shots.join("custom-resources.png"));
    // Its details and YAML, then gone from the list once kubectl deletes it.
    page.eval(&format!("{row}.click()"));
    assert!(
        page.wait_for(
            "document.querySelector('#yaml')?.textContent.includes('backup:1')",
            WAIT
        )
        .is_some(),
        "{}",
        page.text()
    );
    page.eval("location.hash = '#/r/stable.example.com/v1/crontabs'");
    assert!(page.wait_for(row, WAIT).is_some(), "{}", page.text());
    c.ok(&["delete", "crontab", "nightly"]);
    assert!(
        page.wait_for(&format!("!{row}"), WAIT).is_some(),
        "the deleted CronTab stayed:\n{}",
        page.text()
    );
}
