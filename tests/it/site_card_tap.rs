//! A card added by a tap at a chosen door (issue 18), on a real nats-server: the site's request
//! goes through `site.db`, `c.<door>` and the door's sync agent to a simulated gate, which asks
//! for the card on its screen; the door reports the card's keyed index, the site adds the card
//! to the resident and every door then opens for it. A replayed request reads no second card;
//! a request that reached the door late, or that no card answered in time, adds nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use facegate::access::Checked;
use facegate::access::checks::check_card;
use facegate::config::Config;
use facegate::credentials::CardUid;
use facegate::door::{DoorController, SimGpio};
use facegate::runtime::gate::Outcome;
use facegate::runtime::script::Simulation;
use facegate::runtime::{Event, Gate, PhotoCamera, Screen};
use facegate::site::card_tap::{self, TapState};
use facegate::site::commands::{self, DoorCommand};
use facegate::store::unix_now;
use facegate::vision::{FaceEngine, FakeEngine};

use crate::site_rig::*;

/// A simulated gate on a door's replica, in site mode as that door, its clock `skew` seconds
/// off the site's. Its time follows the wall clock (the sync agent runs on it) and may be
/// moved ahead with [`DoorGate::later`].
pub struct DoorGate {
    pub sim: Simulation,
    created: Instant,
    at: u64,
}

impl DoorGate {
    /// The gate; `photos` is where a script's `show NAME` finds its pictures.
    pub fn new(door: &Door, photos: &Path, skew: i64) -> Self {
        let mut config = Config::default();
        config.consent.controller = "Office B".into();
        config.consent.contact = "Room 101".into();
        let gpio = SimGpio::default();
        let controller = DoorController::new(gpio.clone(), config.door.clone(), 0).unwrap();
        let engine: Box<dyn FaceEngine> = Box::new(FakeEngine { judges_liveness: true });
        let camera = PhotoCamera::default();
        let start = unix_now() + skew;
        let settings = config.gate_settings();
        let gate = Gate::new(settings, door.open(), Ok(engine), camera, controller, start).unwrap();
        Self { sim: Simulation::new(gate, gpio, photos), created: Instant::now(), at: 0 }
    }

    /// Brings the gate's time up to the wall clock, then runs the script's lines; its events.
    pub fn run(&mut self, script: &str) -> Vec<Event> {
        self.at = self.at.max(self.created.elapsed().as_millis() as u64);
        let now = format!("at {}", self.at);
        let lines = std::iter::once(now.as_str()).chain(script.lines());
        lines.flat_map(|line| self.sim.run_line(line).unwrap()).map(|(_, e)| e).collect()
    }

    /// Moves the gate's time `ms` ahead of where it is (a result screen times out).
    pub fn later(&mut self, ms: u64) {
        self.at += ms;
        self.run("");
    }

    pub fn screen(&self) -> &Screen {
        self.sim.gate.screen()
    }

    /// Runs the gate until its screen satisfies `f` (true) or `timeout` passed (false).
    pub fn wait_for(&mut self, timeout: Duration, f: impl Fn(&Screen) -> bool) -> bool {
        wait_until(timeout, || {
            self.run("");
            f(self.screen())
        })
        .is_some()
    }
}

/// A card as the reader types its printed number (the script's `card N`).
fn tapped(number: u32) -> CardUid {
    number.to_string().parse().unwrap()
}

fn asks_for_card(screen: &Screen, number: &str) -> bool {
    matches!(screen, Screen::SiteCard { number: n } if n == number)
}

fn unlocked(events: &[Event]) -> bool {
    events.iter().any(|e| matches!(e, Event::Door { what } if what == "Unlocked"))
}

/// The resident a card opens for in a database, by number.
fn card_holder(store: &facegate::store::Store, uid: &CardUid) -> Option<String> {
    let Checked::Card(Some(id)) = check_card(store, uid).unwrap() else { return None };
    Some(store.resident_by_id(id).unwrap().number)
}

/// Puts a command under `c.<door>` again, as a replayed bucket entry would be.
pub fn put_command(site: &Site, command: &DoorCommand) {
    let bucket = facegate::site::bucket(&site.site);
    let json = serde_json::to_vec(command).unwrap();
    site.rt.block_on(async {
        let client = async_nats::connect(site.server.url()).await.unwrap();
        let kv = async_nats::jetstream::new(client).get_key_value(bucket).await.unwrap();
        kv.put(commands::key(&command.door), json.into()).await.unwrap();
    });
}

fn audited(site: &Site, kind: &str) -> Vec<String> {
    let audit = site.register().audit_entries(None).unwrap();
    audit.into_iter().filter(|e| e.kind == kind).map(|e| e.detail).collect()
}

