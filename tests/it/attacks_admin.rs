//! Attacks on admin mode and on enrolment at the door, each as a scenario on the simulated gate
//! with the model-free fake engine: what an intruder tries, and that the gate refuses it.

use crate::common;
use facegate::config::Config;
use facegate::credentials::{CardUid, Pin, PinConfig};
use facegate::door::{DoorController, SimGpio};
use facegate::manage;
use facegate::runtime::gate::{Offer, Outcome};
use facegate::runtime::script::Simulation;
use facegate::runtime::{Event, Gate, PhotoCamera, Screen};
use facegate::store::{ConsentGrant, NewResident, Store};
use facegate::vision::engine::uses_passive;
use facegate::vision::liveness::LivenessMode;
use facegate::vision::{FaceEngine, FakeEngine};

const START: i64 = 1_780_000_000;

/// The fake engine's people: file, identity, liveness (255 live, 0 a printed photo).
const PEOPLE: [(&str, u8, u8); 5] = [
    ("li.png", 1, 255),
    ("wang.png", 2, 255),
    ("wang-photo.png", 2, 0),
    ("stranger.png", 10, 255),
    ("li-again.png", 1, 255),
];

/// The caretaker's two factors: card 9009, then admin PIN 739146.
const ADMIN_LOGIN: &str = "card 9009\ntap admin\ntype 739146";

/// A gate where 9001 is the admin (door PIN 1379, card 9009, admin PIN 739146), 1201 is
/// enrolled by face (PIN 2580), and 1301 is not enrolled (PIN 4826, card 777).
fn gate(adjust: impl FnOnce(&mut Config)) -> (tempfile::TempDir, Simulation) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.gate.admins = vec!["9001".into()];
    config.consent.controller = "Office B".into();
    config.consent.contact = "Room 101".into();
    adjust(&mut config);
    config.store = common::store_in(dir.path());
    config.pin = PinConfig { memory_kib: 512, iterations: 1, ..PinConfig::default() };
    let mut store = Store::init(&config.store).unwrap();
    let pin = |text: &str| Pin::parse(text, &config.pin).unwrap();
    let card = |text: &str| text.parse::<CardUid>().unwrap();
    for (number, door_pin, card_number) in
        [("1201", "2580", "4512345"), ("1301", "4826", "777"), ("9001", "1379", "9009")]
    {
        let new = NewResident { number: number.into(), name: "R".into(), ..Default::default() };
        store.add_resident(&new, 0, "manager").unwrap();
        manage::set_pin(&mut store, &config.pin, number, &pin(door_pin), 0, "manager").unwrap();
        manage::add_card(&mut store, number, &card(card_number), "", 0, "manager").unwrap();
    }
    manage::set_admin_pin(&mut store, &config.pin, "9001", &pin("739146"), 0, "manager").unwrap();
    let consent = ConsentGrant {
        text_version: "1".into(),
        text_sha256: "00".repeat(32),
        operator: "manager".into(),
        guardian: None,
    };
    let li = FakeEngine::embedding(1);
    manage::enrol_face(&mut store, "1201", &li, Some(&consent), 14, None, START).unwrap();
    for (file, identity, live) in PEOPLE {
        let frame = FakeEngine::frame(identity, live);
        let (w, h) = (frame.width(), frame.height());
        let image = image::RgbImage::from_raw(w, h, frame.pixels().to_vec()).unwrap();
        image.save(dir.path().join(file)).unwrap();
    }
    let passive = uses_passive(config.vision.liveness.mode);
    let engine: Box<dyn FaceEngine> = Box::new(FakeEngine { judges_liveness: passive });
    let gpio = SimGpio::default();
    let door = DoorController::new(gpio.clone(), config.door.clone(), 0).unwrap();
    let gate =
        Gate::new(config.gate_settings(), store, Ok(engine), PhotoCamera::default(), door, START)
            .unwrap();
    let sim = Simulation::new(gate, gpio, dir.path());
    (dir, sim)
}

fn run(sim: &mut Simulation, script: &str) -> Vec<Event> {
    script.lines().flat_map(|line| sim.run_line(line).unwrap()).map(|(_, e)| e).collect()
}

