//! Attacks on PINs, cards and the credential keys, through the same store, lockout and access
//! decision the gate uses: each is what a guesser or a thief tries, and that it fails.

use crate::common;
use facegate::access::checks::{check_card, check_pin};
use facegate::access::{AccessConfig, Checked, Decision, decide};
use facegate::credentials::{CardUid, Pin, PinConfig, PinError};
use facegate::manage;
use facegate::store::{NewResident, Store, StoreConfig, StoreError};

/// Small argon2 parameters keep the tests quick; the structure is what is tested.
fn rules() -> PinConfig {
    PinConfig { memory_kib: 512, iterations: 1, ..PinConfig::default() }
}

fn pin(text: &str) -> Pin {
    Pin::parse(text, &rules()).unwrap()
}

fn card() -> CardUid {
    "4512345".parse().unwrap()
}

/// A site with resident 1201 (born 1985, PIN 2580, card 4512345).
fn site() -> (tempfile::TempDir, StoreConfig, Store) {
    let dir = tempfile::tempdir().unwrap();
    let config = common::store_in(dir.path());
    let mut store = Store::init(&config).unwrap();
    let new = NewResident {
        number: "1201".into(),
        name: "Li".into(),
        unit: "3-1201".into(),
        birth_year: Some(1985),
        ..Default::default()
    };
    store.add_resident(&new, 0, "manager").unwrap();
    manage::set_pin(&mut store, &rules(), "1201", &pin("2580"), 0, "manager").unwrap();
    manage::add_card(&mut store, "1201", &card(), "", 0, "manager").unwrap();
    (dir, config, store)
}

/// How many of `tries` wrong PINs, one every five seconds from `from`, each for another
/// unknown resident number, reach the PIN check instead of a locked keypad.
fn sweep(store: &Store, from: i64, tries: i64) -> i64 {
    (0..tries)
        .filter(|k| {
            let number = format!("{}", 5000 + from + k);
            let checked = check_pin(store, &rules(), &number, &pin("7391"), from + 5 * k).unwrap();
            checked == Checked::Pin(None)
        })
        .count() as i64
}

#[test]
fn a_pin_alone_does_not_open_a_card_and_pin_door() {
    let (_dir, _config, store) = site();
    let policy: AccessConfig =
        toml::from_str("methods = [\"pin\", \"card\"]\ntwo_factor = \"always_card_and_pin\"")
            .unwrap();
    let checked = check_pin(&store, &rules(), "1201", &pin("2580"), 10).unwrap();
    let resident = store.resident("1201").unwrap();
    let decision = decide(&policy, None, checked, Some(&resident), 10);
    assert!(matches!(decision, Decision::NeedSecondFactor(_)), "{decision:?}");
    let card_only =
        decide(&policy, None, check_card(&store, &card()).unwrap(), Some(&resident), 10);
    assert!(matches!(card_only, Decision::NeedSecondFactor(_)), "{card_only:?}");
}

#[test]
fn the_pins_a_guesser_tries_first_cannot_be_set() {
    let (_dir, _config, mut store) = site();
    for weak in ["1234", "0000", "1111", "4321", "1212", "1201", "1985"] {
        let result = manage::set_pin(&mut store, &rules(), "1201", &pin(weak), 5, "manager");
        assert!(
            matches!(result, Err(StoreError::Pin(PinError::Weak(_)))),
            "{weak} must be refused: {result:?}"
        );
    }
    let checked = check_pin(&store, &rules(), "1201", &pin("2580"), 10).unwrap();
    assert!(matches!(checked, Checked::Pin(Some(_))), "the old PIN still works");
}

#[test]
fn ten_quiet_minutes_do_not_give_a_sweeping_guesser_a_fresh_allowance() {
    let (_dir, _config, store) = site();
    assert_eq!(sweep(&store, 0, 20), 20, "the keypad's first allowance");
    assert_eq!(sweep(&store, 100, 5), 0, "then it is locked");
    let after_quiet = sweep(&store, 100 + 601, 20);
    assert!(after_quiet <= 3, "{after_quiet} guesses after ten quiet minutes");
}

#[test]
fn a_sweeping_guesser_gets_a_few_hundred_guesses_a_day() {
    let (_dir, _config, store) = site();
    let (mut t, mut checked, mut k) = (0i64, 0, 0);
    while t < 86_400 {
        let number = format!("{}", 2000 + k % 500);
        match check_pin(&store, &rules(), &number, &pin("7391"), t).unwrap() {
            Checked::Locked(_, seconds) => t += seconds,
            _ => {
                checked += 1;
                k += 1;
                t += 5;
            }
        }
    }
    println!("guesses checked in one day: {checked}");
    assert!(checked <= 320, "{checked} guesses a day");
    assert_eq!(store.pin_verifications(), checked as u64, "locked tries cost no argon2");
}

