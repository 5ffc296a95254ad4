//! The replica rules and the outbox, on in-memory site and door stores sharing one site key.

use super::*;
use crate::credentials::{CardUid, Pin, PinConfig};
use crate::keys::{KEY_LEN, SiteKey};
use crate::language::Language;
use crate::store::consent::NoticeTerms;
use crate::store::{ConsentConfig, ConsentGrant, NewResident, ResidentStatus};
use crate::vision::Embedding;

const NOW: i64 = 1_780_000_000;

fn key() -> SiteKey {
    SiteKey::from_bytes([9; KEY_LEN])
}

fn rules() -> PinConfig {
    PinConfig { memory_kib: 256, iterations: 1, ..PinConfig::default() }
}

fn embedding(seed: u64) -> Embedding {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Embedding::from_raw(std::array::from_fn(|_| rand::RngExt::random::<f32>(&mut rng) - 0.5))
        .unwrap()
}

fn grant(operator: &str, guardian: Option<&str>) -> ConsentGrant {
    let consent = ConsentConfig {
        controller: "Office".into(),
        contact: "Room 1".into(),
        ..ConsentConfig::default()
    };
    let terms = NoticeTerms { consent, ..NoticeTerms::default() };
    ConsentGrant::read(Language::En, &terms, operator, guardian.map(str::to_owned)).unwrap()
}

/// A register with resident 1201 (name, unit, birth year, a guardian's consent, a face, a
/// PIN and a card).
fn site() -> Store {
    let mut site = Store::in_memory(&key()).unwrap();
    let new = NewResident {
        number: "1201".into(),
        name: "Zhang San".into(),
        unit: "3-1201".into(),
        birth_year: Some(2015),
        ..NewResident::default()
    };
    site.add_resident(&new, NOW, "Office Wang").unwrap();
    site.enrol("1201", &embedding(1), Some(&grant("Office Wang", Some("Zhang Da"))), 14, NOW)
        .unwrap();
    site.set_pin("1201", &Pin::parse("482915", &rules()).unwrap(), &rules(), NOW, "m").unwrap();
    site.add_card("1201", &card(), "blue", NOW, "m").unwrap();
    site
}

fn card() -> CardUid {
    CardUid::new(vec![4, 3, 2, 1]).unwrap()
}

fn door() -> Store {
    let mut door = Store::in_memory(&key()).unwrap();
    door.join_site(&"oak".parse().unwrap(), &"north".parse().unwrap()).unwrap();
    door
}

fn put(record: &DoorRecord, revision: u64) -> ReplicaEntry {
    ReplicaEntry { key: record.key(), revision, value: Some(EntryValue::Resident(record.clone())) }
}

fn record_of(site: &Store) -> DoorRecord {
    site.door_records(false).unwrap().remove(0)
}

fn face_matches(door: &Store, seed: u64) -> bool {
    let gallery = door.gallery(NOW).unwrap();
    gallery.verify(1, &embedding(seed)).is_some_and(|score| score > 0.99)
}

