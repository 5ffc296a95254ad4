//! Site mode with 50 doors (sync agents as tasks of one process, each with its own database)
//! and one site controller on a real nats-server: enrolments and deletions reach every door,
//! doors decide from their replica, each door event reaches the site's audit once.
//! Propagation times are printed, not asserted.

use std::time::{Duration, Instant};

use facegate::access::Checked;
use facegate::access::checks::{check_card, check_pin};
use facegate::site::outbox::OutboxKind;
use facegate::store::{AuditKind, Chain};

use crate::site_rig::*;

const DOORS: usize = 50;

#[test]
fn fifty_doors_follow_enrolments_and_deletions_and_send_each_event_once() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 20, 2);
    site.start_controller();
    let mut doors: Vec<Door> =
        (0..DOORS).map(|i| site.door(&format!("door-{i:02}"), false)).collect();
    let started = Instant::now();
    doors.iter_mut().for_each(|door| site.start_agent(door));
    site.wait_converged(&doors, Duration::from_secs(60));
    println!("{DOORS} doors: first full replica of 20 residents in {:?}", started.elapsed());

    let mut register = site.register();
    let enrolled_at = Instant::now();
    register.enrol("1001", &embedding(77), Some(&grant()), 14, NOW).unwrap();
    let mut enrolled =
        arrivals(&doors, enrolled_at, |door| door.open().templates_of("1001").unwrap().len() == 1);
    println!(
        "enrolment → {DOORS} doors: p50 {:.0} ms, p99 {:.0} ms",
        percentile_ms(&mut enrolled, 50),
        percentile_ms(&mut enrolled, 99)
    );

    let removed_at = Instant::now();
    site.remove_resident("1002");
    let mut removed =
        arrivals(&doors, removed_at, |door| door.open().find_resident("1002").unwrap().is_none());
    println!(
        "deletion → {DOORS} doors: p50 {:.0} ms, p99 {:.0} ms (including the CLI's start)",
        percentile_ms(&mut removed, 50),
        percentile_ms(&mut removed, 99)
    );
    site.wait_converged(&doors, Duration::from_secs(30));

    for door in doors.iter().step_by(17) {
        let store = door.open();
        let id = store.resident("1004").unwrap().id;
        assert_eq!(check_card(&store, &card(1004)).unwrap(), Checked::Card(Some(id)));
        let pin = check_pin(&store, &rules(), "1004", &pin_of("1004"), NOW).unwrap();
        assert_eq!(pin, Checked::Pin(Some(id)));
        assert_eq!(check_card(&store, &card(1002)).unwrap(), Checked::Card(None), "removed");
        let gallery = store.gallery(NOW).unwrap();
        assert!(gallery.verify(id, &embedding(1004)).is_some_and(|s| s > 0.99), "{}", door.id);
        assert!(gallery.verify(id, &embedding(1006)).is_none_or(|s| s < 0.5));
        assert!(store.take_rejected().is_empty(), "every row MAC verifies at {}", door.id);
    }

    for door in &doors {
        let mut store = door.open();
        for _ in 0..3 {
            store
                .audit(Chain::Access, NOW, AuditKind::AccessGranted, "resident#1", "card")
                .unwrap();
        }
    }
    let site_db = site.site_db();
    let events = || {
        let messages = site_db.messages(None).unwrap();
        messages.into_iter().filter(|m| m.kind == OutboxKind::Event).count()
    };
    wait_until(Duration::from_secs(30), || events() >= 3 * DOORS)
        .unwrap_or_else(|| panic!("{} of {} events reached the site", events(), 3 * DOORS));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(events(), 3 * DOORS, "each event once");
    for door in &doors {
        let kept = site_db.messages(Some(&door.id)).unwrap();
        assert_eq!(kept.iter().filter(|m| m.kind == OutboxKind::Event).count(), 3, "{}", door.id);
        assert!(kept.iter().all(|m| m.detail == "access_granted resident#1 card"), "{kept:?}");
        assert_eq!(door.open().outbox_depth().unwrap(), 0, "delivered rows leave the outbox");
    }
    // Doors report every second: the site sees the emptied outboxes with their next report.
    let reported = |s: &facegate::site::status::DoorStatus| s.online && s.outbox_depth == Some(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let statuses = loop {
        let statuses = facegate::site::status::door_statuses(&site_db).unwrap();
        if statuses.iter().all(reported) || Instant::now() > deadline {
            break statuses;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(statuses.len(), DOORS);
    assert!(statuses.iter().all(reported), "{statuses:?}");
}

/// How long after `since` each door satisfied `arrived`.
fn arrivals(doors: &[Door], since: Instant, arrived: impl Fn(&Door) -> bool) -> Vec<Duration> {
    let mut times: Vec<Option<Duration>> = vec![None; doors.len()];
    let deadline = since + Duration::from_secs(30);
    while times.iter().any(Option::is_none) && Instant::now() < deadline {
        for (door, time) in doors.iter().zip(times.iter_mut()) {
            if time.is_none() && arrived(door) {
                *time = Some(since.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let missing: Vec<&str> =
        doors.iter().zip(&times).filter(|(_, t)| t.is_none()).map(|(d, _)| d.id.as_str()).collect();
    assert!(missing.is_empty(), "never arrived at {missing:?}");
    times.into_iter().flatten().collect()
}
