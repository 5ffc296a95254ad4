//! `admin rotate-key` while the gate runs (`facegate run --sim --headless`, fed on stdin): the
//! gate picks the new key up through the database, so a PIN entry after the rotation opens and
//! is audited under the new key, and `audit verify` passes; the same for a credential-root
//! rotation. The new key file keeps the owner of the old one when the rotation runs as root.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::cli_gate::CliGate;

/// The next decision event the gate prints (granted or not), within 60 s.
fn next_decision(events: &mpsc::Receiver<serde_json::Value>) -> bool {
    loop {
        let event = events.recv_timeout(Duration::from_secs(60)).expect("the gate decides");
        if event["event"] == "decision" {
            return event["granted"].as_bool().unwrap();
        }
    }
}

/// A running simulated gate: its standard input, and its events.
struct RunningGate {
    child: std::process::Child,
    input: std::process::ChildStdin,
    events: mpsc::Receiver<serde_json::Value>,
}

impl RunningGate {
    fn start(site: &CliGate) -> RunningGate {
        let mut child = site
            .command(&["run", "--sim", "--headless"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let (send, events) = mpsc::channel();
        let output = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in output.lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str(&line) {
                    let _ = send.send(event);
                }
            }
        });
        RunningGate { child, input, events }
    }

    /// Types a resident number and PIN after `wait_ms`; whether the door opened.
    fn pin(&mut self, wait_ms: u32, number: &str, pin: &str) -> bool {
        let entry = format!("wait {wait_ms}\ntap pin\ntype {number}\ntype {pin}\n");
        self.input.write_all(entry.as_bytes()).unwrap();
        next_decision(&self.events)
    }

    fn stop(self) {
        drop(self.input);
        let mut child = self.child;
        assert!(child.wait().unwrap().success());
    }
}

#[test]
fn a_rotation_while_the_gate_runs_leaves_it_opening_and_its_log_verifying() {
    let site = CliGate::with_resident("");
    let mut gate = RunningGate::start(&site);
    assert!(gate.pin(0, "1201", "2580"), "before the rotation");
    assert!(site.ok(&["admin", "rotate-key"], "").contains("site key replaced"));
    assert!(gate.pin(8000, "1201", "2580"), "after the rotation");
    gate.stop();
    assert!(site.ok(&["audit", "verify"], "").contains("audit log intact"));
    let log: Vec<serde_json::Value> =
        serde_json::from_str(&site.ok(&["audit", "list", "--json"], "")).unwrap();
    let kinds: Vec<&str> = log.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    let rotated = kinds.iter().position(|k| *k == "key_rotated").unwrap();
    assert!(kinds[rotated..].contains(&"access_granted"), "{kinds:?}");
}

#[test]
fn a_credential_root_rotation_while_the_gate_runs_is_followed_at_once() {
    let site = CliGate::with_resident("");
    let mut gate = RunningGate::start(&site);
    assert!(gate.pin(0, "1201", "2580"), "before the rotation");
    site.ok(&["admin", "rotate-key", "--credentials"], "");
    // A PIN set after the rotation is hashed under the new root; the running gate must use it.
    site.ok(&["admin", "pin", "set", "1201"], "3691\n");
    assert!(gate.pin(8000, "1201", "3691"), "a PIN made under the new root");
    assert!(!gate.pin(8000, "1201", "2580"), "the replaced PIN");
    gate.stop();
}

#[test]
#[cfg_attr(not(as_root), ignore = "needs root: it gives a file to another user")]
fn the_new_key_file_keeps_the_old_owner_when_root_rotates() {
    let site = CliGate::with_resident("");
    let key = site.path("site.key");
    std::os::unix::fs::chown(&key, Some(4242), Some(4343)).unwrap();
    site.ok(&["admin", "rotate-key"], "");
    assert_eq!(owner(&key), (4242, 4343), "the service user could no longer read its key");
    site.ok(&["admin", "rotate-key", "--credentials"], "");
    assert_eq!(owner(&key), (4242, 4343), "the same after a credential-root rotation");
}

fn owner(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    (meta.uid(), meta.gid())
}
