//! `facegate bench gate`: the gate end to end in the simulator, from the tap on Face to the
//! strike, for an enrolled resident standing in front of the camera. The gate runs in the
//! device's own loop ([`device::run`]: the taps, a card if one comes within the turn's short wait
//! while the camera is open, one tick per turn), with its store, the models, the door on its own thread over simulated lines, and a
//! camera that delivers the resident's photo as a 640×480 JPEG at 15 fps, decoded per frame as
//! the webcam's MJPEG frames are.
//!
//! A photo cannot turn its head, so with liveness `both` the simulated resident follows each
//! prompt by moving the real detection's landmarks as a turning head moves them
//! ([`turn_head`]) from the next frame on, and back when the prompt goes: the figure is the
//! gate's own part of a head-turn session (every frame's inference and the challenge's frame
//! counts), without a person's reaction time. Passive liveness judges the real photo.
//!
//! The gate's time limits (the face timeout, the head-turn's time per turn) are widened in the
//! bench: on a loaded machine a slow session would otherwise end in a timeout and lose its
//! figure. They only decide when a session gives up, so the measured path is the same.
//!
//! Also measured: the start to the idle screen (store, model verification and loading), and the
//! gate's resident memory after `decisions` decisions on one gate (one in 100 by face, the
//! others by card).
//!
//! Each figure is written as one JSON line as soon as it is measured, so a long matrix that is
//! stopped keeps what it measured.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI8, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::config::Config;
use crate::credentials::CardUid;
use crate::credentials::readers::sim::SimReader;
use crate::door::{DoorController, DoorThread, Input, Output, SimGpio};
use crate::manage;
use crate::runtime::notify::Notifier;
use crate::runtime::{Action, Event, FrameSource, Gate, Screen, device};
use crate::store::{ConsentGrant, NewResident, Store, StoreConfig, unix_now};
use crate::vision::fake::turn_head;
use crate::vision::liveness::LivenessMode;
use crate::vision::liveness::active::Turn;
use crate::vision::{
    BackendKind, Embedding, FaceEngine, FacePipeline, Frame, FrameResult, ModelEngine, VisionError,
};

/// What to measure.
pub struct Plan {
    pub photo: PathBuf,
    pub enrol: Vec<PathBuf>,
    pub sessions: usize,
    pub backends: Vec<BackendKind>,
    pub threads: Vec<usize>,
    /// Liveness modes to time sessions in (empty: off, passive and both).
    pub liveness: Vec<LivenessMode>,
    /// Decisions of the memory run (0: no memory run).
    pub decisions: usize,
}

/// One measured figure, with the machine's load (`/proc/loadavg`) before and after it.
#[derive(Debug, Serialize)]
pub struct Figure<T> {
    /// `sessions` or `memory`.
    pub what: &'static str,
    pub load_before: String,
    pub load_after: String,
    #[serde(flatten)]
    pub figure: T,
}

/// Tap-to-strike latencies of one engine, thread count and liveness mode.
#[derive(Debug, Serialize)]
pub struct Sessions {
    pub backend: BackendKind,
    pub threads: usize,
    pub liveness: LivenessMode,
    /// Opening the store, verifying and loading the models, up to the idle screen.
    pub start_ms: f64,
    pub sessions: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// Turns of the gate's loop (ticks) per session, median.
    pub turns_p50: usize,
}

/// The gate's resident memory over many decisions.
#[derive(Debug, Serialize)]
pub struct Memory {
    pub backend: BackendKind,
    pub threads: usize,
    pub liveness: LivenessMode,
    pub decisions: usize,
    pub face_decisions: usize,
    /// VmRSS of the process at the idle screen, after a tenth of the decisions, after all.
    pub rss_idle_kib: u64,
    pub rss_tenth_kib: u64,
    pub rss_after_kib: u64,
}

