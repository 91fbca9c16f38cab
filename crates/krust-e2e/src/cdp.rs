//! A headless Chromium driven through the DevTools protocol over `--remote-debugging-pipe`
//! (JSON messages ending in NUL on fds 3 and 4, handed over through two FIFOs, so no
//! WebSocket client is needed): open a page, evaluate JavaScript in it, take screenshots.
//! Debian's `chromium` is installed with apt when it is missing.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The Chromium binary, installed (`apt-get install -y chromium`) when missing.
pub fn chromium_bin() -> &'static str {
    let present = || {
        Command::new("chromium")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !present() {
        let out = Command::new("apt-get")
            .args(["install", "-y", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .expect("apt-get");
        assert!(
            present(),
            "chromium is missing and apt-get could not install it:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    "chromium"
}

/// A JavaScript condition: `krust dashboard`'s overview lists the node `node` and the
/// Deployment `deployment` (its first meaningful paint).
pub fn overview_shows(node: &str, deployment: &str) -> String {
    format!(
        "document.querySelector('#deployments tr[data-name={deployment}]') && \
         document.querySelector('#nodes').textContent.includes('{node}')"
    )
}

/// JavaScript that observes the document's changes until `condition` holds, then sets
/// `window.__krustSeen` to `clock` (a JavaScript expression) at the animation frame that
/// paints it.
fn observer(condition: &str, clock: &str) -> String {
    format!(
        "(() => {{ \
           window.__krustSeen = undefined; \
           const held = () => {{ try {{ return !!({condition}); }} catch {{ return false; }} }}; \
           const seen = new MutationObserver(() => {{ \
             if (!held()) return; \
             seen.disconnect(); \
             requestAnimationFrame(() => {{ window.__krustSeen = {clock}; }}); \
           }}); \
           seen.observe(document, {{subtree: true, childList: true, characterData: true, attributes: true}}); \
         }})()"
    )
}

/// A headless browser with one page; killed when dropped.
pub struct Browser {
    child: Child,
    to: std::fs::File,
    from: Receiver<Value>,
    next_id: u64,
    session: String,
    _dir: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium at a window of `width`×`height` and opens a blank page.
    pub fn start(width: u32, height: u32) -> Browser {
        let dir = tempfile::Builder::new()
            .prefix("krust-chromium-")
            .tempdir()
            .expect("tempdir");
        let (fifo_in, fifo_out) = (dir.path().join("in"), dir.path().join("out"));
        for f in [&fifo_in, &fifo_out] {
            assert!(
                Command::new("mkfifo")
                    .arg(f)
                    .status()
                    .expect("mkfifo")
                    .success()
            );
        }
        let script = format!(
            "exec {} --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
             --window-size={width},{height} --user-data-dir={} --remote-debugging-pipe \
             3<{} 4>{}",
            chromium_bin(),
            dir.path().join("profile").display(),
            fifo_in.display(),
            fifo_out.display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium");
        let to = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo_in)
            .expect("fifo in");
        let out = std::fs::File::open(&fifo_out).expect("fifo out");
        let (tx, from) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out);
            loop {
                let mut message = Vec::new();
                match reader.read_until(0, &mut message) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        message.pop();
                        if let Ok(v) = serde_json::from_slice(&message)
                            && tx.send(v).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        let mut browser = Browser {
            child,
            to,
            from,
            next_id: 0,
            session: String::new(),
            _dir: dir,
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let id = target["targetId"].as_str().expect("targetId").to_string();
        let attached = browser.call(
            "Target.attachToTarget",
            json!({"targetId": id, "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().expect("session").to_string();
        browser.call("Page.enable", json!({}));
        browser
    }

    /// Sends a command (to the page once attached) and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("json");
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("chromium did not answer {method}"));
            if answer["id"] == json!(id) {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// Navigates to `url`.
    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
    }

    /// Reloads the page.
    pub fn reload(&mut self) {
        self.call("Page.reload", json!({}));
    }

    /// The value of `expression` evaluated in the page (promises awaited).
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Waits until `expression` is truthy in the page; how long that took, or `None`.
    pub fn wait_for(&mut self, expression: &str, timeout: Duration) -> Option<Duration> {
        let start = Instant::now();
        let check =
            format!("(() => {{ try {{ return !!({expression}); }} catch {{ return false; }} }})()");
        while start.elapsed() < timeout {
            if self.eval(&check) == json!(true) {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Navigates to `url` and returns when `condition` (a JavaScript expression) first held
    /// in the page, in milliseconds after the navigation started (`performance.now()` at the
    /// animation frame that paints it, seen by an observer of the document's changes that the
    /// page runs before its own scripts), or `None` after `timeout`.
    pub fn paint_time(&mut self, url: &str, condition: &str, timeout: Duration) -> Option<f64> {
        let added = self.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": observer(condition, "performance.now()")}),
        );
        self.goto(url);
        let painted = self.seen(timeout);
        self.call(
            "Page.removeScriptToEvaluateOnNewDocument",
            json!({"identifier": added["identifier"]}),
        );
        painted
    }

    /// Watches the open page, from now on, for `condition` to hold; [`Browser::seen`] then
    /// gives the wall-clock time (`Date.now()`, milliseconds) of the frame that paints it.
    pub fn watch_for(&mut self, condition: &str) {
        self.eval(&observer(condition, "Date.now()"));
    }

    /// The time an observer ([`Browser::paint_time`], [`Browser::watch_for`]) recorded, once
    /// it has, or `None` after `timeout`.
    pub fn seen(&mut self, timeout: Duration) -> Option<f64> {
        self.wait_for("window.__krustSeen !== undefined", timeout)
            .and_then(|_| self.eval("window.__krustSeen").as_f64())
    }

    /// The page's text (for failure messages).
    pub fn text(&mut self) -> String {
        self.eval("document.body.innerText")
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Saves a PNG screenshot of the page at `path`.
    pub fn screenshot(&mut self, path: &Path) {
        use base64::Engine as _;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("data"))
            .expect("base64");
        std::fs::write(path, png).expect("screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
