//! `facegate selftest`: the installer's bring-up check. Opens every configured part, exercises
//! it (frames from the camera through the face detector, the door's inputs, a relay pulse when
//! asked, the card reader), and prints what works and what does not. `--sim` runs the same
//! checks on the simulated parts, whose relay and reader it can watch, so each check there can
//! fail as well. A check of the hardware records its time and result in the database, which a
//! door of a site reports to the site.

use std::io::Cursor;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::credentials::CardUid;
use crate::credentials::readers::rc522::{Mfrc522, Wake};
use crate::credentials::readers::sim::SimReader;
use crate::credentials::readers::wedge::WedgeReader;
use crate::credentials::readers::{CardReader, ReaderError, ReaderKind};
use crate::door::{DoorController, Gpio, Input, Output, SimGpio};
use crate::pi::{RppalGpio, RppalSpi, WiegandReader};
use crate::runtime::{FrameSource, PhotoCamera};
use crate::site::outbox::Selftest;
use crate::store::Store;
use crate::vision::liveness::LivenessMode;
use crate::vision::liveness::passive::PassiveLiveness;
use crate::vision::{FacePipeline, Frame};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check the simulated door, reader and camera instead of the hardware.
    #[arg(long)]
    sim: bool,
    /// Also release the strike for one pulse (someone should watch the door). The simulated
    /// relay is always pulsed.
    #[arg(long)]
    pulse: bool,
}

/// One line of the report.
fn report(part: &str, result: Result<String, String>) -> bool {
    match &result {
        Ok(detail) => println!("ok    {part:<14} {detail}"),
        Err(reason) => println!("FAIL  {part:<14} {reason}"),
    }
    result.is_ok()
}

/// The camera check stops after this many frames, or after [`GRAB_FOR`].
const GRAB_FRAMES: usize = 10;
const GRAB_FOR: Duration = Duration::from_secs(3);

/// Opens the camera, grabs frames (resolution, frame rate) and runs the face detector on one.
fn camera_check(
    camera: &mut dyn FrameSource,
    name: &str,
    faces: Option<&mut FacePipeline>,
) -> Result<String, String> {
    camera.open().map_err(|e| e.to_string())?;
    let grabbed = grab(camera);
    camera.close();
    let (frame, fps) = grabbed.map_err(|e| format!("{name}: {e}"))?;
    let detected = match faces {
        Some(pipeline) => {
            let work = pipeline.working_frame(&frame);
            let n = pipeline.detect(&work).map_err(|e| format!("face detector: {e}"))?.len();
            format!("face detector ran: {n} face(s) in view")
        }
        None => "face detector not run: the models did not load".to_owned(),
    };
    Ok(format!("{name}: {}x{} at {fps:.1} fps; {detected}", frame.width(), frame.height()))
}

