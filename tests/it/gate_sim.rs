//! The simulated gate end to end, as a resident meets it: PIN, card and face paths, the door,
//! and camera discipline.

use crate::common;

use facegate::access::DenyReason;
use facegate::config::Config;
use facegate::credentials::{CardUid, Pin, PinConfig};
use facegate::door::{DoorController, Output, SimGpio};
use facegate::manage;
use facegate::runtime::gate::{FaceUnavailable, Offer, Outcome};
use facegate::runtime::script::Simulation;
use facegate::runtime::{Event, FrameSource, Gate, PhotoCamera, Screen};
use facegate::store::{ConsentGrant, NewResident, Store};
use facegate::vision::engine::uses_passive;
use facegate::vision::liveness::LivenessMode;
use facegate::vision::liveness::active::Turn;
use facegate::vision::{BackendKind, Embedding, FaceEngine, FakeEngine, ModelEngine};

/// The gate's start, in Unix seconds (mid-2026).
const START: i64 = 1_780_000_000;

/// The face engine a gate runs: the model-free fake (always), or the models on the dev photos
/// (where `../shared` exists).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Faces {
    Fake,
    Models,
}

/// The pictures a scenario shows the camera, relative to the simulation's base folder.
struct Photos {
    /// Resident 1201 (enrolled in the fixture), another picture than the enrolled ones.
    li: &'static str,
    /// Someone who is not enrolled.
    stranger: &'static str,
    /// Resident 1301 (not enrolled): the picture an admin enrols, and another one.
    wang: &'static str,
    wang_again: &'static str,
}

impl Faces {
    fn photos(self) -> Photos {
        match self {
            Faces::Fake => Photos {
                li: "li.png",
                stranger: "stranger.png",
                wang: "wang.png",
                wang_again: "wang.png",
            },
            Faces::Models => Photos {
                li: "deepface__c01/5.jpg",
                stranger: "deepface__c10/1.jpg",
                wang: "deepface__c02/1.jpg",
                wang_again: "deepface__c02/3.jpg",
            },
        }
    }
}

/// The fake engine's people: identity and liveness (a live face, or a printed photo).
const FAKE_PEOPLE: [(&str, u8, u8); 4] =
    [("li.png", 1, 255), ("li-photo.png", 1, 0), ("stranger.png", 10, 255), ("wang.png", 2, 255)];

struct Fixture {
    _dir: tempfile::TempDir,
    sim: Simulation,
    photos: Photos,
}

/// A gate with resident 1201 (PIN 2580, card 4512345, face enrolled), on the fake engine.
fn gate() -> Fixture {
    gate_with(Faces::Fake, |_| {})
}

