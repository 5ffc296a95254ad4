//! PIN-reset codes and enrolment bookings through the store: a code sets a new PIN once, not
//! after it expires, not with a weak PIN; a booking is found only at its door and before its
//! end, and is done once used.

use facegate::access::Checked;
use facegate::access::checks::check_pin;
use facegate::credentials::lockout::resident_key;
use facegate::credentials::{Code, Pin, PinConfig};
use facegate::keys::{KEY_LEN, SiteKey};
use facegate::manage;
use facegate::site::ids::DoorId;
use facegate::store::{BookingDone, NewResident, RetentionConfig, Store};

/// Small argon2 parameters keep the tests quick.
fn rules() -> PinConfig {
    PinConfig { memory_kib: 512, iterations: 1, ..PinConfig::default() }
}

fn store_with_resident() -> Store {
    let mut store = Store::in_memory(&SiteKey::from_bytes([9; KEY_LEN])).unwrap();
    let resident = NewResident { number: "1203".into(), name: "Wang".into(), ..Default::default() };
    store.add_resident(&resident, 0, "manager").unwrap();
    store
}

fn pin(text: &str) -> Pin {
    Pin::parse(text, &rules()).unwrap()
}

fn reset(store: &mut Store, code: &str, new: &str, now: i64) -> bool {
    let code = Code::parse(code).unwrap();
    manage::reset_pin_with_code(store, &rules(), "1203", &code, &pin(new), now).unwrap()
}

fn pin_opens(store: &Store, text: &str, now: i64) -> bool {
    matches!(check_pin(store, &rules(), "1203", &pin(text), now).unwrap(), Checked::Pin(Some(_)))
}

#[test]
fn a_reset_code_sets_a_new_pin_once() {
    let mut store = store_with_resident();
    let code = manage::issue_pin_reset(&mut store, "1203", 100, "manager").unwrap();
    assert_eq!(code.len(), 8);
    let other = if code == "11111111" { "22222222" } else { "11111111" };
    assert!(!reset(&mut store, other, "4826", 200), "a wrong code sets nothing");
    assert_eq!(store.lockout(&resident_key("1203")).unwrap().failures, 1, "and counts");
    assert!(reset(&mut store, &code, "4826", 300));
    assert!(pin_opens(&store, "4826", 301));
    assert!(!reset(&mut store, &code, "7391", 400), "the code works once");
    assert!(pin_opens(&store, "4826", 401));
    let log = store.audit_entries(None).unwrap();
    let kinds: Vec<&str> = log.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["resident_added", "pin_reset_issued", "pin_set"]);
    assert!(!format!("{log:?}").contains(&code));
}

#[test]
fn a_reset_code_expires_after_a_day_and_a_weak_pin_keeps_it() {
    let mut store = store_with_resident();
    let code = manage::issue_pin_reset(&mut store, "1203", 100, "manager").unwrap();
    let err = manage::reset_pin_with_code(
        &mut store,
        &rules(),
        "1203",
        &Code::parse(&code).unwrap(),
        &pin("1234"),
        200,
    )
    .unwrap_err();
    assert!(err.to_string().contains("too easy to guess"), "{err}");
    assert!(!reset(&mut store, &code, "4826", 100 + 24 * 3_600), "expired");
    let code = manage::issue_pin_reset(&mut store, "1203", 200_000, "manager").unwrap();
    let report = store.purge(&RetentionConfig::default(), 200_000 + 24 * 3_600).unwrap();
    assert_eq!(report.codes_and_bookings, 1);
    assert!(!reset(&mut store, &code, "4826", 200_001), "purged");
}

#[test]
fn a_booking_is_found_at_its_door_before_its_end_and_done_once() {
    let mut store = store_with_resident();
    let id = store.resident("1203").unwrap().id;
    let north: DoorId = "north".parse().unwrap();
    let south: DoorId = "south".parse().unwrap();
    let at_north =
        manage::book_enrolment(&mut store, "1203", Some("north"), 1_800, 0, "manager").unwrap();
    assert!(manage::book_enrolment(&mut store, "1203", Some("North!"), 1_800, 0, "m").is_err());
    assert!(manage::book_enrolment(&mut store, "1203", None, 8 * 86_400, 0, "m").is_err());
    assert!(manage::book_enrolment(&mut store, "9999", None, 1_800, 0, "m").is_err());
    assert_eq!(store.booking_for(id, Some(&north), 100).unwrap().map(|b| b.id), Some(at_north));
    assert_eq!(store.booking_for(id, Some(&south), 100).unwrap(), None);
    assert_eq!(store.booking_for(id, None, 100).unwrap(), None, "a gate without an id");
    assert_eq!(store.booking_for(id, Some(&north), 1_800).unwrap(), None, "past its end");
    let anywhere = manage::book_enrolment(&mut store, "1203", None, 1_800, 0, "manager").unwrap();
    assert_eq!(store.booking_for(id, Some(&south), 100).unwrap().map(|b| b.id), Some(anywhere));
    let open: Vec<i64> = manage::bookings(&store, 100).unwrap().iter().map(|b| b.id).collect();
    assert_eq!(open, [at_north, anywhere]);
    let done = BookingDone { booking: at_north, door: Some(north.clone()), at: 200 };
    store.complete_booking(&done).unwrap();
    assert_eq!(store.booking_for(id, Some(&north), 300).unwrap().map(|b| b.id), Some(anywhere));
    let kinds: Vec<String> =
        store.audit_entries(None).unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "enrolment_booked").count(), 2);
    assert_eq!(kinds.last().map(String::as_str), Some("enrolment_booking_done"));
    assert_eq!(store.purge(&RetentionConfig::default(), 300).unwrap().codes_and_bookings, 1);
}
