//! A resident's PIN lockout at a door, seen and lifted from the console (issue 18), end to end on
//! a real nats-server: five wrong PINs at door A lock the resident there; A reports it through
//! its outbox, and the resident's console page (HTTP, signed in) shows the lockout at A; a
//! caretaker's lift (an auditor's is refused) goes through `site.db`, `c.<door>` and A's sync
//! agent to A's database, and the resident's right PIN opens A at once. The lift reaches the
//! register's audit once; the same command put again lifts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use facegate::config::Config;
use facegate::console::accounts::ConsoleDb;
use facegate::console::roles::Role;
use facegate::console::{Console, router};
use facegate::credentials::lockout::resident_key;
use facegate::runtime::gate::Outcome;
use facegate::runtime::{Event, Screen};
use facegate::site::commands::{CommandKind, DoorCommand};
use facegate::site::lockouts;
use facegate::store::{Store, unix_now};

use crate::console_http::{Browser, PASSWORD};
use crate::site_card_tap::DoorGate;
use crate::site_rig::*;

/// A PIN that is not resident 1001's ([`pin_of`] gives it 730264).
const WRONG: &str = "482915";

/// A browser signed in as `name` on the console of `site`, on the controller's own files.
fn signed_in(site: &Site, name: &str) -> Browser {
    let dir = site.site_dir();
    let accounts = ConsoleDb::in_memory().unwrap();
    for (name, role) in [("zhao", Role::Caretaker), ("qian", Role::Auditor)] {
        accounts.add_account(name, role, PASSWORD, unix_now()).unwrap();
    }
    let register = Store::open(&dir.register()).unwrap();
    let state =
        Console::new(register, accounts, site.site_db(), Config::default(), Arc::new(unix_now));
    let mut browser = Browser::new(router(state));
    let status = site.rt.block_on(browser.sign_in(name, PASSWORD));
    assert_eq!(status, StatusCode::SEE_OTHER, "{name} signs in");
    browser
}

fn pin(gate: &mut DoorGate, typed: &str) -> Vec<Event> {
    gate.run(&format!("tap pin\ntype 1001\ntype {typed}"))
}

fn opened(events: &[Event]) -> bool {
    events.iter().any(|e| matches!(e, Event::Door { what } if what == "Unlocked"))
}

fn locked_out(gate: &DoorGate) -> bool {
    matches!(gate.screen(), Screen::Result { outcome: Outcome::LockedOut { .. }, .. })
}

fn audited(site: &Site, kind: &str) -> Vec<String> {
    let audit = site.register().audit_entries(None).unwrap();
    audit.into_iter().filter(|e| e.kind == kind).map(|e| e.detail).collect()
}

fn wait(what: &str, f: impl FnMut() -> bool) -> Duration {
    wait_until(Duration::from_secs(30), f).unwrap_or_else(|| panic!("{what}: not within 30 s"))
}

/// Whether resident 1001's PIN is locked at `door` by its own database, now.
fn locked_at(door: &Door) -> bool {
    door.open().lockout(&resident_key("1001")).unwrap().locked_until.is_some()
}

#[test]
fn five_wrong_pins_lock_a_resident_at_one_door_and_a_caretakers_lift_from_the_console_opens_it() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 2, 1_000);
    let resident = site.register().resident("1001").unwrap().id;
    site.start_controller();
    let mut doors: Vec<Door> = ["door-a", "door-b"].iter().map(|n| site.door(n, false)).collect();
    doors.iter_mut().for_each(|door| site.start_agent(door));
    site.wait_converged(&doors, Duration::from_secs(60));
    let photos = tempfile::tempdir().unwrap();
    let mut gate_a = DoorGate::new(&doors[0], photos.path(), 0);

    for _ in 0..5 {
        assert!(!opened(&pin(&mut gate_a, WRONG)));
    }
    assert!(!opened(&pin(&mut gate_a, "730264")), "locked: the right PIN is refused too");
    assert!(locked_out(&gate_a), "{:?}", gate_a.screen());
    let site_db = site.site_db();
    wait("the lockout at the site", || {
        !lockouts::of_resident(&site_db, resident, unix_now()).unwrap().is_empty()
    });
    let at_site = lockouts::of_resident(&site_db, resident, unix_now()).unwrap();
    assert_eq!((at_site.len(), at_site[0].door.as_str(), at_site[0].failures), (1, "door-a", 5));
    assert!(!locked_at(&doors[1]), "door B's keypad is not locked for the resident");
    let kept = site_db.messages(None).unwrap();
    assert!(kept.iter().all(|m| !m.detail.contains(WRONG) && !m.detail.contains("730264")));

    let mut zhao = signed_in(&site, "zhao");
    let page = site.rt.block_on(zhao.get("/residents/1001")).body;
    assert!(page.contains("<td>door-a</td>") && page.contains("Lift at door-a"), "{page}");
    assert!(!page.contains("<td>door-b</td>"), "only where the resident is locked out");
    assert!(!page.contains("lock the keypad at that door only"), "the old text is gone");

    let mut qian = signed_in(&site, "qian");
    assert_eq!(site.rt.block_on(qian.get("/residents/1001")).status, StatusCode::FORBIDDEN);
    site.rt.block_on(qian.get("/audit"));
    let refused = site.rt.block_on(qian.post("/residents/1001/lockout/doors", &[]));
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "an auditor may not lift");
    let forged = site.rt.block_on(zhao.post_raw("/residents/1001/lockout/doors", &[]));
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "without the CSRF token");
    assert!(site_db.pending_commands().unwrap().is_empty(), "nothing refused is queued");

    let clicked = Instant::now();
    let lifted =
        site.rt.block_on(zhao.post("/residents/1001/lockout/doors", &[("door", "door-a")]));
    assert_eq!(lifted.status, StatusCode::SEE_OTHER);
    wait("the lift at door A", || {
        gate_a.run("");
        !locked_at(&doors[0])
    });
    assert!(opened(&pin(&mut gate_a, "730264")), "the right PIN opens A: {:?}", gate_a.screen());
    println!("lockout lift: console click → PIN accepted at door A in {:?}", clicked.elapsed());

    let requested = audited(&site, "lockout_lift_requested");
    assert!(requested.len() == 1 && requested[0].contains("door door-a"), "{requested:?}");
    assert!(requested[0].contains("by zhao"), "with the account: {requested:?}");
    wait("the door's report of the lift", || !audited(&site, "lockout_lifted").is_empty());
    wait("the end of the lockout at the site", || {
        lockouts::of_resident(&site_db, resident, unix_now()).unwrap().is_empty()
    });
    let page = site.rt.block_on(zhao.get("/residents/1001")).body;
    assert!(page.contains("Not locked out at any door."), "{page}");

    // Locked again; the same lift put again under c.door-a lifts nothing.
    for _ in 0..5 {
        pin(&mut gate_a, WRONG);
    }
    assert!(locked_at(&doors[0]));
    let command: DoorCommand = site_db.recent_commands(&doors[0].id, 1).unwrap()[0].command.clone();
    assert_eq!(command.kind, CommandKind::LiftLockout);
    crate::site_card_tap::put_command(&site, &command);
    std::thread::sleep(Duration::from_secs(3));
    gate_a.run("");
    assert!(locked_at(&doors[0]), "a replayed lift does nothing");
    assert!(!opened(&pin(&mut gate_a, "730264")));
    let lifts = audited(&site, "lockout_lifted");
    assert_eq!(lifts.len(), 1, "the lift is in the register's audit once: {lifts:?}");
    assert!(lifts[0].contains("door-a") && lifts[0].contains(&format!("resident#{resident}")));
}
