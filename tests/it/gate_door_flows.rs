//! Visitors, PIN resets and booked enrolments at a simulated gate: a typed code or a QR code
//! held to the camera opens once (the camera opened only by the tap and closed after the read
//! or the timeout); a reset code sets a new PIN once; a booking lets the resident enrol with
//! their own PIN, live, without admin mode, and only while it is open.

use crate::common;

use facegate::config::Config;
use facegate::credentials::{Pin, PinConfig};
use facegate::door::{DoorController, SimGpio};
use facegate::manage;
use facegate::runtime::camera::FrameSource;
use facegate::runtime::gate::{Offer, Outcome};
use facegate::runtime::script::Simulation;
use facegate::runtime::{Event, Gate, PhotoCamera, Screen};
use facegate::store::{NewResident, NewVisitorPass, PassRefusal, Store};
use facegate::vision::engine::uses_passive;
use facegate::vision::{FaceEngine, FakeEngine};

use common::run;

/// The gate's start, in Unix seconds.
const START: i64 = 1_780_000_000;

/// A gate on disk: resident 1201 (PIN 2580, no face), the notice complete; `li.png` shows
/// resident 1201's live face, `photo.png` a printed one.
struct Site {
    dir: tempfile::TempDir,
    config: Config,
}

impl Site {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.consent.controller = "Office B".into();
        config.consent.contact = "Room 101".into();
        config.store = common::store_in(dir.path());
        config.pin = PinConfig { memory_kib: 512, iterations: 1, ..PinConfig::default() };
        let mut store = Store::init(&config.store).unwrap();
        let new = NewResident { number: "1201".into(), name: "Li".into(), ..Default::default() };
        store.add_resident(&new, 0, "manager").unwrap();
        let pin = Pin::parse("2580", &config.pin).unwrap();
        manage::set_pin(&mut store, &config.pin, "1201", &pin, 0, "manager").unwrap();
        for (file, live) in [("li.png", 255), ("photo.png", 0)] {
            let frame = FakeEngine::frame(1, live);
            let (w, h) = (frame.width(), frame.height());
            let image = image::RgbImage::from_raw(w, h, frame.pixels().to_vec()).unwrap();
            image.save(dir.path().join(file)).unwrap();
        }
        Self { dir, config }
    }

    /// The manager's connection to the gate's database (the CLI's, the console's).
    fn office(&self) -> Store {
        Store::open(&self.config.store).unwrap()
    }

    /// A gate on the site's database; `door` is its id in site mode.
    fn start(&self, door: Option<&str>) -> Simulation {
        let store = self.office();
        let gpio = SimGpio::default();
        let controller = DoorController::new(gpio.clone(), self.config.door.clone(), 0).unwrap();
        let mut settings = self.config.gate_settings();
        settings.door = door.map(|d| d.parse().unwrap());
        let passive = uses_passive(self.config.vision.liveness.mode);
        let engine: Box<dyn FaceEngine> = Box::new(FakeEngine { judges_liveness: passive });
        let gate =
            Gate::new(settings, store, Ok(engine), PhotoCamera::default(), controller, START)
                .unwrap();
        Simulation::new(gate, gpio, self.dir.path())
    }

    /// Issues a pass valid for an hour from the gate's start.
    fn pass(&self, entries: u32, doors: &[&str]) -> String {
        let new = NewVisitorPass {
            label: "guest".into(),
            company: None,
            valid_from: START,
            valid_until: START + 3_600,
            entries,
            doors: doors.iter().map(|d| d.parse().unwrap()).collect(),
        };
        manage::create_visitor_pass(&mut self.office(), &new, START, "manager").unwrap().code
    }

    /// Writes a QR code holding `text` as a PNG in the site's folder, as a phone shows it.
    fn qr(&self, name: &str, text: &str) {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let (modules, colors) = (code.width(), code.to_colors());
        let (scale, quiet) = (8, 4);
        let side = ((modules + 2 * quiet) * scale) as u32;
        let image = image::RgbImage::from_fn(side, side, |x, y| {
            let (mx, my) = (x as usize / scale, y as usize / scale);
            let inside =
                (quiet..quiet + modules).contains(&mx) && (quiet..quiet + modules).contains(&my);
            let dark = inside && colors[(my - quiet) * modules + mx - quiet] == qrcode::Color::Dark;
            image::Rgb(if dark { [0; 3] } else { [255; 3] })
        });
        image.save(self.dir.path().join(name)).unwrap();
    }
}

