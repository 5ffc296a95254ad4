//! The gate as a process among others, the way a building runs it: a change made with the CLI
//! in another process reaches the running gate at once, the journal (the gate's stdout and
//! stderr) carries no resident number, name or card number, and `run` on a device refuses a
//! face door without liveness unless the config says why.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn facegate(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_facegate"));
    command.current_dir(dir).args(args);
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Runs `facegate` to its end (killed after a minute), feeding `stdin`.
fn finish(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = facegate(dir, args).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A config in a temporary folder with `extra` lines, `init` run.
fn site(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[paths]\nmodels = {:?}\n[store]\ndatabase = \"gate.db\"\nkey_file = \"site.key\"\n[pin]\nmemory_kib = 512\niterations = 1\n{extra}",
        common::models_dir(),
    );
    std::fs::write(dir.path().join("gate.toml"), config).unwrap();
    ok(dir.path(), &["init"], "");
    dir
}

fn ok(dir: &Path, args: &[&str], stdin: &str) -> String {
    let all = [&["--config", "gate.toml"], args].concat();
    let out = finish(dir, &all, stdin);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The gate process, fed commands on stdin, its decisions read from stdout as they come.
struct RunningGate {
    child: Child,
    decisions: mpsc::Receiver<bool>,
}

impl RunningGate {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = facegate(dir, args).spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, decisions) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
                if event["event"] == "decision"
                    && tx.send(event["granted"].as_bool().unwrap()).is_err()
                {
                    break;
                }
            }
        });
        Self { child, decisions }
    }

    /// Types `commands`, then waits for the next decision.
    fn decide(&mut self, commands: &str) -> bool {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(commands.as_bytes()).unwrap();
        stdin.flush().unwrap();
        self.decisions.recv_timeout(Duration::from_secs(60)).expect("a decision")
    }
}

impl Drop for RunningGate {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        drop(self.child.wait());
    }
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared")]
fn a_consent_withdrawn_with_the_cli_while_the_gate_runs_refuses_the_next_face_attempt() {
    let faces = common::dev_faces_dir().expect(common::NEEDS_SHARED);
    let dir = tempfile::tempdir().unwrap();
    let sim = concat!(env!("CARGO_MANIFEST_DIR"), "/hardware/sim.toml");
    let models = common::models_dir();
    let config = ["--config", sim, "--models", models.to_str().unwrap()];
    let demo = [&config[..], &["run", "--sim", "--headless", "--demo", faces.to_str().unwrap()]];
    let made = finish(dir.path(), &demo.concat(), "");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let identity = text(&made.stderr)
        .lines()
        .find_map(|l| {
            Some(l.strip_prefix("demo resident 1201: face from ")?.split(',').next()?.to_owned())
        })
        .expect("demo resident 1201");
    let images = facegate::vision::evaluation::scan(&faces).unwrap();
    let third = images.iter().filter(|i| i.identity == identity).nth(2).unwrap();
    let attempt = format!("wait 5000\nshow {}\ntap face\nwait 4000\n", third.path.display());

    let mut gate =
        RunningGate::start(dir.path(), &[&config[..], &["run", "--sim", "--headless"]].concat());
    assert!(gate.decide(&attempt), "1201 gets in by face");
    let withdraw =
        finish(dir.path(), &[&config[..], &["admin", "consent", "withdraw", "1201"]].concat(), "");
    assert!(withdraw.status.success(), "{}", text(&withdraw.stderr));
    let withdrawn = Instant::now();
    assert!(!gate.decide(&attempt), "the very next face attempt is refused");
    eprintln!("withdrawal to refusal, face attempt included: {:?}", withdrawn.elapsed());
}

#[test]
fn the_journal_carries_no_resident_number_name_or_card_number() {
    let dir = site("[gate]\ngreet_by_name = true\nadmins = [\"4711\"]\n");
    let path = dir.path();
    ok(path, &["admin", "resident", "add", "4711", "--name", "Li Wenjun", "--unit", "3-7"], "");
    ok(path, &["admin", "pin", "set", "4711"], "2580\n");
    ok(path, &["admin", "card", "add", "4711", "--label", "fob"], "0004512345\n");
    // PIN, card, a wrong PIN, an unknown card, then admin mode: a PIN reset and a lockout lift.
    let script = "at 100\ntap pin\ntype 4711\ntype 2580\nat 8000\ncard 0004512345\n\
                  at 16000\ntap pin\ntype 4711\ntype 1111\nat 24000\ncard 0000000077\n\
                  at 32000\ntap pin\ntype 4711\ntype 2580\ntap admin\nadmin pin\ntype 4711\n\
                  type 135790\ntap cancel\nadmin unlock\ntype 4711\nat 40000\n";
    std::fs::write(path.join("scenario.txt"), script).unwrap();
    let all = ["--config", "gate.toml", "run", "--sim", "--headless", "--script", "scenario.txt"];
    let out = finish(path, &all, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let granted = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "decision" && e["granted"] == true)
        .count();
    assert_eq!(granted, 3, "the scenario ran: {stdout}");
    for secret in ["4711", "Li Wenjun", "Wenjun", "4512345", "0000000077"] {
        assert!(!stdout.contains(secret), "{secret} on stdout: {stdout}");
        assert!(!stderr.contains(secret), "{secret} on stderr: {stderr}");
    }
    assert!(stdout.contains("resident#1"), "decisions name residents as the audit log does");
}

#[test]
fn admin_unlock_lifts_a_card_reader_lock_that_outlives_the_gate_process() {
    // A lock long enough to outlast a slow machine between the gate processes.
    let dir = site("[attempts]\nlock_seconds = 600\n");
    let path = dir.path();
    ok(path, &["admin", "resident", "add", "1201", "--name", "Li", "--unit", "3-1201"], "");
    ok(path, &["admin", "card", "add", "1201", "--label", "fob"], "0004512345\n");
    let decisions = |script: &str| {
        std::fs::write(path.join("scenario.txt"), script).unwrap();
        let all =
            ["--config", "gate.toml", "run", "--sim", "--headless", "--script", "scenario.txt"];
        let out = finish(path, &all, "");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|e| e["event"] == "decision")
            .map(|e| e["granted"] == true)
            .collect::<Vec<_>>()
    };
    let sweep: String =
        (1..=5).map(|n| format!("at {}\ncard {}\n", n * 100, 800_000 + n)).collect();
    assert_eq!(decisions(&sweep), [false; 5]);
    let good = "at 100\ncard 0004512345\nat 200\n";
    assert_eq!(decisions(good), [false], "a new gate process still sees the lock");
    assert_eq!(ok(path, &["admin", "unlock", "--card-reader"], "").trim(), "lockout lifted");
    assert_eq!(decisions(good), [true]);
}

#[test]
fn run_on_a_device_refuses_a_face_door_with_liveness_off_unless_the_config_says_why() {
    let off = site("[vision.liveness]\nmode = \"off\"\n");
    let out = finish(off.path(), &["--config", "gate.toml", "run", "--headless"], "");
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("needs liveness") && stderr.contains("off_reason"), "{stderr}");
    let said = site("[vision.liveness]\nmode = \"off\"\noff_reason = \"a test bench\"\n");
    let out = finish(said.path(), &["--config", "gate.toml", "run", "--headless"], "");
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("needs liveness"), "past the liveness check: {stderr}");
}
