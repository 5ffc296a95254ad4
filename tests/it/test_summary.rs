//! `tests/summary.sh`, the closing line of `./dev.sh test`: skipped tests are counted and named,
//! and fail the run when `CI` is set.

use std::process::Command;

const LOG: &str = "     Running tests/gate_sim.rs (target/debug/deps/gate_sim-0123)
test a_card_opens_the_door ... ok
test an_enrolled_face_is_let_in ... ignored, needs ../shared
test result: ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.1s
     Running tests/store_templates.rs (target/debug/deps/store_templates-4567)
test child_enrols_until_killed ... ignored, helper for the crash test: runs until killed
test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.1s
";

fn summary(log: &str, ci: Option<&str>) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.log");
    std::fs::write(&path, log).unwrap();
    let mut command = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/summary.sh"));
    command.arg(&path).env_remove("CI");
    if let Some(ci) = ci {
        command.env("CI", ci);
    }
    let out = command.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn skipped_tests_are_counted_and_named_and_fail_only_in_ci() {
    let (ok, out) = summary(LOG, None);
    assert!(ok, "{out}");
    assert!(out.starts_with("3 passed, 0 failed, 1 skipped\n"), "{out}");
    assert!(out.contains("skipped: gate_sim::an_enrolled_face_is_let_in"), "{out}");
    assert!(!out.contains("child_enrols_until_killed"), "a helper is not a skip: {out}");
    let (ok, out) = summary(LOG, Some("true"));
    assert!(!ok && out.contains("skipped: gate_sim::an_enrolled_face_is_let_in"), "{out}");
}

#[test]
fn a_failed_test_fails_the_summary() {
    let log = "test result: FAILED. 4 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n";
    let (ok, out) = summary(log, None);
    assert!(!ok);
    assert_eq!(out, "4 passed, 1 failed, 0 skipped\n");
    let none_skipped = "test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured\n";
    assert!(summary(none_skipped, Some("true")).0, "nothing skipped: CI passes");
}
