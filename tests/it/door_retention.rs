//! Retention on a door of a site: the purge deletes the door's own old access events and the
//! passes, reset codes and bookings past their time, and leaves residents and templates to the
//! site's records (the same purge on the register deletes them).

use facegate::credentials::Code;
use facegate::keys::{KEY_LEN, SiteKey};
use facegate::manage;
use facegate::site::entry::{EntryKey, EntryValue};
use facegate::site::{DoorId, SiteId};
use facegate::store::{
    AuditKind, Chain, NewResident, NewVisitorPass, ReplicaEntry, RetentionConfig, Store,
};
use facegate::vision::Embedding;

const DAY: i64 = 86_400;
const T0: i64 = 1_700_000_000;
/// A year and a half later: the template unused past 365 days, the resident's access over for
/// months, the access event past 90 days.
const LATER: i64 = T0 + 540 * DAY;

fn embedding() -> Embedding {
    Embedding::from_raw(std::array::from_fn(|i| if i % 3 == 0 { 0.5 } else { -0.25 })).unwrap()
}

/// A register with resident 1203 (moved out after a month, a face, a reset code, a booking)
/// and a pass, all from `T0`.
fn register(key: &SiteKey) -> Store {
    let mut register = Store::in_memory(key).unwrap();
    let new = NewResident {
        number: "1203".into(),
        name: "Li Si".into(),
        valid_until: Some(T0 + 30 * DAY),
        ..NewResident::default()
    };
    register.add_resident(&new, T0, "m").unwrap();
    let grant = facegate::store::ConsentGrant {
        text_version: "1".into(),
        text_sha256: "ab".repeat(32),
        operator: "Office".into(),
        guardian: None,
    };
    register.enrol("1203", &embedding(), Some(&grant), 14, T0).unwrap();
    register.issue_pin_reset("1203", &Code::parse("48213957").unwrap(), T0, "m").unwrap();
    manage::book_enrolment(&mut register, "1203", None, T0 + DAY, T0, "m").unwrap();
    let pass = NewVisitorPass {
        label: "guest".into(),
        company: None,
        valid_from: T0,
        valid_until: T0 + DAY,
        entries: 1,
        doors: vec!["north".parse().unwrap()],
    };
    manage::create_visitor_pass(&mut register, &pass, T0, "m").unwrap();
    register
}

/// The register's entries as the publisher puts them.
fn entries(register: &Store) -> Vec<ReplicaEntry> {
    let records = register.door_records(false).unwrap().into_iter().map(EntryValue::Resident);
    let passes = register.visitor_pass_records().unwrap().into_iter().map(EntryValue::Pass);
    let bookings = register.bookings(T0).unwrap().into_iter().map(EntryValue::Booking);
    records
        .chain(passes)
        .chain(bookings)
        .enumerate()
        .map(|(i, value)| ReplicaEntry {
            key: value.key().to_string(),
            revision: i as u64 + 1,
            value: Some(value),
        })
        .collect()
}

#[test]
fn a_door_purges_its_own_old_rows_and_leaves_residents_and_templates_to_the_site() {
    let key = SiteKey::from_bytes([5; KEY_LEN]);
    let mut register = register(&key);
    let mut door = Store::in_memory(&key).unwrap();
    let (site, north): (SiteId, DoorId) = ("oak".parse().unwrap(), "north".parse().unwrap());
    door.join_site(&site, &north).unwrap();
    assert_eq!(door.apply_entries(&entries(&register)).unwrap(), 3);
    door.audit(Chain::Access, T0, AuditKind::AccessGranted, "resident#1", "card").unwrap();
    let before = door.door_records(false).unwrap();
    assert!(before[0].pin_reset.is_some(), "the reset code reached the door");

    let preview = door.purge_preview(&RetentionConfig::default(), LATER).unwrap();
    let report = door.purge(&RetentionConfig::default(), LATER).unwrap();
    assert_eq!(preview, report);
    assert_eq!((report.unused_templates, report.moved_out_residents), (0, 0));
    assert_eq!((report.visitor_passes, report.codes_and_bookings), (1, 2));
    assert_eq!(report.access_events, 1);
    assert!(door.visitor_passes(0).unwrap().is_empty());
    assert!(door.bookings(0).unwrap().is_empty());
    let after = door.door_records(false).unwrap();
    assert_eq!(after.len(), 1, "the resident stays until the site's record removes them");
    assert_eq!(after[0].templates, before[0].templates, "and their templates");
    assert_eq!(after[0].pin_reset, None, "the expired reset code went");

    let on_register = register.purge(&RetentionConfig::default(), LATER).unwrap();
    assert_eq!(on_register.moved_out_residents, 1, "the register's purge removes them");
    assert!(register.door_records(false).unwrap().is_empty());
    let tombstone = ReplicaEntry {
        key: EntryKey::Resident(after[0].resident).to_string(),
        revision: 9,
        value: None,
    };
    door.apply_entries(&[tombstone]).unwrap();
    assert!(door.door_records(false).unwrap().is_empty(), "then the door follows");
}

#[test]
fn the_site_controller_applies_retention_and_the_doors_follow() {
    use crate::site_rig::{NOW, Site, add_residents, wait_until};
    use std::time::Duration;
    let mut site = Site::new();
    let mut register = site.register();
    add_residents(&mut register, 1202, 1, 1);
    let moved = NewResident {
        number: "1201".into(),
        name: "Li Si".into(),
        valid_until: Some(facegate::store::unix_now() - DAY),
        ..NewResident::default()
    };
    register.add_resident(&moved, NOW, "Office").unwrap();
    register.enrol("1201", &embedding(), Some(&crate::site_rig::grant()), 14, NOW).unwrap();
    drop(register);
    let mut north = site.door("north", false);
    site.start_agent(&mut north);
    site.start_controller();
    let gone = wait_until(Duration::from_secs(30), || {
        site.register().resident("1201").is_err() && north.records().len() == 1
    });
    assert!(gone.is_some(), "moved out yesterday: gone from the register and the door");
    assert!(site.register().resident("1202").is_ok(), "the resident still living there stays");
}