fn gate_with(faces: Faces, adjust: impl FnOnce(&mut Config)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.consent.controller = "Office B".into();
    config.consent.contact = "Room 101".into();
    // The dev photos are not live captures: the scenarios that judge liveness turn it on.
    config.vision.liveness.mode = LivenessMode::Off;
    adjust(&mut config);
    config.paths.models = common::models_dir();
    config.store = common::store_in(dir.path());
    config.pin = PinConfig { memory_kib: 512, iterations: 1, ..PinConfig::default() };
    let mut store = Store::init(&config.store).unwrap();
    let new = NewResident {
        number: "1201".into(),
        name: "Li".into(),
        unit: "3-1201".into(),
        ..Default::default()
    };
    store.add_resident(&new, 0, "manager").unwrap();
    let pin = |text: &str| Pin::parse(text, &config.pin).unwrap();
    manage::set_pin(&mut store, &config.pin, "1201", &pin("2580"), 0, "manager").unwrap();
    let card: CardUid = "4512345".parse().unwrap();
    manage::add_card(&mut store, "1201", &card, "", 0, "manager").unwrap();
    // 1301 moves out an hour after the gate starts.
    let leaving = NewResident {
        number: "1301".into(),
        name: "Wang".into(),
        unit: "4-1301".into(),
        valid_until: Some(START + 3_600),
        ..Default::default()
    };
    store.add_resident(&leaving, 0, "manager").unwrap();
    manage::add_card(&mut store, "1301", &"777".parse().unwrap(), "", 0, "manager").unwrap();
    // 9001 is the caretaker (an admin when a test lists it in `[gate] admins`): door PIN 1379,
    // card 9009, admin PIN 739146.
    let caretaker =
        NewResident { number: "9001".into(), name: "Zhao".into(), ..Default::default() };
    store.add_resident(&caretaker, 0, "manager").unwrap();
    manage::set_pin(&mut store, &config.pin, "9001", &pin("1379"), 0, "manager").unwrap();
    manage::set_admin_pin(&mut store, &config.pin, "9001", &pin("739146"), 0, "manager").unwrap();
    manage::add_card(&mut store, "9001", &"9009".parse().unwrap(), "", 0, "manager").unwrap();
    let (engine, base): (Result<Box<dyn FaceEngine>, FaceUnavailable>, _) = match faces {
        Faces::Fake => {
            let turned = [true, false].map(|plus| FakeEngine::turned_frame(2, 255, plus));
            let people =
                FAKE_PEOPLE.map(|(file, identity, live)| (file, FakeEngine::frame(identity, live)));
            for (file, frame) in people.into_iter().chain([
                ("wang-plus.png", turned[0].clone()),
                ("wang-minus.png", turned[1].clone()),
            ]) {
                let (w, h) = (frame.width(), frame.height());
                let image = image::RgbImage::from_raw(w, h, frame.pixels().to_vec()).unwrap();
                image.save(dir.path().join(file)).unwrap();
            }
            let passive = uses_passive(config.vision.liveness.mode);
            (Ok(Box::new(FakeEngine { judges_liveness: passive })), dir.path().to_owned())
        }
        Faces::Models => {
            let base = common::dev_faces_dir().expect("model scenarios need the dev photos");
            let engine = ModelEngine::load(&config.paths.models, &config.vision).unwrap();
            (Ok(Box::new(engine)), base)
        }
    };
    let enrolled = match faces {
        Faces::Fake => FakeEngine::embedding(1),
        Faces::Models => {
            let mut pipeline = common::pipeline(BackendKind::Tract);
            let photo = |n: &str| base.join("deepface__c01").join(n);
            let embed = |p: &mut facegate::vision::FacePipeline, n: &str| {
                p.embed_image_file(&photo(n)).unwrap()
            };
            let both = [embed(&mut pipeline, "1.jpg"), embed(&mut pipeline, "2.jpg")];
            Embedding::mean(&both).unwrap()
        }
    };
    let consent = ConsentGrant {
        text_version: "1".into(),
        text_sha256: "00".repeat(32),
        operator: "manager".into(),
        guardian: None,
    };
    manage::enrol_face(&mut store, "1201", &enrolled, Some(&consent), 14, None, START).unwrap();
    let gpio = SimGpio::default();
    let door = DoorController::new(gpio.clone(), config.door.clone(), 0).unwrap();
    let settings = config.gate_settings();
    let gate = Gate::new(settings, store, engine, PhotoCamera::default(), door, START).unwrap();
    Fixture { _dir: dir, sim: Simulation::new(gate, gpio, &base), photos: faces.photos() }
}

/// Each face scenario runs on the fake engine, and on the models where the dev photos exist
/// (skipped, and counted as skipped, without them).
macro_rules! face_scenarios {
    ($($name:ident),* $(,)?) => {
        mod fake_engine {
            $(#[test]
            fn $name() {
                super::$name(super::Faces::Fake)
            })*
        }
        mod models {
            $(#[test]
            #[cfg_attr(not(shared_data), ignore = "needs ../shared")]
            fn $name() {
                super::$name(super::Faces::Models)
            })*
        }
    };
}

face_scenarios!(
    an_enrolled_face_is_let_in_and_a_stranger_is_offered_pin_or_card,
    after_a_pin_a_resident_deletes_their_own_face_data_at_the_gate,
    with_the_head_turn_challenge_a_photo_of_a_resident_is_refused_as_not_live,
    an_admin_enrols_a_consenting_resident_who_then_opens_the_door_by_face,
    a_face_as_second_factor_must_be_the_resident_who_typed_the_pin,
);