/// The first frame and the measured frame rate.
fn grab(camera: &mut dyn FrameSource) -> Result<(Frame, f32), String> {
    let start = Instant::now();
    let (mut first, mut times) = (None, vec![]);
    while times.len() < GRAB_FRAMES && start.elapsed() < GRAB_FOR {
        match camera.next_frame().map_err(|e| e.to_string())? {
            Some(frame) => {
                times.push(Instant::now());
                first.get_or_insert(frame);
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    let frame = first.ok_or(format!("no frame in {} s", GRAB_FOR.as_secs()))?;
    let span = times.last().zip(times.first()).map(|(l, f)| (*l - *f).as_secs_f32());
    let fps = span.filter(|s| *s > 0.0).map_or(0.0, |s| (times.len() - 1) as f32 / s);
    Ok((frame, fps))
}

/// Reads the door's inputs; with `pulse`, grants one pulse and lets the controller relock.
/// `relay`, when the check can see the strike relay (the simulated one), tells whether it is
/// energised: the check then fails unless it released on the grant and locked again after
/// the pulse. Without it someone watches the door, so the pulse lasts its real time.
fn door_check<G: Gpio>(
    gpio: G,
    config: &Config,
    pulse: bool,
    relay: Option<&dyn Fn() -> bool>,
) -> Result<String, String> {
    let mut probe = gpio.clone();
    let mut door = DoorController::new(gpio, config.door.clone(), 0).map_err(|e| e.to_string())?;
    let mut read = |input| probe.read(input).map_err(|e| e.to_string());
    let inputs = format!(
        "door {}, exit button {}, fire {}",
        if read(Input::DoorContact)? { "open" } else { "closed" },
        if read(Input::ExitButton)? { "pressed" } else { "released" },
        if config.door.fire_signalled(read(Input::Fire)?) { "ACTIVE" } else { "clear" },
    );
    if !pulse {
        return Ok(format!("{inputs}; relay not pulsed (add --pulse)"));
    }
    let locked = config.door.locked_relay_energised();
    door.grant(0).map_err(|e| e.to_string())?;
    match relay {
        Some(energised) if energised() == locked => return Err("relay did not release".into()),
        Some(_) => {}
        None => std::thread::sleep(Duration::from_millis(config.door.pulse_ms.min(3_000))),
    }
    door.tick(config.door.pulse_ms).map_err(|e| e.to_string())?;
    if relay.is_some_and(|energised| energised() != locked) {
        return Err("relay still released after the pulse".into());
    }
    Ok(format!("{inputs}; relay pulsed"))
}

/// The simulated reader must hand back exactly the card presented to it.
fn reader_check(reader: &mut dyn CardReader, presented: &CardUid) -> Result<String, String> {
    match reader.next_card(Duration::from_secs(2)) {
        Ok(Some(card)) if card == *presented => Ok("simulated: read the card presented".into()),
        Ok(Some(_)) => Err("read another card than the one presented".into()),
        Ok(None) => Err("no card within 2 s of presenting one".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// The MFRC522: reset and configuration, its version, and a card if one is in the field.
fn rc522_check() -> Result<String, ReaderError> {
    let mut chip = Mfrc522::init(RppalSpi::open()?)?;
    let version = chip.version()?;
    let kind = if matches!(version, 0x91 | 0x92) { "" } else { " (not an MFRC522?)" };
    let card = match chip.read_uid(Wake::All) {
        Ok(uid) => format!("a card with a {}-byte UID was read", uid.as_bytes().len()),
        Err(ReaderError::NoCard) => "no card in the field".to_owned(),
        Err(other) => return Err(other),
    };
    Ok(format!("chip version {version:#04x}{kind}; {card}"))
}

fn hardware_reader(config: &Config) -> Result<String, String> {
    let reader = &config.reader;
    match reader.kind {
        ReaderKind::Sim => Ok("simulated (typed card numbers)".to_owned()),
        ReaderKind::Wedge => WedgeReader::open(&reader.device).map(|_| "grabbed".to_owned()),
        ReaderKind::Wiegand => WiegandReader::open(reader.wiegand_d0, reader.wiegand_d1)
            .and_then(|mut r| r.next_card(Duration::from_secs(5)))
            .map(|card| match card {
                Some(_) => "a card was read".to_owned(),
                None => "lines open; no card in 5 s".to_owned(),
            }),
        ReaderKind::Rc522 => rc522_check(),
    }
    .map_err(|e| e.to_string())
}

#[cfg(feature = "camera")]
fn device_camera(config: &Config) -> impl FrameSource {
    crate::runtime::webcam::Webcam::new(config.camera.clone())
}

#[cfg(not(feature = "camera"))]
fn device_camera(_: &Config) -> impl FrameSource {
    crate::runtime::NoCamera
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    let mut all = true;
    all &= report(
        "database",
        Store::open(&config.store)
            .map(|s| format!("{} opened with its key", s.path().display()))
            .map_err(|e| e.to_string()),
    );
    let mut faces = FacePipeline::load(&config.paths.models, &config.vision);
    all &= report(
        "face models",
        faces
            .as_ref()
            .map(|_| format!("{} backend", config.vision.backend))
            .map_err(|e| e.to_string()),
    );
    if config.vision.liveness.mode != LivenessMode::Off {
        let pad = PassiveLiveness::load(&config.paths.models, config.vision.backend, 1);
        all &=
            report("liveness", pad.map(|_| "both models loaded".into()).map_err(|e| e.to_string()));
    }
    if args.sim {
        let camera = camera_check(&mut PhotoCamera::default(), "simulated", faces.as_mut().ok());
        all &= report("camera", camera);
        let gpio = SimGpio::default();
        let relay = || gpio.output(Output::Strike);
        all &= report("door", door_check(gpio.clone(), config, true, Some(&relay)));
        let number = format!("{:010}", rand::random::<u32>());
        let presented = CardUid::new(number.clone().into_bytes()).expect("10 digits");
        let mut reader = SimReader::new(Cursor::new(number + "\n"));
        all &= report("card reader", reader_check(&mut reader, &presented));
    } else {
        let name = format!("/dev/video{}", config.camera.device);
        let camera = camera_check(&mut device_camera(config), &name, faces.as_mut().ok());
        all &= report("camera", camera);
        all &= report(
            "door",
            RppalGpio::open(&config.door)
                .map_err(|e| e.to_string())
                .and_then(|g| door_check(g, config, args.pulse, None)),
        );
        all &= report("card reader", hardware_reader(config));
        // On a door of a site, the sync agent reports the result with the door's status.
        if let Ok(mut store) = Store::open(&config.store) {
            store.record_selftest(Selftest { at: crate::store::unix_now(), ok: all })?;
        }
    }
    anyhow::ensure!(all, "some parts failed: see above");
    Ok(())
}

#[cfg(test)]
mod tests;