#[test]
fn a_door_decides_pin_card_and_face_from_its_replica_and_keeps_no_personal_value() {
    let site = site();
    let record = record_of(&site);
    let json = serde_json::to_string(&record).unwrap();
    for personal in ["Zhang", "3-1201", "2015", "Office Wang", "blue"] {
        assert!(!json.contains(personal), "{personal} crosses the broker: {json}");
    }
    let mut door = door();
    assert_eq!(door.apply_entries(&[put(&record, 1)]).unwrap(), 1);
    let pin = Pin::parse("482915", &rules()).unwrap();
    assert_eq!(door.verify_pin("1201", &pin, &rules()).unwrap(), Some(1));
    assert_eq!(door.resident_for_card(&card()).unwrap(), Some(1));
    assert!(face_matches(&door, 1));
    assert!(door.take_rejected().is_empty(), "the site's row MACs verify at the door");

    let resident = door.resident("1201").unwrap();
    assert_eq!((resident.name.as_str(), resident.unit.as_str()), ("", ""));
    assert_eq!(resident.birth_year, None);
    let consent = door.consent("1201").unwrap().unwrap();
    assert_eq!((consent.operator.as_str(), consent.guardian), ("", None));
    let (labels, years): (String, Option<Vec<u8>>) = door
        .conn
        .query_row(
            "SELECT group_concat(label), (SELECT birth_year FROM residents) FROM cards",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((labels.as_str(), years), ("", None));
}

#[test]
fn a_display_name_crosses_only_with_greet_by_name_and_the_residents_agreement() {
    let mut site = site();
    assert_eq!(site.door_records(true).unwrap()[0].display_name, None, "not agreed");
    site.set_greeting("1201", true, NOW, "m").unwrap();
    assert_eq!(site.door_records(false).unwrap()[0].display_name, None, "site does not greet");
    let record = site.door_records(true).unwrap().remove(0);
    assert_eq!(record.display_name.as_deref(), Some("Zhang San"));
    let mut door = door();
    door.apply_entries(&[put(&record, 1)]).unwrap();
    assert_eq!(door.resident("1201").unwrap().name, "Zhang San");
    assert_eq!(door.resident("1201").unwrap().unit, "");
}

#[test]
fn a_stale_record_is_ignored_and_a_tombstone_is_never_undone() {
    let mut site = site();
    let active = record_of(&site);
    let edit = NewResident::default();
    site.edit_resident("1201", &edit, Some(ResidentStatus::Suspended), NOW, "m").unwrap();
    let suspended = record_of(&site);
    let mut door = door();
    door.apply_entries(&[put(&suspended, 5)]).unwrap();
    assert_eq!(door.apply_entries(&[put(&active, 4)]).unwrap(), 0, "older revision");
    assert_eq!(door.resident("1201").unwrap().status, ResidentStatus::Suspended);

    let tombstone = ReplicaEntry { key: "r.1".into(), revision: 6, value: None };
    assert_eq!(door.apply_entries(&[tombstone]).unwrap(), 1);
    assert!(door.find_resident("1201").unwrap().is_none());
    assert_eq!(door.resident_for_card(&card()).unwrap(), None);
    assert!(!face_matches(&door, 1));
    assert_eq!(door.apply_entries(&[put(&active, 5)]).unwrap(), 0, "no resurrection");
    assert!(door.find_resident("1201").unwrap().is_none());
    assert_eq!(door.replica().unwrap().unwrap().revision, 6);
}

#[test]
fn a_deletion_at_the_door_binds_to_the_consent_and_no_old_record_undoes_it() {
    let mut site = site();
    let before = record_of(&site);
    let mut door = door();
    door.apply_entries(&[put(&before, 1)]).unwrap();
    assert!(face_matches(&door, 1));
    assert_eq!(door.outbox(10).unwrap(), [], "nothing queued yet");

    assert_eq!(crate::manage::delete_face_data(&mut door, "1201", NOW + 1, "resident").unwrap(), 1);
    assert!(!face_matches(&door, 1));
    let queued = door.outbox(10).unwrap();
    assert_eq!(queued.iter().map(|r| r.kind).collect::<Vec<_>>(), [OutboxKind::Delete]);

    // The site has not heard yet and publishes an unrelated change with the old consent.
    site.set_require_card_pin("1201", true, NOW + 2, "m").unwrap();
    door.apply_entries(&[put(&record_of(&site), 2)]).unwrap();
    assert!(door.resident("1201").unwrap().require_card_pin, "the rest of the record applies");
    assert!(!face_matches(&door, 1), "the withdrawn consent's template stays deleted");

    let deletion: DoorDeletion = serde_json::from_str(&queued[0].body).unwrap();
    assert_eq!(
        site.accept_door_deletion(&deletion, &"north".parse().unwrap(), NOW + 2).unwrap(),
        1
    );
    assert_eq!(
        site.accept_door_deletion(&deletion, &"north".parse().unwrap(), NOW + 2).unwrap(),
        0
    );
    assert!(record_of(&site).templates.is_empty());

    site.enrol("1201", &embedding(2), Some(&grant("m", Some("Zhang Da"))), 14, NOW + 3).unwrap();
    door.apply_entries(&[put(&record_of(&site), 3)]).unwrap();
    assert!(face_matches(&door, 2), "a new enrolment under a new consent is accepted");
}

#[test]
fn changes_at_the_door_are_queued_with_the_change_and_the_site_accepts_them() {
    let mut site = site();
    let mut door = door();
    door.apply_entries(&[put(&record_of(&site), 1)]).unwrap();
    let north: DoorId = "north".parse().unwrap();

    door.audit(Chain::Access, NOW, AuditKind::AccessGranted, "resident#1", "card").unwrap();
    door.audit(Chain::Access, NOW, AuditKind::DoorForcedOpen, "door", "").unwrap();
    let new_pin = Pin::parse("730264", &rules()).unwrap();
    door.set_pin("1201", &new_pin, &rules(), NOW + 5, "resident at the gate").unwrap();
    crate::manage::delete_face_data(&mut door, "1201", NOW + 6, "resident").unwrap();
    let door_grant = grant("resident at the gate", Some("Zhang Da"));
    door.enrol("1201", &embedding(3), Some(&door_grant), 14, NOW + 7).unwrap();

    let rows = door.outbox(100).unwrap();
    let kinds: Vec<OutboxKind> = rows.iter().map(|r| r.kind).collect();
    let expected = [OutboxKind::Event, OutboxKind::Alarm, OutboxKind::Pin, OutboxKind::Delete];
    assert_eq!(kinds, [&expected[..], &[OutboxKind::Enrol]].concat());
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
    assert!(rows.iter().all(|row| !row.body.contains("730264")), "no PIN leaves the door");
    assert!(rows[..4].iter().all(|row| !row.body.contains("Zhang")), "no name in events");

    let change: DoorPinChange = serde_json::from_str(&rows[2].body).unwrap();
    assert!(site.accept_door_pin(&change, &north, NOW + 8).unwrap());
    assert!(!site.accept_door_pin(&change, &north, NOW + 9).unwrap(), "applied once");
    assert_eq!(site.verify_pin("1201", &new_pin, &rules()).unwrap(), Some(1));

    let deletion: DoorDeletion = serde_json::from_str(&rows[3].body).unwrap();
    site.accept_door_deletion(&deletion, &north, NOW + 8).unwrap();
    let enrolment: DoorEnrolment = serde_json::from_str(&rows[4].body).unwrap();
    site.book_enrolment("1201", Some(&north), NOW + 3_600, NOW, "m").unwrap();
    assert!(site.accept_door_enrolment(&enrolment, &north, 14, NOW + 8).unwrap().is_some());
    assert_eq!(site.accept_door_enrolment(&enrolment, &north, 14, NOW + 9).unwrap(), None, "once");
    let record = record_of(&site);
    assert_eq!(record.templates.len(), 1);
    door.apply_entries(&[put(&record, 2)]).unwrap();
    assert!(face_matches(&door, 3) && !face_matches(&door, 1));

    let mut forged = enrolment.clone();
    forged.resident = site
        .add_resident(
            &NewResident { number: "1202".into(), name: "B".into(), ..NewResident::default() },
            NOW,
            "m",
        )
        .unwrap()
        .id;
    let err = site.accept_door_enrolment(&forged, &north, 14, NOW + 9).unwrap_err();
    assert!(err.to_string().contains("not bound"), "{err}");
    let mut no_guardian = enrolment;
    no_guardian.consent.guardian = None;
    no_guardian.consent.granted_at += 1;
    assert!(matches!(
        site.accept_door_enrolment(&no_guardian, &north, 14, NOW + 9),
        Err(StoreError::GuardianConsentRequired(_))
    ));

    door.remove_outbox(&rows.iter().map(|r| r.id).collect::<Vec<_>>()).unwrap();
    assert_eq!(door.outbox_depth().unwrap(), 0);
    door.audit(Chain::Access, NOW, AuditKind::AccessGranted, "resident#1", "pin").unwrap();
    assert!(door.outbox(1).unwrap()[0].id > rows.last().unwrap().id, "ids are never reused");
    assert_eq!(site.outbox_depth().unwrap(), 0, "the site queues nothing");
}

/// A door enrolment queued at `door` for resident 1201 at `at` (the site has a PIN-less copy).
fn door_enrolment(door: &mut Store, site: &Store, at: i64, seed: u64) -> DoorEnrolment {
    door.apply_entries(&[put(&record_of(site), at as u64)]).unwrap();
    door.enrol("1201", &embedding(seed), Some(&grant("resident", Some("Zhang Da"))), 14, at)
        .unwrap();
    let row = door.outbox(100).unwrap().into_iter().rfind(|r| r.kind == OutboxKind::Enrol).unwrap();
    serde_json::from_str(&row.body).unwrap()
}

#[test]
fn a_door_enrolment_needs_an_open_booking_there_or_anywhere_and_uses_it_up() {
    let mut site = site();
    let (north, south): (DoorId, DoorId) = ("north".parse().unwrap(), "south".parse().unwrap());
    let mut door = door();
    let first = door_enrolment(&mut door, &site, NOW + 10, 3);
    let err = site.accept_door_enrolment(&first, &north, 14, NOW + 20).unwrap_err();
    assert!(err.to_string().contains("no open booking"), "{err}");
    site.book_enrolment("1201", Some(&south), NOW + 3_600, NOW, "m").unwrap();
    let err = site.accept_door_enrolment(&first, &north, 14, NOW + 20).unwrap_err();
    assert!(err.to_string().contains("no open booking"), "a booking at another door: {err}");
    let any = site.book_enrolment("1201", None, NOW + 3_600, NOW, "m").unwrap();
    assert!(site.accept_door_enrolment(&first, &north, 14, NOW + 20).unwrap().is_some());
    assert!(site.bookings(NOW + 20).unwrap().iter().all(|b| b.id != any), "the booking is used");
    let second = door_enrolment(&mut door, &site, NOW + 30, 4);
    let err = site.accept_door_enrolment(&second, &north, 14, NOW + 40).unwrap_err();
    assert!(err.to_string().contains("no open booking"), "one booking, one enrolment: {err}");
}

#[test]
fn an_offline_doors_enrolment_from_before_a_withdrawal_at_the_office_is_refused() {
    let mut site = site();
    let north: DoorId = "north".parse().unwrap();
    let mut door = door();
    site.book_enrolment("1201", None, NOW + 3_600, NOW, "m").unwrap();
    let offline = door_enrolment(&mut door, &site, NOW + 10, 3);
    crate::manage::delete_face_data(&mut site, "1201", NOW + 20, "office").unwrap();
    let err = site.accept_door_enrolment(&offline, &north, 14, NOW + 30).unwrap_err();
    assert!(err.to_string().contains("before their withdrawal"), "{err}");
    assert!(record_of(&site).templates.is_empty(), "the withdrawal stands");
    let later = door_enrolment(&mut door, &site, NOW + 40, 4);
    assert!(site.accept_door_enrolment(&later, &north, 14, NOW + 50).unwrap().is_some());
}

#[test]
fn door_pins_are_ordered_by_the_sites_receive_order_not_the_door_clock() {
    let mut site = site();
    let north: DoorId = "north".parse().unwrap();
    let mut door = door();
    door.apply_entries(&[put(&record_of(&site), 1)]).unwrap();
    let (first, second) =
        (Pin::parse("730264", &rules()).unwrap(), Pin::parse("591837", &rules()).unwrap());
    // The door's clock runs far ahead, then is set back: its second PIN looks older.
    door.set_pin("1201", &first, &rules(), NOW + 86_400 * 365, "resident").unwrap();
    door.set_pin("1201", &second, &rules(), NOW + 5, "resident").unwrap();
    let changes: Vec<DoorPinChange> = door
        .outbox(10)
        .unwrap()
        .iter()
        .filter(|r| r.kind == OutboxKind::Pin)
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert!(site.accept_door_pin(&changes[0], &north, NOW + 10).unwrap());
    assert_eq!(record_of(&site).pin.unwrap().updated_at, NOW + 10, "stamped with the site's now");
    assert!(site.accept_door_pin(&changes[1], &north, NOW + 11).unwrap(), "received later");
    assert_eq!(site.verify_pin("1201", &second, &rules()).unwrap(), Some(1));
}

/// A door whose database is a file (the WAL and the checkpoint are real), sharing the key.
fn door_on_disk(dir: &std::path::Path) -> Store {
    let config = crate::store::StoreConfig {
        database: dir.join("door.db"),
        key_file: dir.join("door.key"),
        ..crate::store::StoreConfig::default()
    };
    let mut door = Store::create_with_key(&config, &key()).unwrap();
    door.join_site(&"oak".parse().unwrap(), &"north".parse().unwrap()).unwrap();
    door
}

fn file_holds(path: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
}

#[test]
fn a_face_withdrawn_elsewhere_leaves_no_template_bytes_in_the_doors_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut site = site();
    let mut door = door_on_disk(dir.path());
    door.apply_entries(&[put(&record_of(&site), 1)]).unwrap();
    let template = door.templates_of("1201").unwrap().remove(0).id;
    let bytes = door.stored_template(template).unwrap().vector_bytes();
    door.checkpoint().unwrap();
    assert!(file_holds(&dir.path().join("door.db"), &bytes), "the template was written");

    // Withdrawn at the office: the next record has no template for this door.
    site.withdraw_consent("1201", NOW + 1, "Office Wang").unwrap();
    door.apply_entries(&[put(&record_of(&site), 2)]).unwrap();
    assert!(door.templates_of("1201").unwrap().is_empty());
    for file in ["door.db", "door.db-wal"] {
        assert!(!file_holds(&dir.path().join(file), &bytes), "template bytes left in {file}");
    }
}

#[test]
fn a_checkpoint_a_reader_keeps_from_finishing_is_an_error_not_a_silent_success() {
    let dir = tempfile::tempdir().unwrap();
    let mut door = door_on_disk(dir.path());
    let reader = rusqlite::Connection::open(dir.path().join("door.db")).unwrap();
    reader.execute_batch("BEGIN; SELECT count(*) FROM residents;").unwrap();
    door.apply_entries(&[put(&record_of(&site()), 1)]).unwrap();
    door.conn.busy_timeout(std::time::Duration::from_millis(100)).unwrap();
    assert!(matches!(door.checkpoint(), Err(StoreError::CheckpointBusy)));
    reader.execute_batch("COMMIT").unwrap();
    door.checkpoint().unwrap();
}
