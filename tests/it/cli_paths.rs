//! Command-line paths users rely on, each run through the built binary: `run --sim --demo` (the
//! README's first command, headless), `admin rotate-key` (site key and credential root) and its
//! recovery from an interruption, `admin unlock`, `admin visitor`, `admin pin reset`, `admin enrol
//! book`, `eval-pad --json`, and the hardware `selftest` failing on a missing camera.

use crate::cli_gate::{CliGate, run_with_stdin, text};
use crate::common;

use std::path::Path;
use std::process::{Command, Output};

/// Runs `facegate` in `dir` with `args`, feeding `stdin`.
fn facegate_in(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_facegate"));
    command.current_dir(dir).args(args);
    run_with_stdin(command, stdin)
}

/// `init`, resident 1201 with PIN 2580 and card 0004512345, plus `extra` config lines.
fn new_site(extra: &str) -> CliGate {
    let models = format!("[paths]\nmodels = {:?}\n", common::models_dir());
    let site = CliGate::with_resident(&format!("{extra}\n{models}"));
    site.ok(&["admin", "card", "add", "1201", "--label", "fob"], "0004512345\n");
    site
}

/// The decisions of a headless scripted run: (granted, deny reason).
fn scripted(site: &CliGate, script: &str) -> Vec<(bool, String)> {
    std::fs::write(site.path("scenario.txt"), script).unwrap();
    let out = site.ok(&["run", "--sim", "--headless", "--script", "scenario.txt"], "");
    decisions(&out)
}

/// Decision events among JSON lines: (granted, deny reason).
fn decisions(json_lines: &str) -> Vec<(bool, String)> {
    json_lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "decision")
        .map(|e| (e["granted"].as_bool().unwrap(), e["reason"].to_string()))
        .collect()
}

/// PIN 2580 and card 0004512345 of resident 1201.
const PIN_AND_CARD: &str =
    "at 100\ntap pin\ntype 1201\ntype 2580\nat 8000\ncard 0004512345\nat 16000\n";

fn granted(decisions: &[(bool, String)]) -> Vec<bool> {
    decisions.iter().map(|d| d.0).collect()
}

#[test]
fn rotate_key_replaces_the_key_and_pins_cards_and_the_audit_log_still_work() {
    let site = new_site("");
    let old = std::fs::read(site.path("site.key")).unwrap();
    assert!(site.ok(&["admin", "rotate-key"], "").contains("site key replaced"));
    assert_ne!(std::fs::read(site.path("site.key")).unwrap(), old, "a new key");
    assert!(!site.path("site.key.new").exists());
    assert!(site.ok(&["audit", "verify"], "").contains("audit log intact"));
    assert_eq!(granted(&scripted(&site, PIN_AND_CARD)), [true, true]);
}

#[test]
fn rotate_key_credentials_counts_what_is_still_on_the_old_root_until_it_is_used() {
    let site = new_site("");
    let out = site.ok(&["admin", "rotate-key", "--credentials"], "");
    assert!(out.contains("1 of 1 PIN(s) and 1 of 1 card(s) still on the previous root"), "{out}");
    let again = site.run(&["admin", "rotate-key", "--credentials"], "");
    assert!(!again.status.success(), "refused while a PIN and a card would be stranded");
    assert_eq!(granted(&scripted(&site, PIN_AND_CARD)), [true, true], "the old root still works");
    let out = site.ok(&["admin", "calibrate"], "");
    assert!(out.contains("0 of 1 PIN(s) and 0 of 1 card(s) still on the previous root"), "{out}");
    site.ok(&["admin", "rotate-key", "--credentials"], "");
    assert_eq!(granted(&scripted(&site, PIN_AND_CARD)), [true, true]);
}

#[test]
fn an_interrupted_rotation_after_the_database_was_re_keyed_keeps_the_new_key() {
    let site = new_site("");
    let old = std::fs::read(site.path("site.key")).unwrap();
    site.ok(&["admin", "rotate-key"], "");
    let new = std::fs::read(site.path("site.key")).unwrap();
    // As if the process died after the commit, before the rename.
    std::fs::rename(site.path("site.key"), site.path("site.key.new")).unwrap();
    std::fs::write(site.path("site.key"), &old).unwrap();
    assert!(site.ok(&["audit", "verify"], "").contains("audit log intact"));
    assert_eq!(std::fs::read(site.path("site.key")).unwrap(), new);
    assert!(!site.path("site.key.new").exists());
    assert_eq!(granted(&scripted(&site, PIN_AND_CARD)), [true, true]);
}

#[test]
fn an_interrupted_rotation_before_the_database_was_re_keyed_keeps_the_old_key() {
    let site = new_site("");
    let old = std::fs::read(site.path("site.key")).unwrap();
    // As if the process died after writing the new key file, before the commit.
    let other = new_site("");
    std::fs::copy(other.path("site.key"), site.path("site.key.new")).unwrap();
    assert!(site.ok(&["audit", "verify"], "").contains("audit log intact"));
    assert_eq!(std::fs::read(site.path("site.key")).unwrap(), old);
    assert!(!site.path("site.key.new").exists());
    assert_eq!(granted(&scripted(&site, PIN_AND_CARD)), [true, true]);
}

