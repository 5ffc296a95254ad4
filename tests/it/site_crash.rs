//! Crashes: `facegate site run`, a `facegate sync` process and the broker are each killed with
//! SIGKILL while doors stream events and the register changes; after restarts every replica
//! equals the register and every event reaches the site's audit exactly once: in `site.db` and
//! in the register's chained audit log.

use std::time::Duration;

use facegate::site::outbox::OutboxKind;
use facegate::store::{AuditKind, Chain, Store};

use crate::site_rig::*;

const EVENTS: usize = 150;

#[test]
fn kill9_of_controller_agent_and_broker_mid_stream_loses_and_doubles_nothing() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 3001, 10, 2);
    site.start_controller_process();
    let mut doors: Vec<Door> = (0..3).map(|i| site.door(&format!("d{i}"), false)).collect();
    doors.iter_mut().for_each(Door::start_process);
    site.wait_converged(&doors, Duration::from_secs(60));

    let writers: Vec<_> = doors
        .iter()
        .map(|door| {
            let config = door.store.clone();
            std::thread::spawn(move || {
                let mut store = Store::open(&config).unwrap();
                for i in 0..EVENTS {
                    let detail = format!("card {i}");
                    store
                        .audit(Chain::Access, NOW, AuditKind::AccessGranted, "resident#1", &detail)
                        .unwrap();
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect();
    let pause = || std::thread::sleep(Duration::from_millis(300));
    pause();
    doors[0].kill9();
    add_residents(&mut site.register(), 3100, 1, 1);
    pause();
    doors[0].start_process();
    pause();
    site.kill9_controller();
    site.remove_resident("3002");
    pause();
    site.start_controller_process();
    pause();
    site.server.kill9();
    add_residents(&mut site.register(), 3101, 1, 1);
    pause();
    site.server.restart();
    writers.into_iter().for_each(|w| w.join().unwrap());

    let took = site.wait_converged(&doors, Duration::from_secs(90));
    println!("converged {took:?} after the writers finished");
    let site_db = site.site_db();
    let events = |door: &Door| {
        let kept = site_db.messages(Some(&door.id)).unwrap();
        kept.into_iter()
            .filter(|m| m.kind == OutboxKind::Event)
            .map(|m| m.detail)
            .collect::<Vec<_>>()
    };
    wait_until(Duration::from_secs(60), || doors.iter().all(|d| events(d).len() >= EVENTS))
        .expect("every event arrives");
    std::thread::sleep(Duration::from_secs(1));
    for door in &doors {
        let mut kept = events(door);
        assert_eq!(kept.len(), EVENTS, "exactly once from {}", door.id);
        kept.sort();
        kept.dedup();
        assert_eq!(kept.len(), EVENTS, "no event twice from {}", door.id);
        assert_eq!(door.open().outbox_depth().unwrap(), 0);
    }
    let register = site.register();
    assert!(register.verify_audit().unwrap().intact());
    let audited = register.audit_entries(None).unwrap();
    for door in &doors {
        let mut rows: Vec<&str> = audited
            .iter()
            .filter(|e| e.kind == "access_granted" && e.names_door(door.id.as_str()))
            .map(|e| e.detail.as_str())
            .collect();
        assert_eq!(rows.len(), EVENTS, "in the register's audit log once from {}", door.id);
        rows.sort();
        rows.dedup();
        assert_eq!(rows.len(), EVENTS, "no row twice from {}", door.id);
    }
}
