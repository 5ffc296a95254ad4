//! Partitions: ten doors cut off behind TCP proxies while the register changes (an enrolment,
//! a deletion, a card revoked) and a resident deletes their face at a cut-off door; after the
//! links come back every replica equals the register (all records compared: nothing lost,
//! nothing resurrected) and each cut-off door's events reach the site's audit exactly once.

use std::time::{Duration, Instant};

use facegate::access::Checked;
use facegate::access::checks::check_card;
use facegate::site::outbox::OutboxKind;
use facegate::store::{AuditKind, Chain};

use crate::site_rig::*;

const CUT: usize = 10;
const EVENTS: usize = 5;

#[test]
fn cut_off_doors_converge_without_loss_or_resurrection_and_send_events_once() {
    let mut site = Site::new();
    let mut register = site.register();
    add_residents(&mut register, 2001, 12, 2);
    let spare =
        facegate::manage::add_card(&mut register, "2005", &card(9005), "", NOW, "m").unwrap();
    site.start_controller();
    let mut doors: Vec<Door> =
        (0..CUT + 5).map(|i| site.door(&format!("gate-{i:02}"), i < CUT)).collect();
    doors.iter_mut().for_each(|door| site.start_agent(door));
    site.wait_converged(&doors, Duration::from_secs(60));

    doors[..CUT].iter().for_each(|door| door.proxy.as_ref().unwrap().cut());
    add_residents(&mut register, 2100, 1, 1);
    site.remove_resident("2003");
    facegate::manage::revoke_card(&mut register, spare, NOW + 1, "m").unwrap();
    let mut cut_off = doors[0].open();
    facegate::manage::delete_face_data(&mut cut_off, "2002", NOW + 2, "resident at the gate")
        .unwrap();
    for door in &doors[..CUT] {
        let mut store = door.open();
        for _ in 0..EVENTS {
            store.audit(Chain::Access, NOW, AuditKind::AccessDenied, "unknown", "pin").unwrap();
        }
    }
    let has_new = |door: &Door| door.open().find_resident("2100").unwrap().is_some();
    wait_until(Duration::from_secs(30), || doors[CUT..].iter().all(has_new))
        .expect("connected doors follow the register during the partition");
    std::thread::sleep(Duration::from_secs(2));
    assert!(!doors[..CUT].iter().any(has_new), "cut-off doors heard nothing");
    assert_eq!(check_card(&doors[1].open(), &card(9005)).unwrap(), Checked::Card(Some(5)));
    let gallery = cut_off.gallery(NOW).unwrap();
    assert!(gallery.verify(2, &embedding(2002)).is_none(), "the deletion holds at once");

    let restored = Instant::now();
    doors[..CUT].iter().for_each(|door| door.proxy.as_ref().unwrap().restore());
    site.wait_converged(&doors, Duration::from_secs(60));
    println!("{CUT} cut-off doors converged {:?} after the links came back", restored.elapsed());

    assert!(site.register().templates_of("2002").unwrap().is_empty(), "the site deleted it too");
    for door in &doors {
        let store = door.open();
        let gallery = store.gallery(NOW).unwrap();
        assert!(gallery.verify(2, &embedding(2002)).is_none(), "resurrected at {}", door.id);
        assert!(store.find_resident("2003").unwrap().is_none(), "resurrected at {}", door.id);
        assert_eq!(check_card(&store, &card(9005)).unwrap(), Checked::Card(None), "{}", door.id);
    }
    let site_db = site.site_db();
    let kept = |door: &Door, kind| {
        site_db.messages(Some(&door.id)).unwrap().iter().filter(|m| m.kind == kind).count()
    };
    let all_in = || doors[..CUT].iter().all(|door| kept(door, OutboxKind::Event) >= EVENTS);
    wait_until(Duration::from_secs(30), all_in).expect("the cut-off doors' events arrive");
    std::thread::sleep(Duration::from_millis(500));
    for door in &doors[..CUT] {
        assert_eq!(kept(door, OutboxKind::Event), EVENTS, "exactly once from {}", door.id);
    }
    assert_eq!(kept(&doors[0], OutboxKind::Delete), 1);
}