#[test]
fn a_card_tapped_at_the_chosen_door_is_added_to_the_resident_and_opens_every_door_once() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 2, 1_000);
    site.start_controller();
    let mut doors: Vec<Door> = ["north", "south"].iter().map(|n| site.door(n, false)).collect();
    doors.iter_mut().for_each(|door| site.start_agent(door));
    site.wait_converged(&doors, Duration::from_secs(60));
    let photos = tempfile::tempdir().unwrap();
    let mut north = DoorGate::new(&doors[0], photos.path(), 0);
    let new_card = tapped(7_001);
    assert_eq!(card_holder(&doors[0].open(), &new_card), None);

    let asked = Instant::now();
    let site_db = site.site_db();
    let now = unix_now();
    let command =
        card_tap::request(&site_db, &mut site.register(), &doors[0].id, "1001", "zhao", now)
            .unwrap();
    assert_eq!(command.expires_at, now + card_tap::TAP_WINDOW_SECS);
    let state = || card_tap::tap_request(&site_db, &command.id, unix_now()).unwrap().unwrap();
    assert!(matches!(state().state, TapState::Waiting { .. }));
    let shown = north.wait_for(Duration::from_secs(30), |s| asks_for_card(s, "1001"));
    assert!(shown, "the door asks for resident 1001's card: {:?}", north.screen());
    println!("card by tap: console → door's screen in {:?}", asked.elapsed());
    let events = north.run("card 7001");
    assert!(!unlocked(&events), "the new card opens nothing while it is read");
    let screen = north.screen();
    assert!(matches!(screen, Screen::Result { outcome: Outcome::CardAdded { .. }, .. }));

    wait_until(Duration::from_secs(30), || state().state == TapState::Added)
        .expect("the site adds the card");
    assert_eq!(card_holder(&site.register(), &new_card).as_deref(), Some("1001"));
    wait_until(Duration::from_secs(30), || {
        doors.iter().all(|door| card_holder(&door.open(), &new_card).as_deref() == Some("1001"))
    })
    .expect("the card opens every door");
    println!("card by tap: tap → every door in {:?}", asked.elapsed());
    let added = audited(&site, "card_added");
    assert_eq!(added.iter().filter(|d| d.contains("by zhao (tap at north)")).count(), 1);
    let requested = audited(&site, "card_tap_requested");
    assert!(requested.len() == 1 && requested[0].contains("by zhao"), "{requested:?}");

    // The same command again: the door reads no second card, the site adds nothing.
    north.later(10_000);
    put_command(&site, &command);
    let shown_again = north.wait_for(Duration::from_secs(3), |s| asks_for_card(s, "1001"));
    assert!(!shown_again, "a replayed request asks for no card");
    north.run("card 7002");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(card_holder(&site.register(), &tapped(7_002)), None);
    assert_eq!(audited(&site, "card_added").len(), added.len(), "nothing added twice");
    let report_rows = site.site_db().messages(None).unwrap();
    assert!(report_rows.iter().all(|m| !m.detail.contains("7001")), "no card number kept");
}

#[test]
fn a_tap_request_adds_nothing_when_no_card_comes_in_time_or_it_reaches_the_door_late() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 2, 1_000);
    site.start_controller();
    let mut doors: Vec<Door> = ["south", "east"].iter().map(|n| site.door(n, false)).collect();
    doors.iter_mut().for_each(|door| site.start_agent(door));
    site.wait_converged(&doors, Duration::from_secs(60));
    let photos = tempfile::tempdir().unwrap();
    // South's clock runs 50 s ahead: 10 s of the window are left when the request arrives.
    let mut south = DoorGate::new(&doors[0], photos.path(), card_tap::TAP_WINDOW_SECS - 10);
    // East's runs 2 minutes ahead: every request reaches it after its expiry.
    let mut east = DoorGate::new(&doors[1], photos.path(), 120);
    let site_db = site.site_db();
    let ask = |door: &Door| {
        let mut register = site.register();
        card_tap::request(&site_db, &mut register, &door.id, "1002", "wang", unix_now()).unwrap()
    };
    let state = |id: &str| card_tap::tap_request(&site_db, id, unix_now()).unwrap().unwrap().state;

    let unanswered = ask(&doors[0]);
    assert!(south.wait_for(Duration::from_secs(30), |s| asks_for_card(s, "1002")));
    let idle = south.wait_for(Duration::from_secs(20), |s| matches!(s, Screen::Idle { .. }));
    assert!(idle, "the door stops asking when the time ran out: {:?}", south.screen());
    wait_until(Duration::from_secs(30), || state(&unanswered.id) == TapState::TimedOut)
        .expect("the site learns that no card came");
    south.run("card 7003");

    let late = ask(&doors[1]);
    let shown = east.wait_for(Duration::from_secs(5), |s| asks_for_card(s, "1002"));
    assert!(!shown, "a request past its expiry by the door's clock asks for nothing");
    east.run("card 7004");
    wait_until(Duration::from_secs(30), || {
        site_db.command(&late.id).unwrap().is_some_and(|c| c.reported_at.is_some())
    })
    .expect("east reports the late request");
    assert_eq!(state(&late.id), TapState::TimedOut);
    for uid in [tapped(7_003), tapped(7_004)] {
        assert_eq!(card_holder(&site.register(), &uid), None, "no card added");
    }
    let taps = audited(&site, "card_tap");
    assert!(taps.iter().any(|d| d.ends_with("no card")), "{taps:?}");
    assert!(taps.iter().any(|d| d.ends_with("expired")), "{taps:?}");
    assert!(audited(&site, "card_added").len() == 2, "only the two cards of the setup");
}