use common::{decisions, run};

#[test]
fn pin_then_the_door_pulses() {
    let mut f = gate();
    let events = run(&mut f.sim, "at 500\ntap pin\ntype 1201\ntype 2580");
    assert_eq!(decisions(&events), vec![(true, None)]);
    assert!(f.sim.gpio.output(Output::Strike), "strike released for the pulse");
    run(&mut f.sim, "at 6000");
    assert!(!f.sim.gpio.output(Output::Strike), "relocked after the pulse");
}

#[test]
fn wrong_pins_are_denied_and_the_lockout_is_shown_after_five() {
    let mut f = gate();
    for n in 0..5 {
        let events =
            run(&mut f.sim, &format!("at {}\ntap pin\ntype 1201\ntype 1111", 1_000 + n * 5_000));
        assert_eq!(decisions(&events), vec![(false, Some(DenyReason::PinNotAccepted))]);
    }
    let events = run(&mut f.sim, "at 30000\ntap pin\ntype 1201\ntype 2580");
    assert!(matches!(decisions(&events)[..], [(false, Some(DenyReason::LockedOut { .. }))]));
    assert!(matches!(
        f.sim.gate.screen(),
        Screen::Result { outcome: Outcome::LockedOut { .. }, .. }
    ));
    assert!(!f.sim.gpio.output(Output::Strike));
}

#[test]
fn a_card_tapped_on_the_idle_screen_opens_the_door() {
    let mut f = gate();
    assert!(matches!(f.sim.gate.screen(), Screen::Idle { .. }));
    let events = run(&mut f.sim, "at 100\ncard 4512345");
    assert_eq!(decisions(&events), vec![(true, None)]);
    assert!(f.sim.gpio.output(Output::Strike));
    let events = run(&mut f.sim, "at 9000\ncard 999999");
    assert_eq!(decisions(&events), vec![(false, Some(DenyReason::CardNotAccepted))]);
}

fn an_enrolled_face_is_let_in_and_a_stranger_is_offered_pin_or_card(faces: Faces) {
    let mut f = gate_with(faces, |_| {});
    let script = format!("show {}\nat 100\ntap face\nat 2000", f.photos.li);
    let events = run(&mut f.sim, &script);
    assert_eq!(decisions(&events), vec![(true, None)]);
    assert!(!f.sim.gate.camera().is_open(), "the camera closes on the result");
    let script = format!("show {}\nat 9000\ntap face\nat 11000", f.photos.stranger);
    let events = run(&mut f.sim, &script);
    assert_eq!(decisions(&events), vec![(false, Some(DenyReason::FaceNotRecognised))]);
    assert!(matches!(f.sim.gate.screen(), Screen::Result { offer: Offer::PinOrCard, .. }));
}

#[test]
fn a_face_session_decides_on_its_first_two_good_frames_fused() {
    let mut f = gate();
    let script = format!("show {}\nat 100\ntap face\nat 200\nshow nobody\nat 1000", f.photos.li);
    assert!(decisions(&run(&mut f.sim, &script)).is_empty(), "one good frame does not decide");
    let events = run(&mut f.sim, &format!("show {}\nat 1100", f.photos.li));
    assert_eq!(decisions(&events), vec![(true, None)], "the second good frame does");
}

fn a_face_as_second_factor_must_be_the_resident_who_typed_the_pin(faces: Faces) {
    let mut f =
        gate_with(faces, |c| c.access.two_factor = facegate::access::TwoFactor::PinNeedsFace);
    let script = format!("show {}\nat 100\ntap pin\ntype 1201\ntype 2580", f.photos.stranger);
    let events = run(&mut f.sim, &script);
    assert!(decisions(&events).is_empty(), "the PIN alone does not open the door");
    assert!(events.contains(&Event::CameraOpened), "the camera opens for the second factor");
    let events = run(&mut f.sim, "at 2000");
    assert_eq!(decisions(&events), vec![(false, Some(DenyReason::FaceNotRecognised))]);
    assert!(!f.sim.gpio.output(Output::Strike));
    let script = format!("show {}\nat 9000\ntap pin\ntype 1201\ntype 2580\nat 11000", f.photos.li);
    let events = run(&mut f.sim, &script);
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Decision { granted: true, resident: Some(r), .. } if r == "1201")
        ),
        "PIN and the same resident's face: {events:?}"
    );
    assert!(f.sim.gpio.output(Output::Strike));
}