fn granted(events: &[Event]) -> Vec<Option<String>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Decision { granted: true, resident, .. } => Some(resident.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn an_admins_door_pin_alone_does_not_open_admin_mode() {
    let (_dir, mut sim) = gate(|_| {});
    run(&mut sim, "at 100\ntap pin\ntype 9001\ntype 1379\ntap admin");
    assert!(
        !matches!(sim.gate.screen(), Screen::Admin { .. } | Screen::PinCode),
        "{:?}",
        sim.gate.screen()
    );
}

#[test]
fn an_admins_card_alone_does_not_open_admin_mode() {
    let (_dir, mut sim) = gate(|_| {});
    run(&mut sim, "at 100\ncard 9009");
    assert!(matches!(sim.gate.screen(), Screen::Result { offer: Offer::Admin, .. }));
    run(&mut sim, "tap admin");
    assert!(!matches!(sim.gate.screen(), Screen::Admin { .. }), "a copied card is one factor");
    run(&mut sim, "type 1379");
    assert!(
        matches!(sim.gate.screen(), Screen::Result { outcome: Outcome::NotAccepted, .. }),
        "the door PIN is not the admin PIN: {:?}",
        sim.gate.screen()
    );
}

#[test]
fn an_admin_cannot_enrol_a_face_without_the_resident_proving_themselves() {
    let (_dir, mut sim) = gate(|_| {});
    run(&mut sim, &format!("at 100\n{ADMIN_LOGIN}\nadmin enrol\ntype 1301"));
    assert!(
        !matches!(sim.gate.screen(), Screen::Consent { .. }),
        "no consent screen before the resident's own PIN or card"
    );
    run(&mut sim, "type 2580");
    assert!(
        matches!(sim.gate.screen(), Screen::Result { outcome: Outcome::NotAccepted, .. }),
        "another resident's PIN does not stand in: {:?}",
        sim.gate.screen()
    );
    run(&mut sim, "tap cancel\nadmin enrol\ntype 1301\ntype 4826");
    assert!(matches!(sim.gate.screen(), Screen::Consent { .. }), "{:?}", sim.gate.screen());
}

/// Admin logs in, starts enrolling 1301 (who taps their card) and agrees.
const ENROL_1301: &str =
    "at 100\ncard 9009\ntap admin\ntype 739146\nadmin enrol\ntype 1301\ncard 777\ntap agree";

#[test]
fn frames_of_two_people_do_not_fuse_into_one_template() {
    let (_dir, mut sim) = gate(|_| {});
    // Frames of 1301, 1301 and a stranger: the fused template would open for the stranger.
    run(&mut sim, &format!("show wang.png\n{ENROL_1301}\nat 300\nshow stranger.png\nat 400"));
    assert!(
        matches!(
            sim.gate.screen(),
            Screen::Result { granted: false, outcome: Outcome::EnrolmentFramesDiffer, .. }
        ),
        "{:?}",
        sim.gate.screen()
    );
    let events =
        run(&mut sim, "tap cancel\ntap cancel\nshow stranger.png\nat 9000\ntap face\nat 10000");
    assert!(granted(&events).is_empty(), "the stranger is not let in: {events:?}");
}

#[test]
fn a_face_enrolled_under_another_resident_is_refused_with_its_score() {
    let (_dir, mut sim) = gate(|_| {});
    // 1201's face, offered as 1301's: 1301's record would open for 1201 and the other way round.
    run(&mut sim, &format!("show li-again.png\n{ENROL_1301}\nat 1000"));
    let Screen::Result { granted: false, outcome: Outcome::FaceAlreadyEnrolled { score }, .. } =
        sim.gate.screen().clone()
    else {
        panic!("{:?}", sim.gate.screen())
    };
    assert_eq!(score, "1.000", "the admin sees the score");
}

#[test]
fn a_printed_photo_is_not_enrolled_when_the_door_checks_liveness() {
    let (_dir, mut sim) = gate(|c| c.vision.liveness.mode = LivenessMode::Passive);
    run(&mut sim, &format!("show wang-photo.png\n{ENROL_1301}\nat 1000"));
    assert!(
        matches!(
            sim.gate.screen(),
            Screen::Result { granted: false, outcome: Outcome::NotLive, .. }
        ),
        "{:?}",
        sim.gate.screen()
    );
    let events =
        run(&mut sim, "tap cancel\ntap cancel\nshow wang.png\nat 9000\ntap face\nat 10000");
    assert!(granted(&events).is_empty(), "nothing was enrolled: {events:?}");
}

#[test]
fn a_resident_cannot_change_their_pin_to_one_a_guesser_tries_first() {
    let (_dir, mut sim) = gate(|_| {});
    run(&mut sim, "at 100\ncard 777\ntap mydata\ntap changepin\nnewpin 4826 1301");
    assert!(
        matches!(sim.gate.screen(), Screen::Result { outcome: Outcome::PinRejected, .. }),
        "{:?}",
        sim.gate.screen()
    );
    let events = run(&mut sim, "at 9000\ntap pin\ntype 1301\ntype 4826");
    assert_eq!(granted(&events), [Some("1301".to_owned())], "the old PIN stays");
}
