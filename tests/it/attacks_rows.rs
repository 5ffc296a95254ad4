//! Attacks on the rows of a copied or stolen database file, edited with any SQLite tool and put
//! back: a template, PIN hash or card moved onto another resident, a forged template of norm
//! 100, a trigger or view added to copy secrets out, a reused resident id, a lockout left
//! behind. Each is refused by the store the gate opens.

use crate::common;
use facegate::access::Checked;
use facegate::access::checks::{check_card, check_pin};
use facegate::credentials::lockout::resident_key;
use facegate::credentials::{CardUid, Pin, PinConfig};
use facegate::manage;
use facegate::store::{ConsentGrant, NewResident, RetentionConfig, Store, StoreConfig};
use facegate::templates::{ProtectedTemplate, TemplateKey};
use facegate::vision::{EMBEDDING_DIM, Embedding};
use rand::{RngExt, SeedableRng};

/// The FMR 1e-3 decision threshold on the dev set.
const THRESHOLD: f32 = 0.36;

fn pin_config() -> PinConfig {
    PinConfig { memory_kib: 512, iterations: 1, ..PinConfig::default() }
}

fn consent() -> ConsentGrant {
    ConsentGrant {
        text_version: "1".into(),
        text_sha256: "ab".repeat(32),
        operator: "manager".into(),
        guardian: None,
    }
}

/// Random unit embeddings (seeded).
fn embeddings(seed: u64, n: usize) -> Vec<Embedding> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| Embedding::from_raw(std::array::from_fn(|_| rng.random::<f32>() - 0.5)).unwrap())
        .collect()
}

/// A site on disk with the attacker (1201) and the victim (1202), both with consent.
struct Site {
    _dir: tempfile::TempDir,
    config: StoreConfig,
}

impl Site {
    fn new() -> (Site, Store) {
        let dir = tempfile::tempdir().unwrap();
        let config = common::store_in(dir.path());
        let mut store = Store::init(&config).unwrap();
        for number in ["1201", "1202"] {
            let new = NewResident {
                number: number.into(),
                name: "Resident".into(),
                unit: "3-1201".into(),
                ..Default::default()
            };
            store.add_resident(&new, 0, "manager").unwrap();
            store.grant_consent(number, &consent(), 0).unwrap();
        }
        (Site { _dir: dir, config }, store)
    }

    /// The attacker's SQLite session on the database file.
    fn edit(&self, sql: &str) {
        rusqlite::Connection::open(&self.config.database).unwrap().execute_batch(sql).unwrap();
    }

    fn reopen(&self) -> Store {
        Store::open(&self.config).unwrap()
    }
}

fn rejections(store: &Store) -> usize {
    store.audit_entries(None).unwrap().iter().filter(|e| e.kind == "row_rejected").count()
}

#[test]
fn a_template_moved_onto_another_resident_never_matches_and_is_audited() {
    let (site, mut store) = Site::new();
    let face = &embeddings(1, 1)[0];
    store.enrol("1201", face, None, 14, 1).unwrap();
    let victim = store.resident("1202").unwrap().id;
    drop(store);
    site.edit(&format!("UPDATE templates SET resident_id = {victim}"));
    let store = site.reopen();
    let gallery = store.gallery(2).unwrap();
    assert_eq!(gallery.verify(victim, face), None, "the attacker's face opens as the victim");
    assert!(gallery.is_empty());
    assert_eq!(rejections(&store), 1);
}

#[test]
fn a_forged_template_of_norm_100_matches_no_probe() {
    let (site, store) = Site::new();
    let victim = store.resident("1202").unwrap().id;
    drop(store);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let raw: Vec<f32> = (0..EMBEDDING_DIM).map(|_| rng.random::<f32>() - 0.5).collect();
    let norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt();
    let forged: Vec<u8> = raw.iter().flat_map(|v| (100.0 * v / norm).to_le_bytes()).collect();
    let salt: [u8; 16] = rng.random();
    let blob = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    site.edit(&format!(
        "INSERT INTO templates (resident_id, consent_id, salt, vector, model, created_at)
         SELECT {victim}, id, x'{}', x'{}', 'sface-2021dec/v1', 1 FROM consents WHERE resident_id = {victim}",
        blob(&salt),
        blob(&forged),
    ));
    let store = site.reopen();
    let gallery = store.gallery(2).unwrap();
    let opened = embeddings(2, 200)
        .iter()
        .filter(|probe| gallery.verify(victim, probe).is_some_and(|s| s >= THRESHOLD))
        .count();
    assert_eq!(opened, 0, "{opened} of 200 strangers open as the victim");
    assert!(ProtectedTemplate::from_bytes(&salt, &forged).is_none(), "norm 100 accepted");
    assert_eq!(rejections(&store), 1);
}

