//! Visitor passes, enrolment bookings and PIN-reset codes through the site sync, on a real
//! nats-server: issued at the site, used at a door, the use reported back and applied once,
//! and what remains republished to every door. Propagation times and the window in which a
//! second door can still over-use a multi-door pass are printed, not asserted.

use std::time::{Duration, Instant};

use facegate::access::Checked;
use facegate::access::checks::{PassCheck, check_admin_pin, check_pin, use_visitor_code};
use facegate::credentials::{Code, Pin};
use facegate::manage;
use facegate::site::outbox::OutboxKind;
use facegate::store::{BookingDone, NewVisitorPass, PassRefusal, Store, unix_now};

use crate::site_rig::*;

/// A pass valid for the next hour by the real clock (the controller publishes by it).
fn pass(entries: u32, doors: &[&Door]) -> NewVisitorPass {
    let now = unix_now();
    NewVisitorPass {
        label: "plumber for 1203".into(),
        company: None,
        valid_from: now - 60,
        valid_until: now + 3_600,
        entries,
        doors: doors.iter().map(|door| door.id.clone()).collect(),
    }
}

/// Types a visitor's code at a door, as the gate does.
fn try_code(door: &Door, code: &str) -> PassCheck {
    let code = Code::parse(code).unwrap();
    use_visitor_code(&mut door.open(), &rules(), &code, Some(&door.id), unix_now()).unwrap()
}

fn opened(check: &PassCheck) -> bool {
    matches!(check, PassCheck::Opened { .. })
}

/// Entries left of a pass at a door (`None`: not there).
fn entries_left(door: &Door, pass: i64) -> Option<u32> {
    left_in(&door.open(), pass)
}

/// Entries left of a pass in a door's database.
fn left_in(store: &Store, pass: i64) -> Option<u32> {
    let passes = store.visitor_passes(0).unwrap();
    passes.into_iter().find(|p| p.id == pass).map(|p| p.entries_left)
}

/// A site with residents 1001..=1003 (PIN and card, no face), its controller and `n` doors
/// running, every replica caught up.
fn site_with_doors(n: usize) -> (Site, Vec<Door>) {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 3, 1_000);
    site.start_controller();
    let mut doors: Vec<Door> = (0..n).map(|i| site.door(&format!("door-{i:02}"), false)).collect();
    doors.iter_mut().for_each(|door| site.start_agent(door));
    site.wait_converged(&doors, Duration::from_secs(60));
    (site, doors)
}