#[test]
fn a_resident_without_face_data_enters_a_pin_needs_face_door_with_pin_and_card() {
    // 9001 never enrolled a face: the door asks for the card after the PIN, not a face.
    let mut f = gate_with(Faces::Fake, |c| {
        c.access.two_factor = facegate::access::TwoFactor::PinNeedsFace;
    });
    let events = run(&mut f.sim, "at 100\ntap pin\ntype 9001\ntype 1379");
    assert!(decisions(&events).is_empty(), "the PIN alone does not open the door");
    assert!(!events.contains(&Event::CameraOpened), "no face is asked of 9001");
    assert!(!f.sim.gpio.output(Output::Strike));
    let events = run(&mut f.sim, "at 600\ncard 9009");
    assert_eq!(decisions(&events), vec![(true, None)], "PIN and card: {events:?}");
    assert!(f.sim.gpio.output(Output::Strike));
}

#[test]
fn an_always_card_and_pin_door_offers_no_face_and_takes_both_in_either_order() {
    use facegate::access::TwoFactor;
    use facegate::runtime::gate::FaceTile;
    let mut f = gate_with(Faces::Fake, |c| c.access.two_factor = TwoFactor::AlwaysCardAndPin);
    assert_eq!(f.sim.gate.screen(), &Screen::Idle { face: FaceTile::NotOffered });
    let events = run(&mut f.sim, "at 100\ntap pin\ntype 1201\ntype 2580");
    assert!(decisions(&events).is_empty(), "the PIN alone does not open the door");
    assert_eq!(f.sim.gate.screen(), &Screen::Card, "the card is asked for");
    assert_eq!(decisions(&run(&mut f.sim, "card 4512345")), vec![(true, None)]);
    let events = run(&mut f.sim, "at 9000\ncard 4512345");
    assert!(decisions(&events).is_empty(), "the card alone does not open the door");
    assert_eq!(f.sim.gate.screen(), &Screen::PinCode, "the PIN is asked for");
    assert_eq!(decisions(&run(&mut f.sim, "type 2580")), vec![(true, None)]);
}

#[test]
fn cancel_during_face_closes_the_camera_and_a_face_timeout_offers_pin_or_card() {
    let mut f = gate();
    run(&mut f.sim, "show nobody\nat 100\ntap face\nat 1000");
    assert!(f.sim.gate.camera().is_open());
    assert!(matches!(f.sim.gate.screen(), Screen::Face { .. }));
    run(&mut f.sim, "tap cancel");
    assert!(!f.sim.gate.camera().is_open());
    assert!(matches!(f.sim.gate.screen(), Screen::Idle { .. }));
    run(&mut f.sim, "at 2000\ntap face\nat 12500");
    assert!(!f.sim.gate.camera().is_open(), "closed after the 10 s timeout");
    assert!(matches!(
        f.sim.gate.screen(),
        Screen::Result { granted: false, offer: Offer::PinOrCard, .. }
    ));
}

