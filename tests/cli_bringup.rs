//! The installer's commands through the real binary: `init`, then `selftest --sim`; and the
//! systemd unit in `hardware/` passes `systemd-analyze verify`.

mod common;

use std::process::Command;

fn facegate(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn selftest_sim_exercises_every_part() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.toml");
    let models = common::models_dir();
    let text = format!(
        "[paths]\nmodels = {:?}\n[store]\ndatabase = {:?}\nkey_file = {:?}\n",
        models,
        dir.path().join("gate.db"),
        dir.path().join("site.key")
    );
    std::fs::write(&config, text).unwrap();
    let before = facegate(&config, &["selftest", "--sim"]);
    assert!(!before.status.success(), "no database yet");
    assert!(String::from_utf8_lossy(&before.stdout).contains("FAIL  database"));

    assert!(facegate(&config, &["init"]).status.success());
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
    let Ok(check) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    };
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