const RESIDENT: &str = "1201";
const CARD: &str = "4512345";
const CAMERA: (u32, u32) = (640, 480);
const FPS: u32 = 15;
/// How many times the gate's time limits a bench session may take.
const PATIENCE: u16 = 20;
/// One decision in this many is by face in the memory run.
const FACE_EVERY: usize = 100;

/// Measures `plan`, writing each figure to `out` as one JSON line when it is measured: a line
/// per engine, thread count and liveness mode, then the memory run's.
pub fn run(config: &Config, plan: &Plan, out: &mut impl Write) -> anyhow::Result<()> {
    anyhow::ensure!(plan.sessions > 0, "nothing to measure");
    let scene = camera_jpeg(&plan.photo)?;
    let enrol = if plan.enrol.is_empty() { vec![plan.photo.clone()] } else { plan.enrol.clone() };
    let template = enrolment(config, &enrol)?;
    let modes = match plan.liveness.as_slice() {
        [] => &[LivenessMode::Off, LivenessMode::Passive, LivenessMode::Both][..],
        chosen => chosen,
    };
    for &backend in &plan.backends {
        for &threads in &plan.threads {
            for &liveness in modes {
                let setup = Setup { backend, threads, liveness };
                write_figure(out, "sessions", || {
                    measure_sessions(config, &setup, &scene, &template, plan.sessions)
                })?;
            }
        }
    }
    if plan.decisions > 0 {
        let setup = Setup {
            backend: plan.backends[0],
            threads: plan.threads[0],
            liveness: LivenessMode::Passive,
        };
        write_figure(out, "memory", || {
            measure_memory(config, &setup, &scene, &template, plan.decisions)
        })?;
    }
    Ok(())
}