#[test]
fn a_genuine_template_still_matches_after_a_reopen() {
    let (site, mut store) = Site::new();
    let faces = embeddings(3, 2);
    store.enrol("1202", &faces[0], None, 14, 1).unwrap();
    drop(store);
    let store = site.reopen();
    let victim = store.resident("1202").unwrap().id;
    let gallery = store.gallery(2).unwrap();
    assert!(gallery.verify(victim, &faces[0]).unwrap() > 0.99);
    assert!(gallery.verify(victim, &faces[1]).unwrap() < THRESHOLD);
    assert_eq!(rejections(&store), 0);
    let key = TemplateKey::from_site(&site.config.custody().load().unwrap());
    assert!(store.stored_template(1).unwrap().score(&key, &faces[0]) > 0.99);
}

#[test]
fn a_pin_hash_copied_onto_another_resident_opens_nothing() {
    let (site, mut store) = Site::new();
    let own = Pin::parse("2580", &pin_config()).unwrap();
    manage::set_pin(&mut store, &pin_config(), "1201", &own, 0, "manager").unwrap();
    let victim_pin = Pin::parse("7391", &pin_config()).unwrap();
    manage::set_pin(&mut store, &pin_config(), "1202", &victim_pin, 0, "manager").unwrap();
    let (attacker, victim) =
        (store.resident("1201").unwrap().id, store.resident("1202").unwrap().id);
    drop(store);
    site.edit(&format!(
        "UPDATE pins SET phc = (SELECT phc FROM pins WHERE resident_id = {attacker}) WHERE resident_id = {victim}"
    ));
    let store = site.reopen();
    let checked = check_pin(&store, &pin_config(), "1202", &own, 10).unwrap();
    assert_eq!(checked, Checked::Pin(None), "the attacker's PIN opens as the victim");
    assert_eq!(rejections(&store), 1);
    let checked = check_pin(&store, &pin_config(), "1201", &own, 11).unwrap();
    assert_eq!(checked, Checked::Pin(Some(attacker)), "the attacker's own row is intact");
}

#[test]
fn a_card_moved_onto_another_resident_opens_nothing() {
    let (site, mut store) = Site::new();
    let uid = CardUid::new(vec![0x04, 0x51, 0x23, 0x45]).unwrap();
    store.add_card("1201", &uid, "fob", 0, "manager").unwrap();
    let (attacker, victim) =
        (store.resident("1201").unwrap().id, store.resident("1202").unwrap().id);
    assert_eq!(check_card(&store, &uid).unwrap(), Checked::Card(Some(attacker)));
    drop(store);
    site.edit(&format!("UPDATE cards SET resident_id = {victim}"));
    let store = site.reopen();
    assert_eq!(check_card(&store, &uid).unwrap(), Checked::Card(None));
    assert_eq!(rejections(&store), 1);
}

#[test]
fn a_trigger_or_view_added_to_the_database_stops_the_gate_with_its_name() {
    let (site, store) = Site::new();
    drop(store);
    site.edit(
        "CREATE TABLE loot (phc TEXT);
         CREATE TRIGGER copy_pins AFTER UPDATE ON pins BEGIN INSERT INTO loot VALUES (new.phc); END;",
    );
    let err = Store::open(&site.config).err().expect("a database with a planted trigger opens");
    let message = err.to_string();
    assert!(message.contains("trigger copy_pins") && message.contains("table loot"), "{message}");
    site.edit(
        "DROP TRIGGER copy_pins; DROP TABLE loot; CREATE VIEW pins_view AS SELECT phc FROM pins;",
    );
    let err = Store::open(&site.config).err().expect("a database with a planted view opens");
    assert!(err.to_string().contains("view pins_view"), "{err}");
    site.edit("DROP VIEW pins_view;");
    site.reopen();
}

/// Adds a resident whose access ends at `until` (purged then, with the default retention).
fn add_leaving(store: &mut Store, number: &str, until: i64) -> i64 {
    let new = NewResident {
        number: number.into(),
        name: "Leaving".into(),
        unit: "3-1203".into(),
        valid_until: Some(until),
        ..Default::default()
    };
    store.add_resident(&new, 0, "manager").unwrap().id
}

#[test]
fn a_removed_residents_id_is_never_given_to_the_next_one() {
    let (_site, mut store) = Site::new();
    let last = add_leaving(&mut store, "1203", 30);
    store.purge(&RetentionConfig::default(), 40).unwrap();
    assert!(store.find_resident("1203").unwrap().is_none());
    let next = add_leaving(&mut store, "1204", 1_000);
    assert!(next > last, "resident id {last} (and its audit rows) given to a newcomer");
}

#[test]
fn a_moved_out_residents_lockout_goes_with_them() {
    let (_site, mut store) = Site::new();
    add_leaving(&mut store, "1203", 30);
    let wrong = Pin::parse("9468", &pin_config()).unwrap();
    for t in 0..5 {
        check_pin(&store, &pin_config(), "1203", &wrong, 10 + t).unwrap();
    }
    assert!(store.lockout(&resident_key("1203")).unwrap().locked_until.is_some());
    store.purge(&RetentionConfig::default(), 40).unwrap();
    assert!(store.find_resident("1203").unwrap().is_none());
    assert_eq!(
        store.lockout(&resident_key("1203")).unwrap(),
        Default::default(),
        "a newcomer given number 1203 would start locked out"
    );
}