#[test]
fn a_failed_camera_greys_the_face_tile_keeps_pin_and_card_and_is_tried_again_later() {
    use facegate::runtime::gate::{CAMERA_RETRY_MS, FaceTile};
    let mut f = gate();
    let face_tile = |f: &Fixture| match f.sim.gate.screen() {
        Screen::Idle { face } => face.clone(),
        other => panic!("not idle: {other:?}"),
    };
    assert_eq!(face_tile(&f), FaceTile::Available);
    // Unplugged mid-session: the session ends with PIN or card offered, the camera closed.
    run(&mut f.sim, "show nobody\nat 100\ntap face\nat 500\ncamera unplug\nat 700");
    assert!(!f.sim.gate.camera().is_open());
    assert!(matches!(
        f.sim.gate.screen(),
        Screen::Result { granted: false, outcome: Outcome::CameraFailed, offer: Offer::PinOrCard }
    ));
    run(&mut f.sim, "at 6000");
    assert_eq!(face_tile(&f), FaceTile::Unavailable(FaceUnavailable::CameraFailed));
    run(&mut f.sim, "tap face");
    assert_eq!(f.sim.gate.camera().opened_count, 1, "a greyed tile does not try the camera");
    let events = run(&mut f.sim, "tap pin\ntype 1201\ntype 2580");
    assert_eq!(decisions(&events), vec![(true, None)], "PIN still opens the door");
    // Plugged back in: after the retry time the tile is back and the camera opens again.
    run(&mut f.sim, &format!("camera plug\nat {}", 700 + CAMERA_RETRY_MS + 5_000));
    assert_eq!(face_tile(&f), FaceTile::Available);
    run(&mut f.sim, "tap face");
    assert!(f.sim.gate.camera().is_open());
    // Still unplugged when tried: refused at once, nothing left open.
    run(&mut f.sim, "tap cancel\ncamera unplug\ntap face");
    assert!(!f.sim.gate.camera().is_open());
    assert!(matches!(f.sim.gate.screen(), Screen::Result { outcome: Outcome::CameraFailed, .. }));
}

#[test]
fn no_frame_source_is_opened_while_idle_for_a_minute() {
    let mut f = gate();
    run(&mut f.sim, &format!("show {}\nat 60000", f.photos.li));
    assert_eq!(f.sim.gate.camera().opened_count, 0);
    assert!(
        f.sim.gate.camera_mut().next_frame().unwrap().is_none(),
        "a closed camera gives no frame"
    );
}

#[test]
fn a_resident_who_moved_out_is_refused_and_then_purged_by_the_daily_run() {
    let mut f = gate();
    assert_eq!(decisions(&run(&mut f.sim, "at 100\ncard 777")), vec![(true, None)]);
    let two_hours = 2 * 3_600_000;
    let events = run(&mut f.sim, &format!("at {two_hours}\ncard 777"));
    assert_eq!(decisions(&events), vec![(false, Some(DenyReason::AccessNotValid))]);
    let next_day = 24 * 3_600_000 + 1_000;
    let events = run(&mut f.sim, &format!("at {next_day}\ncard 777"));
    assert_eq!(
        decisions(&events),
        vec![(false, Some(DenyReason::CardNotAccepted))],
        "resident and card deleted"
    );
}

fn after_a_pin_a_resident_deletes_their_own_face_data_at_the_gate(faces: Faces) {
    let mut f = gate_with(faces, |_| {});
    run(&mut f.sim, "at 100\ntap pin\ntype 1201\ntype 2580\ntap mydata");
    assert_eq!(f.sim.gate.screen(), &Screen::MyData { templates: 1 });
    let events = run(&mut f.sim, "tap delete");
    assert!(events.contains(&Event::FaceDataDeleted { templates: 1 }));
    assert!(matches!(
        f.sim.gate.screen(),
        Screen::Result { outcome: Outcome::FaceDataDeleted { .. }, .. }
    ));
    let events = run(&mut f.sim, &format!("show {}\nat 9000\ntap face\nat 10000", f.photos.li));
    assert_eq!(
        decisions(&events),
        vec![(false, Some(DenyReason::FaceNotRecognised))],
        "the face no longer opens the door"
    );
}

#[test]
fn my_data_is_closed_to_anyone_who_did_not_just_use_a_pin_or_card() {
    let mut f = gate();
    run(&mut f.sim, "at 100\ntap mydata\ntap delete");
    assert!(matches!(f.sim.gate.screen(), Screen::Idle { .. }));
}

