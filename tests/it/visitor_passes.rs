//! Visitor passes through the store and the keypad's back-off: once and no more, only in their
//! window, only at their doors, not after a revocation, gone after the purge; and across doors,
//! a use at one door reaching the register and then the other door (and, inside that round trip,
//! the other door still accepting a multi-entry pass).

use std::sync::atomic::{AtomicU64, Ordering};

use facegate::access::checks::{PassCheck, use_visitor_code};
use facegate::credentials::lockout::TERMINAL_KEY;
use facegate::credentials::{Code, PinConfig};
use facegate::keys::{KEY_LEN, SiteKey};
use facegate::manage;
use facegate::site::entry::{EntryKey, EntryValue};
use facegate::site::ids::DoorId;
use facegate::store::{NewVisitorPass, PassRefusal, ReplicaEntry, RetentionConfig, Store};

const HOUR: i64 = 3_600;

fn key() -> SiteKey {
    SiteKey::from_bytes([7; KEY_LEN])
}

fn door(id: &str) -> DoorId {
    id.parse().unwrap()
}

fn pass(entries: u32, doors: &[&str]) -> NewVisitorPass {
    NewVisitorPass {
        label: "plumber for 1203".into(),
        company: None,
        valid_from: 1_000,
        valid_until: 1_000 + 2 * HOUR,
        entries,
        doors: doors.iter().map(|d| door(d)).collect(),
    }
}

/// Types a code at a door; `None` is a standalone gate.
fn try_code(store: &mut Store, code: &str, at: Option<&str>, now: i64) -> PassCheck {
    let code = Code::parse(code).unwrap();
    use_visitor_code(store, &PinConfig::default(), &code, at.map(door).as_ref(), now).unwrap()
}

fn opened(check: &PassCheck) -> bool {
    matches!(check, PassCheck::Opened { .. })
}

#[test]
fn a_single_entry_pass_opens_once_and_is_refused_after() {
    let mut store = Store::in_memory(&key()).unwrap();
    let issued = manage::create_visitor_pass(&mut store, &pass(1, &[]), 500, "manager").unwrap();
    assert_eq!(issued.code.len(), 8);
    let PassCheck::Opened { used, entries_left } = try_code(&mut store, &issued.code, None, 1_100)
    else {
        panic!("the pass did not open")
    };
    assert_eq!((used.pass, used.door, used.at, entries_left), (issued.id, None, 1_100, 0));
    assert_eq!(
        try_code(&mut store, &issued.code, None, 1_200),
        PassCheck::Refused(PassRefusal::UsedUp)
    );
    let listed = manage::visitor_passes(&store, 1_200).unwrap();
    assert_eq!((listed[0].entries, listed[0].entries_left), (1, 0));
    let log = store.audit_entries(None).unwrap();
    let kinds: Vec<&str> = log.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["visitor_pass_created", "visitor_pass_used", "access_denied"]);
    let subject = format!("visitor-pass#{}", issued.id);
    assert!(log.iter().all(|e| e.subject == subject), "{log:?}");
    let text = format!("{log:?}");
    assert!(!text.contains(&issued.code) && !text.contains("plumber"), "{text}");
}

#[test]
fn a_pass_opens_only_in_its_window_at_its_doors_and_not_after_a_revocation() {
    let mut store = Store::in_memory(&key()).unwrap();
    let issued =
        manage::create_visitor_pass(&mut store, &pass(3, &["north", "east"]), 500, "m").unwrap();
    let code = issued.code.as_str();
    let refused = |reason| PassCheck::Refused(reason);
    assert_eq!(try_code(&mut store, code, Some("north"), 999), refused(PassRefusal::NotYet));
    assert_eq!(
        try_code(&mut store, code, Some("north"), 1_000 + 2 * HOUR),
        refused(PassRefusal::Expired)
    );
    assert_eq!(try_code(&mut store, code, Some("south"), 1_500), refused(PassRefusal::OtherDoor));
    assert_eq!(try_code(&mut store, code, None, 1_500), refused(PassRefusal::OtherDoor));
    assert!(opened(&try_code(&mut store, code, Some("east"), 1_500)));
    manage::revoke_visitor_pass(&mut store, issued.id, 1_600, "m").unwrap();
    assert_eq!(try_code(&mut store, code, Some("north"), 1_700), refused(PassRefusal::Revoked));
    assert!(manage::revoke_visitor_pass(&mut store, issued.id, 1_700, "m").is_err());
    assert_eq!(
        try_code(&mut store, "00000000", Some("north"), 1_700),
        refused(PassRefusal::Unknown)
    );
}

#[test]
fn refused_codes_count_against_the_keypad_and_a_locked_keypad_takes_no_code() {
    let mut store = Store::in_memory(&key()).unwrap();
    let issued = manage::create_visitor_pass(&mut store, &pass(1, &[]), 500, "m").unwrap();
    let rules = PinConfig::default();
    let wrong = if issued.code == "11111111" { "22222222" } else { "11111111" };
    let mut results = Vec::new();
    for _ in 0..rules.terminal_max_failures + 1 {
        results.push(try_code(&mut store, wrong, None, 1_100));
    }
    assert!(store.lockout(TERMINAL_KEY).unwrap().locked_until.is_some());
    assert!(matches!(results.last(), Some(PassCheck::Locked(_))), "{results:?}");
    assert!(matches!(try_code(&mut store, &issued.code, None, 1_101), PassCheck::Locked(_)));
    assert_eq!(manage::visitor_passes(&store, 1_101).unwrap()[0].entries_left, 1);
}

