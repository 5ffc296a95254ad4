//! PIN and card paths through the store, the lockout and the access decision, as a resident
//! without face recognition uses them.

use crate::common;
use facegate::access::checks::{check_card, check_pin, record};
use facegate::access::{AccessConfig, Checked, Decision, DenyReason, decide};
use facegate::credentials::lockout::{TERMINAL_KEY, resident_key};
use facegate::credentials::{CardUid, Pin, PinConfig};
use facegate::manage;
use facegate::store::{NewResident, Store, StoreConfig};

/// Small argon2 parameters keep the tests quick; `facegate bench pin` measures the real ones.
fn pin_config() -> PinConfig {
    PinConfig { memory_kib: 512, iterations: 1, ..PinConfig::default() }
}

fn gate() -> (tempfile::TempDir, StoreConfig, Store) {
    let dir = tempfile::tempdir().unwrap();
    let config = common::store_in(dir.path());
    let mut store = Store::init(&config).unwrap();
    let resident = NewResident {
        number: "1201".into(),
        name: "Li".into(),
        unit: "3-1201".into(),
        ..Default::default()
    };
    store.add_resident(&resident, 0, "manager").unwrap();
    let pin = Pin::parse("2580", &pin_config()).unwrap();
    manage::set_pin(&mut store, &pin_config(), "1201", &pin, 0, "manager").unwrap();
    (dir, config, store)
}

fn try_pin(store: &mut Store, number: &str, pin: &str, now: i64) -> Decision {
    let checked =
        check_pin(store, &pin_config(), number, &Pin::parse(pin, &pin_config()).unwrap(), now)
            .unwrap();
    let resident = match checked {
        Checked::Pin(Some(id)) => Some(store.resident_by_id(id).unwrap()),
        _ => None,
    };
    let decision = decide(&AccessConfig::default(), None, checked, resident.as_ref(), now);
    record(store, checked, &decision, now).unwrap();
    decision
}

#[test]
fn right_pin_grants_and_wrong_pin_denies() {
    let (_dir, _config, mut store) = gate();
    let id = store.resident("1201").unwrap().id;
    assert_eq!(try_pin(&mut store, "1201", "2580", 10), Decision::Grant { resident_id: id });
    assert_eq!(try_pin(&mut store, "1201", "2581", 11), Decision::Deny(DenyReason::PinNotAccepted));
    assert_eq!(
        try_pin(&mut store, "9999", "2580", 12),
        Decision::Deny(DenyReason::PinNotAccepted),
        "same answer for an unknown number"
    );
}

#[test]
fn lockout_engages_at_the_fifth_failure_survives_a_restart_and_an_admin_lifts_it() {
    let (_dir, config, mut store) = gate();
    for n in 0..4 {
        assert_eq!(
            try_pin(&mut store, "1201", "0000", 100 + n),
            Decision::Deny(DenyReason::PinNotAccepted)
        );
    }
    assert_eq!(
        try_pin(&mut store, "1201", "0000", 104),
        Decision::Deny(DenyReason::PinNotAccepted)
    );
    drop(store);
    let mut store = Store::open(&config).unwrap(); // the gate restarted
    assert_eq!(
        try_pin(&mut store, "1201", "2580", 110),
        Decision::Deny(DenyReason::LockedOut { seconds: 24 }),
        "even the right PIN waits"
    );
    assert!(store.clear_lockout(&resident_key("1201")).unwrap());
    assert!(matches!(try_pin(&mut store, "1201", "2580", 111), Decision::Grant { .. }));
}

#[test]
fn sweeping_resident_numbers_locks_the_keypad() {
    let (_dir, _config, mut store) = gate();
    let config = pin_config();
    for n in 0..config.terminal_max_failures as i64 {
        try_pin(&mut store, &format!("{}", 5000 + n), "1234", 100 + n);
    }
    assert!(matches!(
        try_pin(&mut store, "1201", "2580", 130),
        Decision::Deny(DenyReason::LockedOut { .. })
    ));
    store.clear_lockout(TERMINAL_KEY).unwrap();
    assert!(matches!(try_pin(&mut store, "1201", "2580", 131), Decision::Grant { .. }));
}

#[test]
fn an_unknown_number_costs_exactly_one_verification_like_a_known_one() {
    let (_dir, _config, store) = gate();
    let pin = Pin::parse("1111", &pin_config()).unwrap();
    let before = store.pin_verifications();
    check_pin(&store, &pin_config(), "1201", &pin, 10).unwrap();
    assert_eq!(store.pin_verifications(), before + 1);
    check_pin(&store, &pin_config(), "777777", &pin, 11).unwrap();
    assert_eq!(store.pin_verifications(), before + 2);
}

#[test]
fn a_registered_card_opens_a_revoked_one_does_not_and_the_log_holds_neither_pin_nor_uid() {
    let (_dir, _config, mut store) = gate();
    let uid: CardUid = "0004512345".parse().unwrap();
    let card = manage::add_card(&mut store, "1201", &uid, "blue fob", 1, "manager").unwrap();
    let resident = store.resident("1201").unwrap();
    let checked = check_card(&store, &uid).unwrap();
    assert_eq!(
        decide(&AccessConfig::default(), None, checked, Some(&resident), 5),
        Decision::Grant { resident_id: resident.id }
    );
    record(&mut store, checked, &Decision::Grant { resident_id: resident.id }, 5).unwrap();
    manage::revoke_card(&mut store, card, 6, "manager").unwrap();
    let checked = check_card(&store, &uid).unwrap();
    assert_eq!(
        decide(&AccessConfig::default(), None, checked, None, 7),
        Decision::Deny(DenyReason::CardNotAccepted)
    );
    try_pin(&mut store, "1201", "2580", 8);
    for entry in store.audit_entries(None).unwrap() {
        let text = format!("{} {} {}", entry.kind, entry.subject, entry.detail);
        assert!(!text.contains("2580") && !text.contains("4512345"), "{text}");
    }
    assert_eq!(store.verify_audit().unwrap().first_broken, None);
}

#[test]
fn a_resident_changes_their_pin_only_with_the_old_one() {
    let (_dir, _config, mut store) = gate();
    let pin = |text: &str| Pin::parse(text, &pin_config()).unwrap();
    let rules = pin_config();
    let change = |store: &mut Store, old: &str, now| {
        manage::change_own_pin(store, &rules, "1201", &pin(old), &pin("864200"), now).unwrap()
    };
    assert!(!change(&mut store, "1111", 10));
    assert!(change(&mut store, "2580", 11));
    assert!(matches!(try_pin(&mut store, "1201", "864200", 12), Decision::Grant { .. }));
    assert_eq!(try_pin(&mut store, "1201", "2580", 13), Decision::Deny(DenyReason::PinNotAccepted));
}