#[test]
fn a_resident_changes_their_pin_at_the_gate_with_the_old_one() {
    let mut f = gate();
    run(&mut f.sim, "at 100\ntap pin\ntype 1201\ntype 2580\ntap mydata");
    let events = run(&mut f.sim, "newpin 1111 864200");
    assert!(events.contains(&Event::PinChanged { changed: false }));
    run(&mut f.sim, "at 5000\ntap pin\ntype 1201\ntype 2580\ntap mydata");
    let events = run(&mut f.sim, "newpin 2580 864200");
    assert!(events.contains(&Event::PinChanged { changed: true }));
    let events = run(&mut f.sim, "at 10000\ntap pin\ntype 1201\ntype 864200");
    assert_eq!(decisions(&events), vec![(true, None)]);
}

#[test]
fn the_pin_change_keypad_on_my_data_waits_while_the_resident_types_both_pins() {
    use facegate::runtime::gate::PIN_CHANGE_MS;
    let mut f = gate();
    run(&mut f.sim, "at 100\ntap pin\ntype 1201\ntype 2580\ntap mydata\ntap changepin");
    assert_eq!(f.sim.gate.screen(), &Screen::ChangePin);
    // Longer than the result screen stays: two PINs take a while to type.
    run(&mut f.sim, "at 12000");
    assert_eq!(f.sim.gate.screen(), &Screen::ChangePin);
    let events = run(&mut f.sim, "newpin 2580 864200");
    assert!(events.contains(&Event::PinChanged { changed: true }));
    let events = run(&mut f.sim, "at 20000\ntap pin\ntype 1201\ntype 864200");
    assert_eq!(decisions(&events), vec![(true, None)]);
    // Left alone, the keypad closes.
    run(&mut f.sim, "at 30000\ntap pin\ntype 1201\ntype 864200\ntap mydata\ntap changepin");
    assert_eq!(f.sim.gate.screen(), &Screen::ChangePin);
    run(&mut f.sim, &format!("at {}", 30_000 + PIN_CHANGE_MS));
    assert!(matches!(f.sim.gate.screen(), Screen::Idle { .. }));
}

fn with_the_head_turn_challenge_a_photo_of_a_resident_is_refused_as_not_live(faces: Faces) {
    let mut f = gate_with(faces, |c| c.vision.liveness.mode = LivenessMode::Active);
    let events = run(&mut f.sim, &format!("show {}\nat 100\ntap face\nat 1500", f.photos.li));
    assert!(decisions(&events).is_empty(), "no decision while the challenge runs");
    assert!(
        matches!(f.sim.gate.screen(), Screen::Face { prompt: Some(_), .. }),
        "a turn prompt is shown"
    );
    // The baseline takes half a second, then the turn times out after 3 s.
    let events = run(&mut f.sim, "at 5000");
    assert_eq!(decisions(&events), vec![(false, Some(DenyReason::LivenessFailed))]);
    assert!(matches!(f.sim.gate.screen(), Screen::Result { offer: Offer::PinOrCard, .. }));
    assert!(!f.sim.gate.camera().is_open());
    let script = format!("show {}\nat 15000\ntap face\nat 15500", f.photos.stranger);
    let events = run(&mut f.sim, &script);
    assert_eq!(
        decisions(&events),
        vec![(false, Some(DenyReason::FaceNotRecognised))],
        "strangers are told at once"
    );
}

#[test]
fn with_passive_liveness_a_printed_photo_is_refused_and_the_live_face_let_in() {
    let mut f = gate_with(Faces::Fake, |c| c.vision.liveness.mode = LivenessMode::Passive);
    let events = run(&mut f.sim, "show li-photo.png\nat 100\ntap face\nat 1000");
    assert_eq!(decisions(&events), vec![(false, Some(DenyReason::LivenessFailed))]);
    assert!(matches!(
        f.sim.gate.screen(),
        Screen::Result { outcome: Outcome::NotLive, offer: Offer::PinOrCard, .. }
    ));
    assert!(!f.sim.gate.camera().is_open());
    let events = run(&mut f.sim, "show li.png\nat 9000\ntap face\nat 10000");
    assert_eq!(decisions(&events), vec![(true, None)]);
}

fn admin_gate(faces: Faces) -> Fixture {
    gate_with(faces, |c| c.gate.admins = vec!["9001".into()])
}