/// Measures one figure and writes it, with the load around it, as a JSON line.
fn write_figure<T: Serialize>(
    out: &mut impl Write,
    what: &'static str,
    measure: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<()> {
    let load_before = load_average();
    let figure = measure()?;
    let line =
        serde_json::to_string(&Figure { what, load_before, load_after: load_average(), figure })?;
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// Which engine, threads and liveness a gate runs with.
struct Setup {
    backend: BackendKind,
    threads: usize,
    liveness: LivenessMode,
}

fn measure_sessions(
    config: &Config,
    setup: &Setup,
    scene: &[u8],
    template: &Embedding,
    count: usize,
) -> anyhow::Result<Sessions> {
    let steps = vec![Step::Face { timed: true }; count];
    let (start_ms, driver) = with_gate(config, setup, scene, template, steps, |_| {})?;
    let mut latencies = driver.latencies;
    latencies.sort_by(f64::total_cmp);
    let mut turns = driver.turns;
    turns.sort_unstable();
    Ok(Sessions {
        backend: setup.backend,
        threads: setup.threads,
        liveness: setup.liveness,
        start_ms,
        sessions: latencies.len(),
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        turns_p50: turns[turns.len() / 2],
    })
}

fn measure_memory(
    config: &Config,
    setup: &Setup,
    scene: &[u8],
    template: &Embedding,
    decisions: usize,
) -> anyhow::Result<Memory> {
    let steps: Vec<Step> = (0..decisions)
        .map(|i| if i % FACE_EVERY == 0 { Step::Face { timed: false } } else { Step::Card })
        .collect();
    let face_decisions = steps.iter().filter(|s| matches!(s, Step::Face { .. })).count();
    let (_, driver) = with_gate(config, setup, scene, template, steps, |driver| {
        driver.rss_at = Some((decisions / 10).max(1));
    })?;
    Ok(Memory {
        backend: setup.backend,
        threads: setup.threads,
        liveness: setup.liveness,
        decisions,
        face_decisions,
        rss_idle_kib: driver.rss[0],
        rss_tenth_kib: driver.rss[1],
        rss_after_kib: driver.rss[2],
    })
}

/// Starts a gate for `setup` in a scratch folder, runs `steps` through the device loop and
/// returns the start time in milliseconds and the driver with its measurements.
fn with_gate(
    config: &Config,
    setup: &Setup,
    scene: &[u8],
    template: &Embedding,
    steps: Vec<Step>,
    adjust: impl FnOnce(&mut Driver),
) -> anyhow::Result<(f64, Driver)> {
    let dir = scratch_dir()?;
    let result = (|| {
        let mut config = config.clone();
        config.store = StoreConfig {
            database: dir.join("bench.db"),
            key_file: dir.join("bench.key"),
            ..StoreConfig::default()
        };
        config.vision.backend = setup.backend;
        config.vision.threads = setup.threads;
        config.vision.liveness.mode = setup.liveness;
        widen_time_limits(&mut config);
        register_resident(&config, template)?;

        let gpio = SimGpio::default();
        let door = DoorThread::spawn(DoorController::new(gpio.clone(), config.door.clone(), 0)?);
        let pose = Arc::new(AtomicI8::new(0));
        let started = Instant::now();
        let store = Store::open(&config.store)?;
        let engine = ModelEngine::load(&config.paths.models, &config.vision)?;
        let faces: Box<dyn FaceEngine> = Box::new(Person { engine, pose: pose.clone() });
        let camera = BenchCamera { jpeg: scene.to_vec(), opened: None, last: 0 };
        let mut gate =
            Gate::new(config.gate_settings(), store, Ok(faces), camera, door, unix_now())?;
        let start_ms = ms(started);
        anyhow::ensure!(
            matches!(gate.screen(), Screen::Idle { .. }),
            "the gate did not start on the idle screen: {:?}",
            gate.screen()
        );

        let (taps, tap_inbox) = mpsc::channel();
        let (card_input, card_output) = std::io::pipe()?;
        let mut reader = SimReader::new(std::io::BufReader::new(card_input));
        let stop = AtomicBool::new(false);
        let debounce_ms = config.door.debounce_ms;
        let mut driver = Driver::new(steps, taps, card_output, gpio, debounce_ms, pose);
        adjust(&mut driver);
        driver.rss.push(resident_kib()?);
        let notifier = Notifier::from_env()?;
        device::run(&mut gate, &mut reader, &notifier, &tap_inbox, &stop, |gate, _, events| {
            driver.turn(gate.screen(), events, &stop)
        })?;
        driver.rss.push(resident_kib()?);
        match driver.failed.take() {
            Some(reason) => Err(anyhow::anyhow!(reason)),
            None => Ok((start_ms, driver)),
        }
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A session gives up only after [`PATIENCE`] times the gate's limits (see the module doc).
fn widen_time_limits(config: &mut Config) {
    config.gate.face_timeout_ms = config.gate.face_timeout_ms.saturating_mul(PATIENCE.into());
    let active = &mut config.vision.liveness.active;
    active.t_turn *= f32::from(PATIENCE);
    active.t_return *= f32::from(PATIENCE);
}

/// The store with the resident: face enrolled from `template`, a card.
fn register_resident(config: &Config, template: &Embedding) -> anyhow::Result<()> {
    // Now, not at time 0: the gate's retention purge would take a template unused since 1970.
    let now = unix_now();
    let mut store = Store::init(&config.store)?;
    let resident =
        NewResident { number: RESIDENT.into(), name: "Bench".into(), ..Default::default() };
    store.add_resident(&resident, now, "bench")?;
    manage::add_card(&mut store, RESIDENT, &CARD.parse::<CardUid>()?, "", now, "bench")?;
    let consent = ConsentGrant {
        text_version: "bench".into(),
        text_sha256: "00".repeat(32),
        operator: "bench".into(),
        guardian: None,
    };
    let minor_age = config.consent.minor_age;
    manage::enrol_face(&mut store, RESIDENT, template, Some(&consent), minor_age, None, now)?;
    Ok(())
}

/// The resident's template: the fused embeddings of the enrolment photos.
fn enrolment(config: &Config, photos: &[PathBuf]) -> anyhow::Result<Embedding> {
    let mut pipeline = FacePipeline::load(&config.paths.models, &config.vision)?;
    let embeddings = photos
        .iter()
        .map(|p| pipeline.embed_image_file(p).with_context(|| format!("enrolling {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Embedding::mean(&embeddings).context("the enrolment photos cancel out")
}

/// The photo letterboxed into a camera frame, as JPEG.
fn camera_jpeg(photo: &Path) -> anyhow::Result<Vec<u8>> {
    let frame = Frame::open(photo)?;
    let (width, height) = CAMERA;
    let factor = (width as f32 / frame.width() as f32).min(height as f32 / frame.height() as f32);
    let fitted = frame.scaled(factor.min(1.0));
    let view = image::RgbImage::from_raw(fitted.width(), fitted.height(), fitted.pixels().to_vec())
        .context("a frame's pixels make an image")?;
    let mut canvas = image::RgbImage::new(width, height);
    let (x, y) = ((width - view.width()) / 2, (height - view.height()) / 2);
    image::imageops::overlay(&mut canvas, &view, x.into(), y.into());
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&canvas)?;
    Ok(jpeg)
}

/// A camera showing one scene: a new frame every 1/[`FPS`] s from its opening, each decoded
/// when the gate takes it (the newest only, as the webcam keeps).
struct BenchCamera {
    jpeg: Vec<u8>,
    opened: Option<Instant>,
    last: u128,
}

impl FrameSource for BenchCamera {
    fn open(&mut self) -> Result<(), VisionError> {
        self.opened = Some(Instant::now());
        self.last = 0;
        Ok(())
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, VisionError> {
        let Some(opened) = self.opened else { return Ok(None) };
        let newest = opened.elapsed().as_millis() * u128::from(FPS) / 1000;
        if newest <= self.last {
            return Ok(None);
        }
        self.last = newest;
        Frame::decode(&self.jpeg).map(Some).map_err(|e| VisionError::Camera(e.to_string()))
    }

    fn close(&mut self) {
        self.opened = None;
    }

    fn is_open(&self) -> bool {
        self.opened.is_some()
    }
}

/// The resident in front of the camera: the real engine sees the photo; while `pose` is ±1
/// the head is turned that way (see the module doc).
struct Person {
    engine: ModelEngine,
    pose: Arc<AtomicI8>,
}

impl FaceEngine for Person {
    fn process(&mut self, frame: &Frame) -> Result<FrameResult, VisionError> {
        let mut result = self.engine.process(frame)?;
        let pose = self.pose.load(Ordering::Relaxed);
        if let Some(face) = result.face.as_mut()
            && pose != 0
        {
            turn_head(&mut face.landmarks, f32::from(pose));
        }
        Ok(result)
    }
}

/// What the simulated resident does next.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Taps Face and waits for the door; `timed`: tap to strike is measured, then the resident
    /// walks through (the contact opens and closes, the strike relocks) before the next step.
    Face { timed: bool },
    /// Presents the card.
    Card,
}

/// The simulated resident, acting after each turn of the gate's loop.
struct Driver {
    steps: std::vec::IntoIter<Step>,
    current: Option<(Step, Instant, usize)>,
    taps: mpsc::Sender<Action>,
    cards: std::io::PipeWriter,
    gpio: SimGpio,
    /// The door contact's debounce (`[door] debounce_ms`).
    debounce_ms: u64,
    pose: Arc<AtomicI8>,
    latencies: Vec<f64>,
    turns: Vec<usize>,
    /// After how many decisions the resident memory is read (once), and the readings: at the
    /// idle screen, then, and at the end.
    rss_at: Option<usize>,
    rss: Vec<u64>,
    done: usize,
    failed: Option<String>,
}

impl Driver {
    fn new(
        steps: Vec<Step>,
        taps: mpsc::Sender<Action>,
        cards: std::io::PipeWriter,
        gpio: SimGpio,
        debounce_ms: u64,
        pose: Arc<AtomicI8>,
    ) -> Self {
        Self {
            steps: steps.into_iter(),
            current: None,
            taps,
            cards,
            gpio,
            debounce_ms,
            pose,
            latencies: Vec::new(),
            turns: Vec::new(),
            rss_at: None,
            rss: Vec::new(),
            done: 0,
            failed: None,
        }
    }

    fn turn(&mut self, screen: &Screen, events: &[Event], stop: &AtomicBool) {
        if let Err(err) = self.act(screen, events) {
            self.failed = Some(format!("{err:#}"));
            stop.store(true, Ordering::Relaxed);
        } else if self.current.is_none() {
            stop.store(true, Ordering::Relaxed);
        }
    }

    fn act(&mut self, screen: &Screen, events: &[Event]) -> anyhow::Result<()> {
        if let Some((step, since, turns)) = self.current.as_mut() {
            *turns += 1;
            let pose = match screen {
                Screen::Face { prompt: Some(Turn::Plus), .. } => 1,
                Screen::Face { prompt: Some(Turn::Minus), .. } => -1,
                _ => 0,
            };
            self.pose.store(pose, Ordering::Relaxed);
            let decided = events.iter().find_map(|e| match e {
                Event::Decision { granted, reason, .. } => Some((*granted, format!("{reason:?}"))),
                Event::Screen(Screen::Result { granted: false, outcome, .. }) => {
                    Some((false, format!("{outcome:?}")))
                }
                _ => None,
            });
            let Some((granted, why)) = decided else { return Ok(()) };
            anyhow::ensure!(granted, "the resident was not let in ({step:?}): {why}");
            if let Step::Face { timed: true } = step {
                wait_for(|| self.gpio.output(Output::Strike), "unlock", Duration::from_secs(10))?;
                self.latencies.push(ms(*since));
                self.turns.push(*turns);
                self.walk_through()?;
            }
            self.current = None;
            self.done += 1;
            if self.rss_at == Some(self.done) {
                self.rss.push(resident_kib()?);
            }
        }
        let Some(step) = self.steps.next() else { return Ok(()) };
        match step {
            Step::Face { .. } => {
                self.taps.send(Action::Cancel)?;
                self.taps.send(Action::ChooseFace)?;
            }
            Step::Card => writeln!(self.cards, "{CARD}")?,
        }
        self.current = Some((step, Instant::now(), 0));
        Ok(())
    }

    /// The resident opens the door, walks through and closes it; the strike relocks. The door
    /// stays open, and then closed, for twice the contact's debounce, or the door thread would
    /// not see it open and the strike would only relock at the end of its pulse.
    fn walk_through(&self) -> anyhow::Result<()> {
        let settle = Duration::from_millis(2 * self.debounce_ms);
        self.gpio.drive(Input::DoorContact, true);
        std::thread::sleep(settle);
        self.gpio.drive(Input::DoorContact, false);
        // Well within the strike's pulse (5 s by default): the closing must relock it.
        let closed = Duration::from_secs(2);
        wait_for(|| !self.gpio.output(Output::Strike), "relock when closed", closed)?;
        std::thread::sleep(settle);
        Ok(())
    }
}

fn wait_for(what: impl Fn() -> bool, step: &str, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while !what() {
        anyhow::ensure!(Instant::now() < deadline, "the door did not {step} within {within:?}");
        std::thread::sleep(Duration::from_micros(100));
    }
    Ok(())
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// This process's resident memory (VmRSS), in KiB.
fn resident_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).context("no VmRSS")?;
    Ok(line.trim().trim_end_matches("kB").trim().parse()?)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_owned()
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// A fresh folder for the bench's throwaway database and key.
fn scratch_dir() -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
    let dir =
        std::env::temp_dir().join(format!("facegate-bench-gate-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot make {}", dir.display()))?;
    Ok(dir)
}