/// The visitor decisions among events: granted, and why not.
fn visitor_decisions(events: &[Event]) -> Vec<(bool, Option<PassRefusal>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::VisitorPass { granted, refusal, .. } => Some((*granted, *refusal)),
            _ => None,
        })
        .collect()
}

fn unlocked(events: &[Event]) -> usize {
    events.iter().filter(|e| matches!(e, Event::Door { what } if what == "Unlocked")).count()
}

#[test]
fn a_typed_visitor_code_opens_once_without_the_camera() {
    let site = Site::new();
    let code = site.pass(1, &[]);
    let mut sim = site.start(None);
    let events = run(&mut sim, &format!("at 100\ntap visitor\ntype {code}"));
    assert_eq!(visitor_decisions(&events), [(true, None)]);
    assert_eq!(unlocked(&events), 1);
    assert!(matches!(
        sim.gate.screen(),
        Screen::Result { granted: true, outcome: Outcome::VisitorWelcome, .. }
    ));
    let events = run(&mut sim, &format!("at 6000\ntap visitor\ntype {code}"));
    assert_eq!(visitor_decisions(&events), [(false, Some(PassRefusal::UsedUp))]);
    assert_eq!(unlocked(&events), 0);
    assert_eq!(sim.gate.camera().opened_count, 0, "typing a code never opens the camera");
}

#[test]
fn a_pass_for_another_door_is_refused_here() {
    let site = Site::new();
    let code = site.pass(1, &["north"]);
    let events = run(&mut site.start(Some("south")), &format!("at 100\ntap visitor\ntype {code}"));
    assert_eq!(visitor_decisions(&events), [(false, Some(PassRefusal::OtherDoor))]);
    let events = run(&mut site.start(Some("north")), &format!("at 100\ntap visitor\ntype {code}"));
    assert_eq!(visitor_decisions(&events), [(true, None)]);
}

#[test]
fn a_qr_code_shown_after_the_tap_opens_once_and_the_camera_closes_after_the_read() {
    let site = Site::new();
    let code = site.pass(1, &[]);
    site.qr("pass.png", &code);
    let mut sim = site.start(None);
    run(&mut sim, "show pass.png\nat 100\ntap visitor\nat 2000");
    assert_eq!(sim.gate.camera().opened_count, 0, "the camera waits for the QR tap");
    let events = run(&mut sim, "tap qr\nat 2500");
    assert_eq!(sim.gate.camera().opened_count, 1);
    assert_eq!(visitor_decisions(&events), [(true, None)]);
    assert_eq!(unlocked(&events), 1);
    let opened = events.iter().position(|e| *e == Event::CameraOpened).unwrap();
    let closed = events.iter().position(|e| *e == Event::CameraClosed).unwrap();
    let decided = events.iter().position(|e| matches!(e, Event::VisitorPass { .. })).unwrap();
    assert!(opened < closed && closed < decided, "{events:?}");
    assert!(!sim.gate.camera().is_open());
    let events = run(&mut sim, "at 8000\ntap visitor\ntap qr\nat 8500");
    assert_eq!(visitor_decisions(&events), [(false, Some(PassRefusal::UsedUp))]);
    assert!(!sim.gate.camera().is_open());
}

#[test]
fn the_qr_camera_closes_after_the_timeout_and_a_face_is_not_a_code() {
    let site = Site::new();
    site.qr("text.png", "hello, not a code");
    let mut sim = site.start(None);
    let timeout = site.config.gate.face_timeout_ms;
    let events =
        run(&mut sim, &format!("show li.png\nat 100\ntap visitor\ntap qr\nat {}", 200 + timeout));
    assert!(visitor_decisions(&events).is_empty(), "{events:?}");
    assert!(events.contains(&Event::CameraClosed) && !sim.gate.camera().is_open());
    assert_eq!(sim.gate.screen(), &Screen::VisitorCode, "back to typing the code");
    let events = run(&mut sim, &format!("show text.png\ntap qr\nat {}", 400 + 2 * timeout));
    assert!(visitor_decisions(&events).is_empty(), "a QR code that is no code opens nothing");
}