/// How long after `since` each door's database satisfied `arrived` (at most 30 s); the
/// databases stay open while polling, so the times are the sync's, not the polling's.
fn arrivals(doors: &[Door], since: Instant, arrived: impl Fn(&Store) -> bool) -> Vec<Duration> {
    let stores: Vec<Store> = doors.iter().map(Door::open).collect();
    let mut times: Vec<Option<Duration>> = vec![None; doors.len()];
    while times.iter().any(Option::is_none) && since.elapsed() < Duration::from_secs(30) {
        for (store, time) in stores.iter().zip(times.iter_mut()) {
            if time.is_none() && arrived(store) {
                *time = Some(since.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let missing: Vec<&str> =
        doors.iter().zip(&times).filter(|(_, t)| t.is_none()).map(|(d, _)| d.id.as_str()).collect();
    assert!(missing.is_empty(), "never arrived at {missing:?}");
    times.into_iter().flatten().collect()
}

/// The site's kept messages of one kind.
fn kept(site: &Site, kind: OutboxKind) -> Vec<String> {
    let messages = site.site_db().messages(None).unwrap();
    messages.into_iter().filter(|m| m.kind == kind).map(|m| m.detail).collect()
}

/// Waits up to 10 s for `f`. It must not type PINs or codes at a door while waiting: each
/// wrong one counts towards the door's lockout (5 failures lock a number for 30 s), which was
/// the "PIN stall" of this file's reset-code test.
fn wait(what: &str, f: impl FnMut() -> bool) {
    wait_until(Duration::from_secs(10), f).unwrap_or_else(|| panic!("{what}: not within 10 s"));
}

/// The PIN hash (PHC string) in a store's door record of `number`: what a door checks a typed
/// PIN against, read without typing one.
fn pin_hash(store: &Store, number: &str) -> Option<String> {
    let records = store.door_records(false).unwrap();
    records.into_iter().find(|r| r.number == number)?.pin.map(|pin| pin.phc)
}

/// The admin-PIN hash in a store's door record of `number`.
fn admin_pin_hash(store: &Store, number: &str) -> Option<String> {
    let records = store.door_records(false).unwrap();
    records.into_iter().find(|r| r.number == number)?.admin_pin.map(|pin| pin.phc)
}

#[test]
fn a_pass_issued_at_the_site_opens_once_at_its_door_and_is_refused_after_and_everywhere() {
    const DOORS: usize = 50;
    let (site, doors) = site_with_doors(DOORS);
    let now = unix_now();
    let first = &doors[0];
    let issued =
        manage::create_visitor_pass(&mut site.register(), &pass(1, &[first]), now, "m").unwrap();
    let at = Instant::now();
    let mut reached = arrivals(&doors, at, |store| left_in(store, issued.id) == Some(1));
    println!(
        "visitor pass → {DOORS} doors: p50 {:.0} ms, p99 {:.0} ms",
        percentile_ms(&mut reached, 50),
        percentile_ms(&mut reached, 99)
    );
    for door in &doors[1..] {
        assert_eq!(try_code(door, &issued.code), PassCheck::Refused(PassRefusal::OtherDoor));
    }
    assert!(opened(&try_code(first, &issued.code)), "the pass opens its door");
    assert_eq!(try_code(first, &issued.code), PassCheck::Refused(PassRefusal::UsedUp));
    let used_at = Instant::now();
    let mut gone = arrivals(&doors, used_at, |store| left_in(store, issued.id).is_none());
    println!(
        "a used-up pass gone from {DOORS} doors: p50 {:.0} ms, p99 {:.0} ms",
        percentile_ms(&mut gone, 50),
        percentile_ms(&mut gone, 99)
    );
    for door in doors.iter().step_by(7) {
        assert_eq!(try_code(door, &issued.code), PassCheck::Refused(PassRefusal::Unknown));
    }
    let register = site.register();
    assert_eq!(register.visitor_passes(0).unwrap()[0].entries_left, 0, "the use reached it");
    let uses = register.audit_entries(None).unwrap();
    let uses: Vec<_> = uses.iter().filter(|e| e.kind == "visitor_pass_used").collect();
    assert_eq!(uses.len(), 1, "applied once: {uses:?}");
    assert_eq!(uses[0].detail, "at door-00, 0 left");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        kept(&site, OutboxKind::PassUsed),
        [format!("visitor-pass#{} used, 0 left", issued.id)]
    );
}

#[test]
fn a_multi_door_pass_is_counted_across_doors_and_the_over_use_window_is_one_round_trip() {
    const USES: usize = 20;
    let (site, doors) = site_with_doors(2);
    let (north, east) = (&doors[0], &doors[1]);
    let now = unix_now();
    let issued = manage::create_visitor_pass(
        &mut site.register(),
        &pass(USES as u32, &[north, east]),
        now,
        "m",
    )
    .unwrap();
    wait("the pass at both doors", || {
        doors.iter().all(|door| entries_left(door, issued.id) == Some(USES as u32))
    });
    let mut windows = Vec::new();
    for n in 1..USES {
        let (here, other) = if n % 2 == 1 { (north, east) } else { (east, north) };
        assert!(opened(&try_code(here, &issued.code)), "use {n}");
        let used = Instant::now();
        let left = Some((USES - n) as u32);
        wait("the use at the other door", || entries_left(other, issued.id) == left);
        windows.push(used.elapsed());
    }
    println!(
        "multi-door pass: another door learns of a use after p50 {:.0} ms, p99 {:.0} ms (the over-use window)",
        percentile_ms(&mut windows, 50),
        percentile_ms(&mut windows, 99)
    );
    assert!(opened(&try_code(north, &issued.code)), "the last entry");
    wait("the used-up pass gone", || doors.iter().all(|d| entries_left(d, issued.id).is_none()));
    for door in &doors {
        assert_eq!(try_code(door, &issued.code), PassCheck::Refused(PassRefusal::Unknown));
    }
    wait("every use kept", || kept(&site, OutboxKind::PassUsed).len() == USES);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(kept(&site, OutboxKind::PassUsed).len(), USES, "each use once");
}

#[test]
fn a_pass_revoked_at_the_site_is_refused_at_every_door() {
    let (site, doors) = site_with_doors(3);
    let mut register = site.register();
    let all: Vec<&Door> = doors.iter().collect();
    let issued =
        manage::create_visitor_pass(&mut register, &pass(5, &all), unix_now(), "m").unwrap();
    wait("the pass at every door", || doors.iter().all(|d| entries_left(d, issued.id).is_some()));
    manage::revoke_visitor_pass(&mut register, issued.id, unix_now(), "m").unwrap();
    wait("the revoked pass gone", || doors.iter().all(|d| entries_left(d, issued.id).is_none()));
    for door in &doors {
        assert_eq!(try_code(door, &issued.code), PassCheck::Refused(PassRefusal::Unknown));
    }
}

#[test]
fn a_booking_made_at_the_site_is_completed_at_a_door_and_its_face_reaches_every_door() {
    let (site, doors) = site_with_doors(3);
    let north = &doors[0];
    let now = unix_now();
    let booking = manage::book_enrolment(
        &mut site.register(),
        "1001",
        Some("door-00"),
        now + 1_800,
        now,
        "m",
    )
    .unwrap();
    wait("the booking at every door", || {
        doors.iter().all(|door| door.open().bookings(now).unwrap().iter().any(|b| b.id == booking))
    });
    // At the door, as the gate's booked enrolment does: the template, then the booking done.
    let mut store = north.open();
    let id = store.resident("1001").unwrap().id;
    let found = store.booking_for(id, Some(&north.id), now).unwrap().map(|b| b.id);
    assert_eq!(found, Some(booking));
    manage::enrol_face(&mut store, "1001", &embedding(5), Some(&grant()), 14, None, now).unwrap();
    let done = BookingDone { booking, door: Some(north.id.clone()), at: now };
    store.complete_booking(&done).unwrap();
    drop(store);

    wait("the face at every door", || {
        doors.iter().all(|door| door.open().templates_of("1001").unwrap().len() == 1)
    });
    let register = site.register();
    assert_eq!(register.templates_of("1001").unwrap().len(), 1);
    let consent = register.consent("1001").unwrap().expect("the consent given at the door");
    assert_eq!(consent.text_sha256, grant().text_sha256);
    wait("the booking gone everywhere", || {
        site.register().bookings(now).unwrap().is_empty()
            && doors.iter().all(|door| door.open().bookings(now).unwrap().is_empty())
    });
    for door in &doors {
        let gallery = door.open().gallery(now).unwrap();
        assert!(gallery.verify(id, &embedding(5)).is_some_and(|s| s > 0.99), "{}", door.id);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(kept(&site, OutboxKind::BookingDone), [format!("booking {booking} done")]);
    site.wait_converged(&doors, Duration::from_secs(30));
}

#[test]
fn a_reset_code_issued_at_the_site_sets_a_pin_at_one_door_that_opens_another_once() {
    let (site, doors) = site_with_doors(3);
    let (north, south) = (&doors[0], &doors[1]);
    let now = unix_now();
    let code = manage::issue_pin_reset(&mut site.register(), "1001", now, "m").unwrap();
    site.wait_converged(&doors, Duration::from_secs(30));
    let new_pin = Pin::parse("730519", &rules()).unwrap();
    let reset = |door: &Door, pin: &Pin| {
        let code = Code::parse(&code).unwrap();
        manage::reset_pin_with_code(&mut door.open(), &rules(), "1001", &code, pin, unix_now())
            .unwrap()
    };
    assert!(reset(north, &new_pin), "the code sets a PIN at a door");
    let opens = |door: &Door, pin: &Pin| {
        let store = door.open();
        let id = store.resident("1001").unwrap().id;
        check_pin(&store, &rules(), "1001", pin, unix_now()).unwrap() == Checked::Pin(Some(id))
    };
    let set_at = Instant::now();
    let new_hash = pin_hash(&north.open(), "1001");
    wait("the new PIN at another door", || pin_hash(&south.open(), "1001") == new_hash);
    println!(
        "a PIN set at one door reaches another after {:.0} ms",
        set_at.elapsed().as_secs_f64() * 1000.0
    );
    assert!(opens(south, &new_pin), "the new PIN opens another door");
    assert!(!opens(south, &pin_of("1001")), "the old PIN is gone");
    site.wait_converged(&doors, Duration::from_secs(30));
    let other = Pin::parse("917364", &rules()).unwrap();
    for door in &doors {
        assert!(!reset(door, &other), "the code works once, at {}", door.id);
        assert!(opens(door, &new_pin), "{}", door.id);
    }
    let records = site.register().door_records(false).unwrap();
    assert!(records.iter().all(|r| r.pin_reset.is_none()), "the site ended the code");
    let pins = kept(&site, OutboxKind::Pin);
    assert_eq!(pins.len(), 1, "{pins:?}");
    assert!(pins[0].ends_with("PIN changed, reset code ended"), "{pins:?}");
}

#[test]
fn an_admin_pin_set_on_the_register_opens_admin_mode_at_the_doors() {
    let (site, doors) = site_with_doors(2);
    let admin_pin = Pin::parse("60318275", &rules()).unwrap();
    let mut register = site.register();
    manage::set_admin_pin(&mut register, &rules(), "1002", &admin_pin, unix_now(), "m").unwrap();
    let admin_opens = |door: &Door, pin: &Pin| {
        let store = door.open();
        let admin = store.resident("1002").unwrap();
        check_admin_pin(&store, &rules(), &admin, pin, unix_now()).unwrap()
            == Checked::Pin(Some(admin.id))
    };
    let published = || admin_pin_hash(&site.register(), "1002");
    let everywhere = |hash: Option<String>| {
        doors.iter().all(|door| admin_pin_hash(&door.open(), "1002") == hash)
    };
    wait("the admin PIN at every door", || everywhere(published()));
    for door in &doors {
        assert!(admin_opens(door, &admin_pin), "the admin PIN opens admin mode at {}", door.id);
        assert!(!admin_opens(door, &pin_of("1002")), "the door PIN opens no admin mode");
        let record = door.records().into_iter().find(|r| r.number == "1002").unwrap();
        let entry = record.admin_pin.expect("the admin PIN in the door record");
        assert!(entry.phc.starts_with("$argon2id$"), "only the hash travels");
    }
    let other = Pin::parse("72946103", &rules()).unwrap();
    manage::set_admin_pin(&mut register, &rules(), "1002", &other, unix_now() + 1, "m").unwrap();
    wait("the new admin PIN at every door", || everywhere(published()));
    assert!(doors.iter().all(|d| admin_opens(d, &other)), "the new one opens admin mode");
    assert!(doors.iter().all(|d| !admin_opens(d, &admin_pin)), "the old one is gone");
}
