//! `facegate run`: the gate. `--sim` runs it on a PC with a photo-fed camera, a simulated door
//! and a simulated card reader; `--script FILE` runs a scenario headless and prints every event
//! as a JSON line (the base of the end-to-end tests); without a script, commands are read from
//! standard input (see `runtime::script` for the commands).
//!
//! Every mode claims the door and drives the strike locked before it opens the store, the key
//! or the models, so a gate that cannot start (a damaged database, say) leaves the door locked.
//! Every mode but the scripted one runs the door on its own thread with its watchdog.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::Config;
use crate::credentials::readers::CardReader;
use crate::credentials::{CardUid, Pin};
use crate::door::{DoorController, DoorPort, DoorThread};
use crate::language::Language;
use crate::manage;
use crate::pi::{RppalGpio, open_reader};
#[cfg(not(feature = "camera"))]
use crate::runtime::camera::{NO_CAMERA, NoCamera};
use crate::runtime::gate::FaceUnavailable;
use crate::runtime::notify::Notifier;
use crate::runtime::script::Simulation;
#[cfg(feature = "camera")]
use crate::runtime::webcam::Webcam;
use crate::runtime::{Event, FrameSource, Gate, PhotoCamera, device};
use crate::store::{ConsentGrant, NewResident, Store, unix_now};
use crate::vision::evaluation::scan;
use crate::vision::{Embedding, FaceEngine, FacePipeline, ModelEngine};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Simulated hardware on a PC. Without it: the device's GPIO door, card reader, camera and
    /// touchscreen.
    #[arg(long)]
    sim: bool,
    /// No window: with --sim, commands from `--script FILE` or standard input; on the device, a
    /// door with a card reader only. Events are printed as JSON lines.
    #[arg(long)]
    headless: bool,
    /// A scenario to run headless; events are printed as JSON lines.
    #[arg(long, requires = "headless")]
    script: Option<PathBuf>,
    /// With an empty database: make demo residents from this photo folder (`<identity>/<image>`).
    #[arg(long)]
    demo: Option<PathBuf>,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    if !args.sim {
        return on_the_device(config, args.headless);
    }
    let gpio = config.door.sim_gpio()?;
    let controller = DoorController::new(gpio.clone(), config.door.clone(), 0)?;
    if let Some(script) = &args.script {
        let text = std::fs::read_to_string(script)
            .with_context(|| format!("cannot read {}", script.display()))?;
        let gate = simulated_gate(config, args.demo.as_deref(), controller)?;
        let base = script.parent().unwrap_or(Path::new("."));
        let mut sim = Simulation::new(gate, gpio, base);
        for line in text.lines() {
            print_events(&sim.run_line(line)?)?;
        }
        return Ok(());
    }
    let door = DoorThread::spawn(controller);
    let sim =
        Simulation::new(simulated_gate(config, args.demo.as_deref(), door)?, gpio, Path::new("."));
    if args.headless { interactive(sim) } else { windows(sim, args.demo.as_deref()) }
}

/// The simulator's gate around a door that is already locked: the store (made with demo
/// residents first when asked), the face models and the photo camera.
fn simulated_gate<D: DoorPort>(
    config: &Config,
    demo: Option<&Path>,
    door: D,
) -> anyhow::Result<Gate<PhotoCamera, D>> {
    if let Some(photos) = demo
        && !config.store.database.exists()
    {
        make_demo_residents(config, photos)?;
    }
    let store = Store::open(&config.store)?;
    let faces = face_engine(config);
    Ok(Gate::new(config.gate_settings(), store, faces, PhotoCamera::default(), door, unix_now())?)
}

#[cfg(feature = "window")]
fn windows(sim: Simulation<DoorThread>, photos: Option<&Path>) -> anyhow::Result<()> {
    let mut people = match photos {
        Some(photos) => demo_people(photos)?,
        None => Vec::new(),
    };
    people.push(("Nobody".to_owned(), None));
    crate::ui::desktop::run(sim, people)
}

#[cfg(not(feature = "window"))]
fn windows(_: Simulation<DoorThread>, _: Option<&Path>) -> anyhow::Result<()> {
    anyhow::bail!("this build has no window: rebuild with `--features window`, or add --headless")
}

