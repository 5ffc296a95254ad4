//! The door stays safe whatever the gate does: the strike answers the exit button while the
//! gate is stuck in a camera call, and a gate that is stopped, killed or cannot start leaves the
//! strike locked on its next start. The process tests use the simulated door's state file
//! (`[door] sim_state`), whose levels outlive the process as a real GPIO output's do.

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use facegate::config::Config;
use facegate::door::{DoorController, DoorThread, Input, Output, SimGpio};
use facegate::runtime::camera::StalledCamera;
use facegate::runtime::{Action, Gate, Screen};
use facegate::store::Store;
use facegate::vision::{FaceEngine, FakeEngine};

fn wait_for(what: impl Fn() -> bool, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if what() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    what()
}

#[test]
fn the_exit_button_energises_the_strike_while_the_gate_is_blocked_in_a_camera_call() {
    let dir = tempfile::tempdir().unwrap();
    let store_config = common::store_in(dir.path());
    let config = Config { store: store_config, ..Config::default() };
    let store = Store::init(&config.store).unwrap();
    let faces: Box<dyn FaceEngine> = Box::new(FakeEngine::default());
    let gpio = SimGpio::default();
    let controller = DoorController::new(gpio.clone(), config.door.clone(), 0).unwrap();
    let door = DoorThread::spawn(controller);
    let camera = StalledCamera::new(Duration::from_secs(5));
    let settings = config.gate_settings();
    let mut gate = Gate::new(settings, store, Ok(faces), camera, door, 1_780_000_000).unwrap();
    gate.act(Action::ChooseFace, 0).unwrap();
    assert!(matches!(gate.screen(), Screen::Face { .. }), "a face session runs");

    let returned = Arc::new(AtomicBool::new(false));
    let gate_loop = {
        let returned = returned.clone();
        std::thread::spawn(move || {
            let result = gate.tick(100).map(drop);
            returned.store(true, Ordering::Relaxed);
            result
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    gpio.drive(Input::ExitButton, true);
    assert!(
        wait_for(|| gpio.output(Output::Strike), Duration::from_secs(2)),
        "the strike is energised by the exit button"
    );
    assert!(!returned.load(Ordering::Relaxed), "while the gate is still inside the camera call");
    gpio.drive(Input::ExitButton, false);
    gate_loop.join().unwrap().unwrap();
}

/// A config whose simulated door keeps its levels in `door.state`.
fn config_in(dir: &Path) -> PathBuf {
    let config = dir.join("gate.toml");
    let text = format!(
        "[paths]\nmodels = {:?}\n[store]\ndatabase = {:?}\nkey_file = {:?}\n[door]\nsim_state = {:?}\n",
        common::models_dir(),
        dir.join("gate.db"),
        dir.join("site.key"),
        dir.join("door.state"),
    );
    std::fs::write(&config, text).unwrap();
    let init = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--config")
        .arg(&config)
        .arg("init")
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    config
}

fn strike_energised(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("door.state")).unwrap_or_default().contains("strike=1")
}

/// `run --sim --headless` with the exit button held, once the strike is energised.
fn gate_with_the_strike_energised(dir: &Path, config: &Path) -> Child {
    let mut gate = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--config")
        .arg(config)
        .args(["run", "--sim", "--headless"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    gate.stdin.as_mut().unwrap().write_all(b"exit press\n").unwrap();
    assert!(wait_for(|| strike_energised(dir), Duration::from_secs(60)), "the exit button unlocks");
    gate
}

/// The next start, on a database that cannot be opened: it fails, naming the database, and
/// the strike has been driven locked before the store was touched.
fn restart_on_a_corrupt_database(dir: &Path, config: &Path) {
    std::fs::write(
        dir.join("gate.db"),
        b"this is no SQLite file, only some bytes on a worn SD card",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--config")
        .arg(config)
        .args(["run", "--sim", "--headless"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("gate.db") && stderr.contains("damaged"),
        "the error names the database and what is wrong: {stderr}"
    );
    assert!(!strike_energised(dir), "the strike is locked before the store is opened");
}

#[test]
fn a_sigkilled_gate_leaves_the_strike_where_it_was_and_the_next_start_locks_it_first() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let mut gate = gate_with_the_strike_energised(dir.path(), &config);
    gate.kill().unwrap();
    gate.wait().unwrap();
    assert!(strike_energised(dir.path()), "SIGKILL runs no code: the output stays energised");
    restart_on_a_corrupt_database(dir.path(), &config);
}

#[test]
fn a_sigterm_locks_the_strike_before_the_gate_exits() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let mut gate = gate_with_the_strike_energised(dir.path(), &config);
    let pid = gate.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(gate.wait().unwrap().success(), "SIGTERM ends the gate normally");
    assert!(!strike_energised(dir.path()), "locked on the way out");
    restart_on_a_corrupt_database(dir.path(), &config);
}
