//! The installer's commands through the real binary: `init`, then `selftest --sim`, a scripted
//! scenario through `run --sim --headless --script`; and the systemd unit in `hardware/` passes
//! `systemd-analyze verify`.

use crate::common;

use std::process::Command;

fn facegate(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// A config in `dir` with its database and key file there.
fn config_in(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("gate.toml");
    let text = format!(
        "[paths]\nmodels = {:?}\n[store]\ndatabase = {:?}\nkey_file = {:?}\n",
        common::models_dir(),
        dir.join("gate.db"),
        dir.join("site.key")
    );
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn a_headless_script_prints_the_decisions_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    assert!(facegate(&config, &["init"]).status.success());
    let add = ["admin", "resident", "add", "1201", "--name", "Li", "--unit", "3-1201"];
    assert!(facegate(&config, &add).status.success());
    let mut pin = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--config")
        .arg(&config)
        .args(["admin", "pin", "set", "1201"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    pin.stdin.take().unwrap().write_all(b"2580\n").unwrap();
    assert!(pin.wait().unwrap().success());
    let script = dir.path().join("scenario.txt");
    std::fs::write(
        &script,
        "at 100\ntap pin\ntype 1201\ntype 9999\nat 5000\ntap pin\ntype 1201\ntype 2580\nat 12000\n",
    )
    .unwrap();
    let script = script.to_str().unwrap();
    let out = facegate(&config, &["run", "--sim", "--headless", "--script", script]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let decisions: Vec<bool> = events
        .iter()
        .filter(|e| e["event"] == "decision")
        .map(|e| e["granted"].as_bool().unwrap())
        .collect();
    assert_eq!(decisions, [false, true]);
    let door: Vec<&str> = events.iter().filter_map(|e| e["what"].as_str()).collect();
    assert!(door.contains(&"Unlocked") && door.contains(&"Relocked"), "{door:?}");
    assert!(!stdout.contains("9999") && !stdout.contains("2580"), "no PIN in the output");
}

#[test]
fn selftest_sim_exercises_every_part() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let before = facegate(&config, &["selftest", "--sim"]);
    assert!(!before.status.success(), "no database yet");
    assert!(String::from_utf8_lossy(&before.stdout).contains("FAIL  database"));

    assert!(facegate(&config, &["init"]).status.success());
    let key = std::fs::read(dir.path().join("site.key")).unwrap();
    assert!(!facegate(&config, &["init"]).status.success(), "init never overwrites");
    assert!(facegate(&config, &["init", "--if-missing"]).status.success(), "the service's start");
    assert_eq!(std::fs::read(dir.path().join("site.key")).unwrap(), key, "the key is kept");
    let out = facegate(&config, &["selftest", "--sim", "--pulse"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for part in ["database", "face models", "camera", "door", "card reader"] {
        assert!(
            stdout.lines().any(|l| l.starts_with("ok") && l.contains(part)),
            "{part}: {stdout}"
        );
    }
    assert!(stdout.contains("relay pulsed"));
}

#[test]
fn the_systemd_unit_verifies() {
    let check = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .expect("systemd-analyze (Debian package systemd, installed by ./dev.sh test)");
    assert!(check.status.success());
    let dir = tempfile::tempdir().unwrap();
    let unit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/hardware/facegate.service"))
            .unwrap();
    // Point the unit at the binary just built, which exists here, unlike /usr/bin/facegate.
    let unit = unit.replace("/usr/bin/facegate", env!("CARGO_BIN_EXE_facegate"));
    let path = dir.path().join("facegate.service");
    std::fs::write(&path, unit).unwrap();
    let out =
        Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr.lines().filter(|l| l.contains("facegate.service")).collect();
    assert!(out.status.success() && problems.is_empty(), "{stderr}");
}