/// The people the simulator can put in front of the camera: the demo residents, each with a
/// photo not used for their enrolment, then two visitors who are not enrolled.
#[cfg(feature = "window")]
fn demo_people(photos: &Path) -> anyhow::Result<Vec<(String, Option<PathBuf>)>> {
    let images = scan(photos)?;
    let mut people = Vec::new();
    for (k, identity) in demo_identities(&images).into_iter().take(DEMO_RESIDENTS + 2).enumerate() {
        let third = images.iter().filter(|i| i.identity == identity).nth(2);
        let label = match k.checked_sub(DEMO_RESIDENTS) {
            None => format!("Resident {}", 1201 + k),
            Some(v) => format!("Visitor {} (not enrolled)", v + 1),
        };
        people.push((label, third.map(|i| i.path.clone())));
    }
    Ok(people)
}

/// Identities with at least three photos: two to enrol, one to show the camera.
fn demo_identities(images: &[crate::vision::evaluation::LabelledImage]) -> Vec<&str> {
    let mut identities: Vec<&str> = images.iter().map(|i| i.identity.as_str()).collect();
    identities.dedup();
    identities.retain(|id| images.iter().filter(|i| i.identity == *id).count() >= 3);
    identities
}

const DEMO_RESIDENTS: usize = 4;

/// The gate on the Pi: GPIO door, the configured reader, the camera and the touchscreen (none
/// with `--headless`: a door with a reader only), systemd's watchdog (see `runtime::device`).
/// Events go to standard output, which the unit sends to the journal. SIGTERM (`systemctl stop`)
/// ends the loop, and stopping the door thread locks the strike.
fn on_the_device(config: &Config, headless: bool) -> anyhow::Result<()> {
    if !headless {
        // SAFETY: set before any thread exists; Slint's linuxkms backend reads it at start.
        unsafe { std::env::set_var("SLINT_KMS_ROTATION", config.gate.rotation.to_string()) };
    }
    let controller = DoorController::new(RppalGpio::open(&config.door)?, config.door.clone(), 0)?;
    let door = DoorThread::spawn(controller);
    let stop = stop_on_signals()?;
    let store = Store::open(&config.store)?;
    if let Some(warning) = config.store.custody().beside_data(&config.store.database) {
        tracing::warn!("{warning}");
    }
    let mut reader = open_reader(&config.reader)?;
    let (camera, faces) = device_camera(config);
    let mut gate = Gate::new(config.gate_settings(), store, faces, camera, door, unix_now())?;
    let notifier = Notifier::from_env()?;
    // A failed write to the journal must not stop the gate.
    let log = |t: u64, event: &Event| drop(print_events(&[(t, event.clone())]));
    if headless {
        let (_, no_taps) = std::sync::mpsc::channel();
        return device::run(
            &mut gate,
            reader.as_mut(),
            &notifier,
            &no_taps,
            &stop,
            |_, t, events| events.iter().for_each(|e| log(t, e)),
        )
        .map_err(Into::into);
    }
    touchscreen(gate, reader, notifier, stop, log)
}

/// The face engine on the configured models, or why there is none: the Face tile shows the
/// kind of reason, the log the technical one.
fn face_engine(config: &Config) -> Result<Box<dyn FaceEngine>, FaceUnavailable> {
    match ModelEngine::load(&config.paths.models, &config.vision) {
        Ok(engine) => Ok(Box::new(engine)),
        Err(err) => {
            eprintln!("face recognition unavailable: {err} (PIN and card still work)");
            Err(FaceUnavailable::ModelsMissing)
        }
    }
}

#[cfg(feature = "camera")]
fn device_camera(config: &Config) -> (Webcam, Result<Box<dyn FaceEngine>, FaceUnavailable>) {
    (Webcam::new(config.camera.clone()), face_engine(config))
}

#[cfg(not(feature = "camera"))]
fn device_camera(_: &Config) -> (NoCamera, Result<Box<dyn FaceEngine>, FaceUnavailable>) {
    eprintln!("face recognition unavailable: {NO_CAMERA} (PIN and card still work)");
    (NoCamera, Err(FaceUnavailable::NoCameraSupport))
}