/// The caretaker's two factors for admin mode: card, then admin PIN.
const ADMIN_LOGIN: &str = "card 9009\ntap admin\ntype 739146";

#[test]
fn only_a_listed_admin_gets_admin_mode_after_their_card_and_admin_pin() {
    let mut f = admin_gate(Faces::Fake);
    run(&mut f.sim, "at 100\ncard 4512345");
    assert!(matches!(f.sim.gate.screen(), Screen::Result { offer: Offer::MyData, .. }));
    run(&mut f.sim, "tap admin");
    assert!(matches!(f.sim.gate.screen(), Screen::Result { .. }), "a resident is no admin");
    run(&mut f.sim, "at 5000\ntap pin\ntype 9001\ntype 1379");
    assert!(
        matches!(f.sim.gate.screen(), Screen::Result { offer: Offer::MyData, .. }),
        "the admin's door PIN alone is one factor: no admin mode"
    );
    run(&mut f.sim, "at 10000\ncard 9009");
    assert!(matches!(f.sim.gate.screen(), Screen::Result { offer: Offer::Admin, .. }));
    run(&mut f.sim, "tap admin");
    assert_eq!(f.sim.gate.screen(), &Screen::PinCode, "the admin PIN is asked for");
    run(&mut f.sim, "type 1379");
    assert!(
        matches!(f.sim.gate.screen(), Screen::Result { outcome: Outcome::NotAccepted, .. }),
        "the door PIN is not the admin PIN"
    );
    run(&mut f.sim, &format!("at 15000\n{ADMIN_LOGIN}"));
    assert!(matches!(f.sim.gate.screen(), Screen::Admin { .. }));
    run(&mut f.sim, "at 80000");
    assert!(matches!(f.sim.gate.screen(), Screen::Idle { .. }), "admin mode ends after a minute");
}

/// Admin mode, 1301 proves themselves with their card and agrees, at a door with the
/// head-turn challenge; the camera shows 1301 (fake engine) facing it.
fn enrolment_with_the_head_turn() -> Fixture {
    let mut f = gate_with(Faces::Fake, |c| {
        c.gate.admins = vec!["9001".into()];
        c.vision.liveness.mode = LivenessMode::Active;
    });
    run(&mut f.sim, &format!("at 100\n{ADMIN_LOGIN}\nadmin enrol\ntype 1301\ncard 777"));
    run(&mut f.sim, "show wang.png\ntap agree\nat 2000");
    assert!(
        matches!(f.sim.gate.screen(), Screen::Enrolling { captured: 3, prompt: Some(_), .. }),
        "the frames are captured, then the resident is asked to turn: {:?}",
        f.sim.gate.screen()
    );
    f
}

#[test]
fn at_a_door_with_the_head_turn_a_face_that_never_turns_is_not_enrolled() {
    let mut f = enrolment_with_the_head_turn();
    let events = run(&mut f.sim, "at 9000");
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Screen(Screen::Result { granted: false, outcome: Outcome::NotLive, .. })
        )),
        "the challenge times out: {events:?}"
    );
    assert!(!f.sim.gate.camera().is_open());
    let events = run(&mut f.sim, "tap cancel\nat 20000\ntap face\nat 21000");
    assert_eq!(decisions(&events), vec![(false, Some(DenyReason::FaceNotRecognised))]);
}

#[test]
fn at_a_door_with_the_head_turn_a_resident_who_turns_as_asked_is_enrolled() {
    let mut f = enrolment_with_the_head_turn();
    for t in (2_100..12_000).step_by(100) {
        let shown = match f.sim.gate.screen() {
            Screen::Enrolling { prompt: Some(Turn::Plus), .. } => "wang-plus.png",
            Screen::Enrolling { prompt: Some(Turn::Minus), .. } => "wang-minus.png",
            Screen::Enrolling { .. } => "wang.png",
            _ => break,
        };
        run(&mut f.sim, &format!("show {shown}\nat {t}"));
    }
    assert!(
        matches!(
            f.sim.gate.screen(),
            Screen::Result { granted: true, outcome: Outcome::Enrolled { .. }, .. }
        ),
        "{:?}",
        f.sim.gate.screen()
    );
}