#[test]
fn an_interrupted_credential_rotation_before_the_commit_keeps_the_old_root() {
    let site = new_site("");
    // The log's last entry is a finished rotation, as it would be after one.
    site.ok(&["admin", "rotate-key"], "");
    let old = std::fs::read(site.path("site.key")).unwrap();
    // As if `rotate-key --credentials` died after writing the new key file, before the commit:
    // the same site key, a new credential root, the old one as the previous.
    let mut new = old[..32].to_vec();
    new.extend([7u8; 32]);
    new.extend(&old[32..64]);
    std::fs::write(site.path("site.key.new"), &new).unwrap();
    assert!(site.ok(&["audit", "verify"], "").contains("audit log intact"));
    assert_eq!(std::fs::read(site.path("site.key")).unwrap(), old);
    assert!(!site.path("site.key.new").exists());
    assert_eq!(granted(&scripted(&site, PIN_AND_CARD)), [true, true]);
}

#[test]
fn an_interrupted_credential_rotation_after_the_commit_keeps_the_new_root() {
    let site = new_site("");
    let old = std::fs::read(site.path("site.key")).unwrap();
    site.ok(&["admin", "rotate-key", "--credentials"], "");
    let new = std::fs::read(site.path("site.key")).unwrap();
    std::fs::rename(site.path("site.key"), site.path("site.key.new")).unwrap();
    std::fs::write(site.path("site.key"), &old).unwrap();
    let out = site.ok(&["admin", "calibrate"], "");
    assert!(out.contains("1 of 1 PIN(s) and 1 of 1 card(s) still on the previous root"), "{out}");
    assert_eq!(std::fs::read(site.path("site.key")).unwrap(), new);
    assert_eq!(granted(&scripted(&site, PIN_AND_CARD)), [true, true]);
}

/// Five wrong PINs for 1201, then the right one.
const FIVE_WRONG_THEN_RIGHT: &str = "at 100
tap pin\ntype 1201\ntype 1111\nat 6000
tap pin\ntype 1201\ntype 1112\nat 12000
tap pin\ntype 1201\ntype 1113\nat 18000
tap pin\ntype 1201\ntype 1114\nat 24000
tap pin\ntype 1201\ntype 1115\nat 30000
tap pin\ntype 1201\ntype 2580\nat 36000\n";

#[test]
fn admin_unlock_lifts_a_pin_lockout_that_outlives_the_gate_process() {
    let site = new_site("");
    let first = scripted(&site, FIVE_WRONG_THEN_RIGHT);
    assert_eq!(granted(&first), [false; 6]);
    assert!(first[5].1.contains("locked_out"), "the right PIN is refused while locked: {first:?}");
    let right = "at 100\ntap pin\ntype 1201\ntype 2580\nat 6000\n";
    let again = scripted(&site, right);
    assert_eq!(granted(&again), [false], "a new gate process still sees the lockout");
    assert_eq!(site.ok(&["admin", "unlock", "1201"], "").trim(), "lockout lifted");
    assert_eq!(granted(&scripted(&site, right)), [true]);
    assert_eq!(site.ok(&["admin", "unlock", "1201"], "").trim(), "there was no lockout");
    assert!(!site.run(&["admin", "unlock", "9999"], "").status.success(), "unknown resident");
}