#[test]
fn an_old_argon2_hash_is_rehashed_so_known_and_unknown_numbers_cost_the_same() {
    let (_dir, config, store) = site();
    let phc = |config: &StoreConfig| -> String {
        let conn = rusqlite::Connection::open(&config.database).unwrap();
        conn.query_row("SELECT phc FROM pins", [], |r| r.get(0)).unwrap()
    };
    assert!(phc(&config).contains("m=512,"), "{}", phc(&config));
    drop(store);
    // The site raised argon2's memory: the dummy hash for unknown numbers uses the new cost.
    let stronger = PinConfig { memory_kib: 1024, ..rules() };
    let store = Store::open(&config).unwrap();
    let checked = check_pin(&store, &stronger, "1201", &pin("2580"), 10).unwrap();
    assert!(matches!(checked, Checked::Pin(Some(_))));
    assert!(phc(&config).contains("m=1024,"), "rehashed: {}", phc(&config));
    assert!(matches!(
        check_pin(&store, &stronger, "1201", &pin("2580"), 20).unwrap(),
        Checked::Pin(Some(_))
    ));
}

#[test]
fn a_leaked_credential_root_opens_nothing_once_rotated_and_used() {
    let (dir, config, store) = site();
    drop(store);
    let leaked = dir.path().join("leaked.key");
    std::fs::copy(&config.key_file, &leaked).unwrap();
    let status = manage::rotate_credential_root(&config, 100).unwrap();
    assert_eq!((status.pins_on_previous_root, status.cards_on_previous_root), (1, 1));
    let store = Store::open(&config).unwrap();
    // Both still work with the old root, and move to the new one on use.
    assert!(matches!(
        check_pin(&store, &rules(), "1201", &pin("2580"), 110).unwrap(),
        Checked::Pin(Some(_))
    ));
    assert!(matches!(check_card(&store, &card()).unwrap(), Checked::Card(Some(_))));
    let status = store.credential_root_status().unwrap();
    assert_eq!((status.pins_on_previous_root, status.cards_on_previous_root), (0, 0));
    drop(store);
    // A second rotation drops the leaked root from the key file.
    manage::rotate_credential_root(&config, 200).unwrap();
    let thief = StoreConfig { key_file: leaked, ..config.clone() };
    let thief = Store::open(&thief).unwrap();
    assert_eq!(check_pin(&thief, &rules(), "1201", &pin("2580"), 300).unwrap(), Checked::Pin(None));
    assert_eq!(check_card(&thief, &card()).unwrap(), Checked::Card(None));
    let store = Store::open(&config).unwrap();
    assert!(matches!(check_card(&store, &card()).unwrap(), Checked::Card(Some(_))));
    assert!(matches!(
        check_pin(&store, &rules(), "1201", &pin("2580"), 310).unwrap(),
        Checked::Pin(Some(_))
    ));
}

#[test]
fn a_rotation_is_refused_while_credentials_would_be_stranded() {
    let (_dir, config, store) = site();
    drop(store);
    manage::rotate_credential_root(&config, 100).unwrap();
    let err = manage::rotate_credential_root(&config, 200).unwrap_err();
    assert!(err.to_string().contains("1 PIN(s) and 1 card(s)"), "{err}");
    let store = Store::open(&config).unwrap();
    assert!(matches!(
        check_pin(&store, &rules(), "1201", &pin("2580"), 210).unwrap(),
        Checked::Pin(Some(_))
    ));
}

#[test]
fn an_admin_pin_is_long_and_not_the_door_pin() {
    let (_dir, _config, mut store) = site();
    let set = |store: &mut Store, text: &str| {
        manage::set_admin_pin(store, &rules(), "1201", &pin(text), 5, "manager")
    };
    assert!(matches!(set(&mut store, "7391"), Err(StoreError::Pin(PinError::AdminTooShort(6)))));
    manage::set_pin(&mut store, &rules(), "1201", &pin("739146"), 5, "manager").unwrap();
    assert!(matches!(set(&mut store, "739146"), Err(StoreError::Pin(PinError::SameAsDoorPin))));
    assert!(matches!(set(&mut store, "123456"), Err(StoreError::Pin(PinError::Weak(_)))));
    set(&mut store, "582914").unwrap();
}