fn an_admin_enrols_a_consenting_resident_who_then_opens_the_door_by_face(faces: Faces) {
    let mut f = admin_gate(faces);
    run(&mut f.sim, &format!("at 100\n{ADMIN_LOGIN}\nadmin enrol\ntype 1301"));
    assert_eq!(f.sim.gate.screen(), &Screen::PinCode, "the resident proves themselves first");
    run(&mut f.sim, "card 777");
    let Screen::Consent { number, notice } = f.sim.gate.screen().clone() else {
        panic!("the notice comes first: {:?}", f.sim.gate.screen())
    };
    assert_eq!(number, "1301");
    assert!(notice.contains("本门人脸识别告知"), "the notice in the screen's language");
    run(&mut f.sim, "tap language");
    assert!(
        matches!(f.sim.gate.screen(), Screen::Consent { notice, .. } if notice.contains("notice and consent"))
    );
    assert!(!f.sim.gate.camera().is_open(), "no camera before the resident agrees");
    let events = run(&mut f.sim, &format!("show {}\ntap agree\nat 3000", f.photos.wang));
    assert!(events.contains(&Event::CameraOpened) && events.contains(&Event::CameraClosed));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Screen(Screen::Enrolling { captured: 1, needed: 3, .. })))
    );
    assert!(
        matches!(
            f.sim.gate.screen(),
            Screen::Result { granted: true, outcome: Outcome::Enrolled { .. }, .. }
        ),
        "{:?}",
        f.sim.gate.screen()
    );
    run(&mut f.sim, "tap cancel\ntap cancel");
    assert!(matches!(f.sim.gate.screen(), Screen::Idle { .. }));
    let script = format!("show {}\nat 9000\ntap face\nat 10000", f.photos.wang_again);
    let events = run(&mut f.sim, &script);
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Decision { granted: true, resident: Some(r), .. } if r == "1301")
        ),
        "the newly enrolled resident is let in: {events:?}"
    );
}

#[test]
fn an_admin_adds_a_card_by_tapping_it_resets_a_pin_and_lifts_a_lockout() {
    let mut f = admin_gate(Faces::Fake);
    for n in 0..5 {
        run(&mut f.sim, &format!("at {}\ntap pin\ntype 1201\ntype 1111", 1_000 + n * 5_000));
    }
    run(&mut f.sim, &format!("at 30000\n{ADMIN_LOGIN}\nadmin unlock\ntype 1201"));
    assert!(matches!(
        f.sim.gate.screen(),
        Screen::Result { outcome: Outcome::LockoutLifted { was_locked: true, .. }, .. }
    ));
    run(&mut f.sim, "tap cancel\nadmin card\ntype 1201\ncard 600123");
    assert!(matches!(
        f.sim.gate.screen(),
        Screen::Result { outcome: Outcome::CardAdded { .. }, .. }
    ));
    run(&mut f.sim, "tap cancel\nadmin card\ntype 1201\ncard 600123");
    assert!(matches!(
        f.sim.gate.screen(),
        Screen::Result { outcome: Outcome::CardAlreadyRegistered, .. }
    ));
    run(&mut f.sim, "tap cancel\nadmin pin\ntype 1201\ntype 12");
    assert!(matches!(f.sim.gate.screen(), Screen::Result { outcome: Outcome::PinRejected, .. }));
    run(&mut f.sim, "tap cancel\nadmin pin\ntype 4444\n");
    assert!(matches!(
        f.sim.gate.screen(),
        Screen::Result { outcome: Outcome::UnknownResident, .. }
    ));
    run(&mut f.sim, "tap cancel\nadmin pin\ntype 1201\ntype 864200\ntap cancel\ntap cancel");
    assert!(matches!(f.sim.gate.screen(), Screen::Idle { .. }));
    let events =
        run(&mut f.sim, "at 40000\ncard 600123\nat 46000\ntap pin\ntype 1201\ntype 864200");
    assert_eq!(
        decisions(&events),
        vec![(true, None), (true, None)],
        "the new card and the new PIN"
    );
}
