//! `facegate bench door`: how long the exit button takes to energise the strike while the gate
//! is idle, while a face session runs inference, and while the gate is stuck in a camera call
//! that blocks for 5 s. The gate runs as on the device, the door on its own thread
//! ([`DoorThread`]) over simulated lines; a second thread presses the button and waits for
//! the strike.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::config::Config;
use crate::door::{DoorController, DoorThread, Input, Output, SimGpio};
use crate::runtime::camera::StalledCamera;
use crate::runtime::{Action, FrameSource, Gate, PhotoCamera, Screen};
use crate::store::{Store, StoreConfig, unix_now};
use crate::vision::{FaceEngine, ModelEngine};

/// Press-to-strike latencies of one situation, in milliseconds.
#[derive(Debug, Serialize)]
pub struct Latency {
    pub situation: &'static str,
    pub presses: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Measures `presses` exit-button presses in each situation. Debouncing is set to 0 so that the
/// figures show what the threads add; the configured `debounce_ms` comes on top, unchanged.
pub fn run(config: &Config, presses: usize, photo: Option<&Path>) -> anyhow::Result<Vec<Latency>> {
    let mut config = config.clone();
    config.door.debounce_ms = 0;
    let scene = photo.map(Path::to_path_buf);
    let mut camera = PhotoCamera::default();
    camera.show(scene);
    Ok(vec![
        measure(&config, "idle", PhotoCamera::default(), false, presses)?,
        measure(&config, "face session", camera, true, presses)?,
        measure(
            &config,
            "camera stalled 5 s",
            StalledCamera::new(Duration::from_secs(5)),
            true,
            presses,
        )?,
    ])
}

fn measure<C: FrameSource + 'static>(
    config: &Config,
    situation: &'static str,
    camera: C,
    face_session: bool,
    presses: usize,
) -> anyhow::Result<Latency> {
    let dir = scratch_dir()?;
    let mut config = config.clone();
    config.store = StoreConfig {
        database: dir.join("bench.db"),
        key_file: dir.join("bench.key"),
        ..StoreConfig::default()
    };
    let result = (|| {
        let store = Store::init(&config.store)?;
        let faces: Box<dyn FaceEngine> = Box::new(
            ModelEngine::load(&config.paths.models, &config.vision)
                .context("the face models are needed for a face session")?,
        );
        let gpio = SimGpio::default();
        let controller = DoorController::new(gpio.clone(), config.door.clone(), 0)?;
        let door = DoorThread::spawn(controller);
        let gate = Gate::new(config.gate_settings(), store, Ok(faces), camera, door, unix_now())?;
        let stop = Arc::new(AtomicBool::new(false));
        let gate_loop = {
            let stop = stop.clone();
            std::thread::spawn(move || run_gate(gate, face_session, &stop))
        };
        let latencies = press(&gpio, presses);
        stop.store(true, Ordering::Relaxed);
        gate_loop.join().map_err(|_| anyhow::anyhow!("the gate's thread panicked"))??;
        summarise(situation, latencies?)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The gate's loop: idle turns of 50 ms as on the device, or face sessions back to back.
fn run_gate<C: FrameSource>(
    mut gate: Gate<C, DoorThread>,
    face_session: bool,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let now = started.elapsed().as_millis() as u64;
        if !face_session {
            std::thread::sleep(Duration::from_millis(50));
        } else if !matches!(gate.screen(), Screen::Face { .. }) {
            gate.act(Action::Cancel, now)?;
            gate.act(Action::ChooseFace, now)?;
            anyhow::ensure!(
                matches!(gate.screen(), Screen::Face { .. }),
                "no face session could start: {:?}",
                gate.screen()
            );
        }
        gate.tick(now)?;
    }
    Ok(())
}

/// Presses the exit button, waits for the strike, then opens and closes the door to relock.
fn press(gpio: &SimGpio, presses: usize) -> anyhow::Result<Vec<f64>> {
    let wait = |what: &dyn Fn() -> bool, step: &str| -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !what() {
            anyhow::ensure!(Instant::now() < deadline, "the door did not {step} within 10 s");
            std::thread::sleep(Duration::from_micros(100));
        }
        Ok(())
    };
    let mut latencies = Vec::with_capacity(presses);
    for _ in 0..presses {
        let pressed = Instant::now();
        gpio.drive(Input::ExitButton, true);
        wait(&|| gpio.output(Output::Strike), "unlock")?;
        latencies.push(pressed.elapsed().as_secs_f64() * 1e3);
        gpio.drive(Input::ExitButton, false);
        gpio.drive(Input::DoorContact, true);
        std::thread::sleep(Duration::from_millis(15));
        gpio.drive(Input::DoorContact, false);
        wait(&|| !gpio.output(Output::Strike), "relock")?;
    }
    Ok(latencies)
}

fn summarise(situation: &'static str, mut ms: Vec<f64>) -> anyhow::Result<Latency> {
    anyhow::ensure!(!ms.is_empty(), "no presses to measure");
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Ok(Latency { situation, presses: ms.len(), p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1.0) })
}

/// A fresh folder for the bench's throwaway database and key.
fn scratch_dir() -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
    let dir =
        std::env::temp_dir().join(format!("facegate-bench-door-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot make {}", dir.display()))?;
    Ok(dir)
}
