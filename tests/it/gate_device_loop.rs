//! The gate in the device's own loop (`runtime::device`): systemd's readiness and watchdog, the
//! card reader on its own thread, and a card presented while a face session has the camera open.

use crate::common;

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use facegate::access::Method;
use facegate::config::Config;
use facegate::credentials::readers::sim::SimReader;
use facegate::door::{DoorController, Output, SimGpio};
use facegate::manage;
use facegate::runtime::device;
use facegate::runtime::notify::Notifier;
use facegate::runtime::{Action, Event, FrameSource, Gate, PhotoCamera, Screen};
use facegate::store::{NewResident, Store};
use facegate::vision::liveness::LivenessMode;
use facegate::vision::{FaceEngine, FakeEngine};

/// The gate's start, in Unix seconds (mid-2026).
const START: i64 = 1_780_000_000;
/// Resident 1201's card.
const CARD: &str = "4512345";

type DeviceGate = Gate<PhotoCamera, DoorController<SimGpio>>;

/// A gate with resident 1201 and their card, the fake face engine, and a camera showing nobody
/// (a face session goes on until its timeout).
fn gate(dir: &Path) -> (DeviceGate, SimGpio) {
    let mut config = Config::default();
    config.vision.liveness.mode = LivenessMode::Off;
    config.paths.models = common::models_dir();
    config.store = common::store_in(dir);
    let mut store = Store::init(&config.store).unwrap();
    let resident = NewResident { number: "1201".into(), name: "Li".into(), ..Default::default() };
    store.add_resident(&resident, 0, "manager").unwrap();
    manage::add_card(&mut store, "1201", &CARD.parse().unwrap(), "", 0, "manager").unwrap();
    let gpio = SimGpio::default();
    let door = DoorController::new(gpio.clone(), config.door.clone(), 0).unwrap();
    let faces: Box<dyn FaceEngine> = Box::new(FakeEngine { judges_liveness: false });
    let camera = PhotoCamera::default();
    let gate = Gate::new(config.gate_settings(), store, Ok(faces), camera, door, START).unwrap();
    (gate, gpio)
}

/// A systemd notification socket and the notifier writing to it.
fn systemd(dir: &Path) -> (UnixDatagram, Notifier) {
    let path = dir.join("notify");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    (socket, Notifier::to(&path).unwrap())
}

#[test]
fn the_device_loop_tells_systemd_it_is_ready_and_alive_and_opens_for_a_card() {
    let dir = tempfile::tempdir().unwrap();
    let (mut gate, gpio) = gate(dir.path());
    let (systemd, notifier) = systemd(dir.path());
    // A reader that delivers garbage, then a registered card, then is unplugged.
    let mut reader = SimReader::new(std::io::Cursor::new(format!("not-a-card\n{CARD}\n")));
    let stop = AtomicBool::new(false);
    let (events, seen) = mpsc::channel();
    std::thread::scope(|scope| {
        let gate = &mut gate;
        let runner = scope.spawn(|| {
            let (_, no_taps) = mpsc::channel();
            device::run(gate, &mut reader, &notifier, &no_taps, &stop, |_, _, turn| {
                turn.iter().for_each(|e| drop(events.send(e.clone())));
            })
        });
        let mut message = [0u8; 64];
        let n = systemd.recv(&mut message).unwrap();
        assert_eq!(&message[..n], b"READY=1");
        let n = systemd.recv(&mut message).unwrap();
        assert_eq!(&message[..n], b"WATCHDOG=1");
        let granted = seen.iter().find_map(|e| match e {
            Event::Decision { granted, .. } => Some(granted),
            _ => None,
        });
        assert_eq!(granted, Some(true), "the garbage line opened nothing; the card did");
        assert!(gpio.output(Output::Strike));
        let n = systemd.recv(&mut message).unwrap();
        assert_eq!(&message[..n], b"WATCHDOG=1", "still alive after the reader is gone");
        stop.store(true, Ordering::Relaxed);
        runner.join().unwrap().unwrap();
    });
}

#[test]
fn a_card_presented_during_a_face_session_opens_the_door_and_closes_the_camera() {
    let dir = tempfile::tempdir().unwrap();
    let (mut gate, gpio) = gate(dir.path());
    let (_systemd, notifier) = systemd(dir.path());
    let (card_input, mut card_output) = std::io::pipe().unwrap();
    let mut reader = SimReader::new(std::io::BufReader::new(card_input));
    let (taps, tap_inbox) = mpsc::channel();
    taps.send(Action::ChooseFace).unwrap();
    let stop = AtomicBool::new(false);
    let (events, seen) = mpsc::channel();
    std::thread::scope(|scope| {
        let (gate, reader, notifier, stop) = (&mut gate, &mut reader, &notifier, &stop);
        let runner = scope.spawn(move || {
            device::run(gate, reader, notifier, &tap_inbox, stop, |_, _, turn| {
                turn.iter().for_each(|e| drop(events.send(e.clone())));
            })
        });
        let opened = seen.iter().find(|e| matches!(e, Event::CameraOpened));
        assert!(opened.is_some(), "the tap on Face opened the camera");
        // The session judges a frame of the empty scene, then the card comes.
        let judged = seen.iter().find(|e| {
            matches!(
                e,
                Event::Screen(Screen::Face { guidance: Some(_), .. } | Screen::Result { .. })
            )
        });
        assert!(matches!(judged, Some(Event::Screen(Screen::Face { .. }))), "{judged:?}");
        writeln!(card_output, "{CARD}").unwrap();
        let mut until_decision = Vec::new();
        let decision = seen.iter().find_map(|e| match e {
            Event::Decision { method, granted, .. } => Some((method, granted)),
            other => {
                until_decision.push(other);
                None
            }
        });
        assert_eq!(decision, Some((Method::Card, true)), "the card decided: {until_decision:?}");
        assert!(
            until_decision.iter().all(|e| !matches!(e, Event::Screen(Screen::Result { .. }))),
            "the face session was still on when the card came: {until_decision:?}"
        );
        assert!(until_decision.contains(&Event::CameraClosed), "{until_decision:?}");
        assert!(gpio.output(Output::Strike));
        stop.store(true, Ordering::Relaxed);
        runner.join().unwrap().unwrap();
    });
    assert!(!gate.camera().is_open(), "no frame is captured after the card's decision");
}