#[test]
fn a_reset_code_sets_a_new_pin_at_the_gate_once() {
    let site = Site::new();
    let code = manage::issue_pin_reset(&mut site.office(), "1201", START, "manager").unwrap();
    let mut sim = site.start(None);
    run(&mut sim, &format!("at 100\ntap pin\ntap resetcode\nresetpin 1201 {code} 7391 7392"));
    assert!(matches!(sim.gate.screen(), Screen::Result { outcome: Outcome::PinsDiffer, .. }));
    run(&mut sim, &format!("at 6000\ntap pin\ntap resetcode\nresetpin 1201 {code} 1234 1234"));
    assert!(matches!(sim.gate.screen(), Screen::Result { outcome: Outcome::PinRejected, .. }));
    let events =
        run(&mut sim, &format!("at 12000\ntap pin\ntap resetcode\nresetpin 1201 {code} 7391 7391"));
    assert!(events.contains(&Event::PinChanged { changed: true }), "{events:?}");
    let events = run(&mut sim, "at 18000\ntap pin\ntype 1201\ntype 7391");
    assert_eq!(common::decisions(&events), [(true, None)]);
    let again = format!("at 24000\ntap pin\ntap resetcode\nresetpin 1201 {code} 4826 4826");
    let events = run(&mut sim, &again);
    assert!(events.contains(&Event::PinChanged { changed: false }), "the code works once");
    let events = run(&mut sim, "at 30000\ntap pin\ntype 1201\ntype 7391");
    assert_eq!(common::decisions(&events), [(true, None)]);
}

#[test]
fn a_booking_lets_the_resident_enrol_with_their_own_pin_and_only_while_it_is_open() {
    let site = Site::new();
    let mut sim = site.start(Some("north"));
    run(&mut sim, "at 100\ntap pin\ntype 1201\ntype 2580");
    assert!(matches!(sim.gate.screen(), Screen::Result { offer: Offer::MyData, .. }));
    run(&mut sim, "tap enrol");
    assert!(matches!(sim.gate.screen(), Screen::Result { .. }), "no booking, no enrolment");
    let until = START + 600;
    let mut office = site.office();
    manage::book_enrolment(&mut office, "1201", Some("south"), until, START, "manager").unwrap();
    run(&mut sim, "at 6000\ntap pin\ntype 1201\ntype 2580");
    assert!(matches!(sim.gate.screen(), Screen::Result { offer: Offer::MyData, .. }), "other door");
    let booking =
        manage::book_enrolment(&mut office, "1201", Some("north"), until, START, "manager")
            .unwrap();
    run(&mut sim, "at 12000\ntap pin\ntype 1201\ntype 2580");
    assert!(matches!(sim.gate.screen(), Screen::Result { offer: Offer::Booked, .. }));
    run(&mut sim, "tap enrol");
    assert!(matches!(sim.gate.screen(), Screen::Consent { .. }), "{:?}", sim.gate.screen());
    assert_eq!(sim.gate.camera().opened_count, 0, "the camera waits for the consent");
    let events = run(&mut sim, "show photo.png\ntap agree\nat 13000");
    assert!(matches!(sim.gate.screen(), Screen::Result { outcome: Outcome::NotLive, .. }));
    assert!(events.contains(&Event::CameraClosed));
    run(
        &mut sim,
        "at 18000\ntap pin\ntype 1201\ntype 2580\ntap enrol\nshow li.png\ntap agree\nat 19000",
    );
    assert!(
        matches!(sim.gate.screen(), Screen::Result { outcome: Outcome::Enrolled { .. }, .. }),
        "{:?}",
        sim.gate.screen()
    );
    assert_eq!(office.resident("1201").unwrap().templates, 1);
    assert!(manage::bookings(&office, START + 20).unwrap().iter().all(|b| b.id != booking));
    let log = office.audit_entries(None).unwrap();
    let consent = log.iter().filter(|e| e.kind == "consent_granted").count();
    let done = log.iter().filter(|e| e.kind == "enrolment_booking_done").count();
    assert_eq!((consent, done), (1, 1));
    run(&mut sim, "at 24000\nshow nobody\ntap pin\ntype 1201\ntype 2580");
    assert!(matches!(sim.gate.screen(), Screen::Result { offer: Offer::MyData, .. }), "done");
    let events = run(&mut sim, "at 30000\nshow li.png\ntap face\nat 31000");
    assert_eq!(common::decisions(&events), [(true, None)], "the new face opens the door");
}

#[test]
fn a_booking_past_its_end_offers_nothing() {
    let site = Site::new();
    let mut office = site.office();
    manage::book_enrolment(&mut office, "1201", None, START + 30, START, "manager").unwrap();
    let mut sim = site.start(None);
    run(&mut sim, "at 100\ntap pin\ntype 1201\ntype 2580");
    assert!(matches!(sim.gate.screen(), Screen::Result { offer: Offer::Booked, .. }));
    run(&mut sim, "at 31000\ntap pin\ntype 1201\ntype 2580");
    assert!(matches!(sim.gate.screen(), Screen::Result { offer: Offer::MyData, .. }));
}