#[cfg(any(feature = "window", feature = "kms"))]
fn touchscreen<C: FrameSource + 'static>(
    gate: Gate<C, DoorThread>,
    reader: Box<dyn CardReader>,
    notifier: Notifier,
    stop: Arc<AtomicBool>,
    log: impl FnMut(u64, &Event) + Send + 'static,
) -> anyhow::Result<()> {
    crate::ui::touchscreen::run(gate, reader, notifier, stop, log)
}

#[cfg(not(any(feature = "window", feature = "kms")))]
fn touchscreen<C: FrameSource>(
    _: Gate<C, DoorThread>,
    _: Box<dyn CardReader>,
    _: Notifier,
    _: Arc<AtomicBool>,
    _: impl FnMut(u64, &Event),
) -> anyhow::Result<()> {
    anyhow::bail!("this build has no touchscreen: rebuild with `--features kms`, or add --headless")
}

fn print_events(events: &[(u64, crate::runtime::Event)]) -> anyhow::Result<()> {
    for (t, event) in events {
        let mut value = serde_json::to_value(event)?;
        value["t"] = (*t).into();
        println!("{value}");
    }
    Ok(())
}

/// SIGTERM (`systemctl stop`, `kill`) and SIGINT set the flag: the loop ends and the door locks.
fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    Ok(stop)
}

/// The simulated gate driven from standard input, its clock following the real one (ticked at
/// least every 50 ms, so door events are printed as they happen), until end of input or SIGTERM.
fn interactive<D: DoorPort>(mut sim: Simulation<D>) -> anyhow::Result<()> {
    eprintln!(
        "simulated gate: tap face|pin|card|cancel, type DIGITS, card NUMBER, show PHOTO|nobody, door open|closed, exit press|release, fire closed|open, wait MS; Ctrl-D ends"
    );
    let stop = stop_on_signals()?;
    let (lines, inbox) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let received = inbox.recv_timeout(Duration::from_millis(50));
        let elapsed = start.elapsed().as_millis() as u64;
        print_events(&sim.run_line(&format!("at {}", elapsed.max(sim.now)))?)?;
        let line = match received {
            Ok(line) => line?,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let command = match line.trim().strip_prefix("wait ") {
            Some(ms) => format!(
                "at {}",
                sim.now + ms.trim().parse::<u64>().context("wait takes milliseconds")?
            ),
            None => line,
        };
        match sim.run_line(&command) {
            Ok(events) => print_events(&events)?,
            Err(err) => eprintln!("{err}"),
        }
    }
    Ok(())
}

/// Demo residents 1201, 1202, … from the first identities with at least three photos: face
/// enrolled from two photos (with a recorded demo consent), PIN 1234, cards 900001, 900002, ….
fn make_demo_residents(config: &Config, photos: &Path) -> anyhow::Result<()> {
    let mut store = Store::init(&config.store)?;
    let mut faces = FacePipeline::load(&config.paths.models, &config.vision)?;
    let images = scan(photos)?;
    let now = unix_now();
    let consent = ConsentGrant::read(Language::En, &config.notice_terms(), "demo", None)?;
    let mut made = 0;
    for identity in demo_identities(&images) {
        let own = images.iter().filter(|i| i.identity == identity);
        let good: Vec<Embedding> =
            own.take(2).filter_map(|i| faces.embed_image_file(&i.path).ok()).collect();
        if good.len() < 2 {
            continue;
        }
        made += 1;
        let number = format!("{}", 1200 + made);
        let resident = NewResident {
            number: number.clone(),
            name: format!("Demo {made}"),
            unit: format!("{made}-{number}"),
            ..Default::default()
        };
        store.add_resident(&resident, now, "demo")?;
        manage::enrol_face(
            &mut store,
            &number,
            &Embedding::mean(&good).expect("two embeddings"),
            Some(&consent),
            config.consent.minor_age,
            now,
        )?;
        let pin = Pin::parse("1234", &config.pin)?;
        manage::set_pin(&mut store, &config.pin, &number, &pin, now, "demo")?;
        let card: CardUid = format!("{}", 900_000 + made).parse()?;
        manage::add_card(&mut store, &number, &card, "demo card", now, "demo")?;
        eprintln!(
            "demo resident {number}: face from {identity}, PIN 1234, card {}",
            900_000 + made
        );
        if made == DEMO_RESIDENTS {
            break;
        }
    }
    Ok(())
}
