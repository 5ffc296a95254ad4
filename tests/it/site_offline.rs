//! `[site] max_offline_hours`: a door whose replica last caught up too long ago stops offering
//! Face (it cannot know of withdrawals made elsewhere) while PIN and card go on, and offers it
//! again as soon as its sync agent catches up; a single door (no site) is never affected.

use facegate::config::Config;
use facegate::door::{DoorController, SimGpio};
use facegate::runtime::gate::{FaceTile, FaceUnavailable};
use facegate::runtime::{Action, Gate, PhotoCamera, Screen};
use facegate::store::Store;
use facegate::vision::{FaceEngine, FakeEngine};

use crate::common;

const START: i64 = 1_780_000_000;
const HOUR: i64 = 3600;

type TestGate = Gate<PhotoCamera, DoorController<SimGpio>>;

fn gate(joined: bool, last_contact: Option<i64>) -> (tempfile::TempDir, Config, TestGate) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { store: common::store_in(dir.path()), ..Config::default() };
    let mut store = Store::init(&config.store).unwrap();
    if joined {
        store.join_site(&"oak".parse().unwrap(), &"north".parse().unwrap()).unwrap();
    }
    if let Some(at) = last_contact {
        store.set_last_contact(at).unwrap();
    }
    let faces: Box<dyn FaceEngine> = Box::new(FakeEngine::default());
    let door = DoorController::new(SimGpio::default(), config.door.clone(), 0).unwrap();
    let gate =
        Gate::new(config.gate_settings(), store, Ok(faces), PhotoCamera::default(), door, START)
            .unwrap();
    (dir, config, gate)
}

fn idle_face(gate: &TestGate) -> FaceTile {
    match gate.screen() {
        Screen::Idle { face } => face.clone(),
        other => panic!("not idle: {other:?}"),
    }
}

#[test]
fn a_door_out_of_touch_longer_than_max_offline_offers_pin_and_card_but_not_face() {
    let out_of_sync = FaceTile::Unavailable(FaceUnavailable::OutOfSync);
    let (_dir, _, mut stale) = gate(true, Some(START - 25 * HOUR));
    assert_eq!(idle_face(&stale), out_of_sync);
    stale.act(Action::ChooseFace, 10).unwrap();
    assert_eq!(idle_face(&stale), out_of_sync, "Face does not start");
    stale.act(Action::ChoosePin, 20).unwrap();
    assert_eq!(stale.screen(), &Screen::PinNumber, "PIN goes on");
    stale.act(Action::Cancel, 30).unwrap();

    assert_eq!(idle_face(&gate(true, None).2), out_of_sync, "a door that never caught up");
    assert_eq!(idle_face(&gate(false, None).2), FaceTile::Available, "a single door");

    let (_dir, config, mut fresh) = gate(true, Some(START - 23 * HOUR));
    assert_eq!(idle_face(&fresh), FaceTile::Available);
    let two_hours = 2 * HOUR as u64 * 1000;
    fresh.tick(two_hours).unwrap();
    assert_eq!(idle_face(&fresh), out_of_sync, "the idle screen follows the clock");
    Store::open(&config.store).unwrap().set_last_contact(START + 2 * HOUR).unwrap();
    fresh.tick(two_hours + 100).unwrap();
    assert_eq!(idle_face(&fresh), FaceTile::Available, "back once the agent caught up");
}