#[test]
fn the_hardware_selftest_fails_naming_the_camera_device_it_cannot_open() {
    let site = new_site("[camera]\ndevice = 57\n");
    let out = site.run(&["selftest"], "");
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    let camera = stdout.lines().find(|l| l.contains("camera")).expect("a camera line");
    assert!(camera.starts_with("FAIL") && camera.contains("/dev/video57"), "{camera}");
    assert!(stdout.lines().any(|l| l.starts_with("ok") && l.contains("database")), "{stdout}");
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared")]
fn eval_pad_json_reports_error_rates_consistent_with_its_scores() {
    let pad = common::shared_dir().expect(common::NEEDS_SHARED).join("testdata/pad");
    let (real, attack) = (pad.join("bona_fide"), pad.join("attack"));
    let site = new_site("");
    let args = ["eval-pad", "--json", "--real", real.to_str().unwrap()];
    let out = site.ok(&[&args[..], &["--attack", attack.to_str().unwrap()]].concat(), "");
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let keys: Vec<&str> = report.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = [
        "apcer",
        "bpcer",
        "threshold",
        "attacks",
        "bona_fide",
        "attack_scores",
        "bona_fide_scores",
    ];
    want.sort();
    assert_eq!(keys, want);
    let scores = |k: &str| -> Vec<f64> {
        report[k].as_array().unwrap().iter().map(|s| s.as_f64().unwrap()).collect()
    };
    let (attacks, bona_fide) = (scores("attack_scores"), scores("bona_fide_scores"));
    assert!(!attacks.is_empty() && !bona_fide.is_empty());
    assert_eq!(report["attacks"].as_u64().unwrap() as usize, attacks.len());
    assert_eq!(report["bona_fide"].as_u64().unwrap() as usize, bona_fide.len());
    let t = report["threshold"].as_f64().unwrap();
    let share = |n: usize, of: usize| n as f64 / of as f64;
    let apcer = share(attacks.iter().filter(|&&s| s >= t).count(), attacks.len());
    let bpcer = share(bona_fide.iter().filter(|&&s| s < t).count(), bona_fide.len());
    assert!((report["apcer"].as_f64().unwrap() - apcer).abs() < 1e-9);
    assert!((report["bpcer"].as_f64().unwrap() - bpcer).abs() < 1e-9);
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared")]
fn the_readmes_first_command_makes_demo_residents_who_get_in_by_pin_card_and_face() {
    let faces = common::dev_faces_dir().expect(common::NEEDS_SHARED);
    let dir = tempfile::tempdir().unwrap();
    let sim = concat!(env!("CARGO_MANIFEST_DIR"), "/hardware/sim.toml");
    let models = common::models_dir();
    let gate = [
        "--config",
        sim,
        "--models",
        models.to_str().unwrap(),
        "run",
        "--sim",
        "--demo",
        faces.to_str().unwrap(),
        "--headless",
    ];
    // Commands typed on standard input, as the README shows them.
    let first = facegate_in(
        dir.path(),
        &gate,
        "tap pin\ntype 1201\ntype 2580\nwait 8000\ncard 900002\nwait 8000\n",
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(granted(&decisions(&text(&first.stdout))), [true, true]);
    let stderr = text(&first.stderr);
    let made = stderr.lines().filter(|l| l.starts_with("demo resident ")).count();
    assert_eq!(made, 4, "{stderr}");
    assert!(dir.path().join("facegate-sim.db").exists(), "the database sits in the working folder");

    // The second start keeps the residents; demo resident 1201 shows a photo not enrolled.
    let identity = stderr
        .lines()
        .find_map(|l| l.strip_prefix("demo resident 1201: face from "))
        .and_then(|l| l.split(',').next())
        .unwrap();
    let images = facegate::vision::evaluation::scan(&faces).unwrap();
    let third = images.iter().filter(|i| i.identity == identity).nth(2).unwrap();
    let face = format!("show {}\ntap face\nwait 4000\n", third.path.display());
    let second = facegate_in(dir.path(), &gate, &face);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(!text(&second.stderr).contains("demo resident"), "no new demo residents");
    assert_eq!(granted(&decisions(&text(&second.stdout))), [true]);
}

/// The eight-digit code printed in a line of output.
fn printed_code(line: &str) -> String {
    let digits = line.split(|c: char| !c.is_ascii_digit()).rfind(|w| w.len() == 8);
    digits.unwrap_or_else(|| panic!("no code in {line:?}")).to_owned()
}

#[test]
fn admin_visitor_pin_reset_and_enrol_book_print_what_a_manager_passes_on() {
    let site = new_site("");
    let added = site.ok(&["admin", "visitor", "add", "--label", "plumber", "--hours", "4"], "");
    assert!(added.starts_with("visitor pass 1: code "), "{added}");
    let code = printed_code(&added);
    let listed = site.ok(&["admin", "visitor", "list"], "");
    assert!(listed.contains("plumber") && listed.contains("1/1"), "{listed}");
    assert!(!listed.contains(&code), "the code is shown only once: {listed}");
    let two_doors = ["admin", "visitor", "add", "--door", "north", "--door", "east"];
    let refused = site.run(&two_doors, "");
    assert!(!refused.status.success() && text(&refused.stderr).contains("one door"));
    assert_eq!(site.ok(&["admin", "visitor", "revoke", "1"], "").trim(), "visitor pass 1 revoked");
    let json = site.ok(&["admin", "visitor", "list", "--json"], "");
    let passes: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(passes[0]["revoked_at"].is_i64(), "{json}");

    let reset = site.ok(&["admin", "pin", "reset", "1201"], "");
    assert!(reset.contains("valid 24 hours"), "{reset}");
    printed_code(&reset);
    assert!(!site.run(&["admin", "pin", "reset", "9999"], "").status.success());

    let booked = site.ok(&["admin", "enrol", "book", "1201", "--door", "north"], "");
    assert!(booked.starts_with("enrolment booking 1 for resident 1201 at north until"), "{booked}");
    let no_images = site.run(&["admin", "enrol", "--resident", "1201"], "");
    assert!(!no_images.status.success(), "enrolment from photos still needs photos");
    let log = site.ok(&["audit", "list", "--json"], "");
    for kind in
        ["visitor_pass_created", "visitor_pass_revoked", "pin_reset_issued", "enrolment_booked"]
    {
        assert!(log.contains(kind), "{kind} not audited: {log}");
    }
    assert!(!log.contains(&code), "no code in the audit log");
}