#[test]
fn passes_are_checked_when_issued() {
    let mut store = Store::in_memory(&key()).unwrap();
    let mut refuse = |new: NewVisitorPass| {
        let err = manage::create_visitor_pass(&mut store, &new, 500, "m").unwrap_err();
        err.to_string()
    };
    let two_doors = refuse(pass(1, &["north", "east"]));
    assert!(two_doors.contains("single-entry pass opens one door"), "{two_doors}");
    assert!(refuse(pass(2, &["north", "north"])).contains("named twice"));
    assert!(refuse(NewVisitorPass { valid_until: 900, ..pass(1, &[]) }).contains("end after"));
    assert!(
        refuse(NewVisitorPass { valid_until: 1_000 + 40 * 86_400, ..pass(1, &[]) })
            .contains("31 days")
    );
    assert!(refuse(pass(0, &[])).contains("1 to 100 entries"));
    assert!(refuse(NewVisitorPass { label: "a\nb".into(), ..pass(1, &[]) }).contains("label"));
    assert!(
        refuse(NewVisitorPass { company: Some(" ".into()), ..pass(1, &[]) }).contains("company")
    );
    assert!(manage::visitor_passes(&store, 500).unwrap().is_empty(), "nothing was stored");
}

#[test]
fn the_purge_deletes_expired_passes() {
    let mut store = Store::in_memory(&key()).unwrap();
    let courier = NewVisitorPass { company: Some("SF Express".into()), ..pass(5, &[]) };
    manage::create_visitor_pass(&mut store, &courier, 500, "m").unwrap();
    let later = NewVisitorPass { valid_until: 1_000 + 10 * HOUR, ..pass(1, &[]) };
    let kept = manage::create_visitor_pass(&mut store, &later, 500, "m").unwrap();
    let report = store.purge(&RetentionConfig::default(), 1_000 + 3 * HOUR).unwrap();
    assert_eq!(report.visitor_passes, 1);
    let left: Vec<i64> =
        manage::visitor_passes(&store, 0).unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(left, [kept.id]);
}

/// The next bucket revision of these tests' entries.
fn revision() -> u64 {
    static REVISION: AtomicU64 = AtomicU64::new(1);
    REVISION.fetch_add(1, Ordering::Relaxed)
}

/// Carries every pass from the register to a door as bucket entries, as site mode's sync does.
fn sync(register: &Store, door: &mut Store) {
    let entries: Vec<ReplicaEntry> = register
        .visitor_pass_records()
        .unwrap()
        .into_iter()
        .map(|pass| {
            let key = EntryKey::Pass(pass.id).to_string();
            ReplicaEntry { key, revision: revision(), value: Some(EntryValue::Pass(pass)) }
        })
        .collect();
    door.apply_entries(&entries).unwrap();
}

#[test]
fn a_use_at_one_door_reaches_the_other_door_through_the_register() {
    let mut register = Store::in_memory(&key()).unwrap();
    let (mut north, mut east) =
        (Store::in_memory(&key()).unwrap(), Store::in_memory(&key()).unwrap());
    let issued =
        manage::create_visitor_pass(&mut register, &pass(2, &["north", "east"]), 500, "m").unwrap();
    sync(&register, &mut north);
    sync(&register, &mut east);
    assert!(north.visitor_passes(0).unwrap()[0].label.is_empty(), "labels stay on the register");
    let mut uses = Vec::new();
    for now in [1_100, 1_200] {
        let PassCheck::Opened { used, .. } = try_code(&mut north, &issued.code, Some("north"), now)
        else {
            panic!("north refused")
        };
        uses.push(used);
    }
    // A record published before the uses arrived gives nothing back.
    sync(&register, &mut north);
    assert_eq!(
        try_code(&mut north, &issued.code, Some("north"), 1_250),
        PassCheck::Refused(PassRefusal::UsedUp)
    );
    // The window: before north's reports reach the register, east still sees two entries.
    let PassCheck::Opened { used, .. } = try_code(&mut east, &issued.code, Some("east"), 1_260)
    else {
        panic!("east refused inside the window")
    };
    uses.push(used);
    for used in &uses {
        register.record_pass_use(used).unwrap();
    }
    let beyond = register.audit_entries(None).unwrap();
    assert_eq!(beyond.last().unwrap().detail, "at east, beyond its entries");
    sync(&register, &mut east);
    assert_eq!(
        try_code(&mut east, &issued.code, Some("east"), 1_300),
        PassCheck::Refused(PassRefusal::UsedUp)
    );
    let reported = register.audit_entries(None).unwrap();
    let uses_logged = reported.iter().filter(|e| e.kind == "visitor_pass_used").count();
    assert_eq!(uses_logged, 3);
    assert!(reported.iter().any(|e| e.detail.starts_with("at north")), "{reported:?}");
    // A revocation on the register reaches the doors, and a deleted pass goes.
    let second = manage::create_visitor_pass(&mut register, &pass(1, &["east"]), 500, "m").unwrap();
    manage::revoke_visitor_pass(&mut register, second.id, 600, "m").unwrap();
    sync(&register, &mut east);
    assert_eq!(
        try_code(&mut east, &second.code, Some("east"), 1_300),
        PassCheck::Refused(PassRefusal::Revoked)
    );
    let key = EntryKey::Pass(second.id).to_string();
    east.apply_entries(&[ReplicaEntry { key, revision: revision(), value: None }]).unwrap();
    assert_eq!(
        try_code(&mut east, &second.code, Some("east"), 1_300),
        PassCheck::Refused(PassRefusal::Unknown)
    );
}
