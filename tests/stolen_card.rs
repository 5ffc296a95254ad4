//! The stolen-card case: a thief copies everything on the data partition — the database, its
//! WAL and the sealed key file — but not the secret the key is sealed to. No TPM exists on the
//! test machine, so the sealing boundary is simulated with `systemd-creds --with-key=host` and a
//! host secret (`SYSTEMD_CREDENTIAL_SECRET`) in a temp dir outside the copied tree, standing in
//! for the TPM or the separate medium.
//!
//! The thief can neither unseal the key, nor score a stored template against its resident's raw
//! embedding above the impostor level, nor verify any of the 10 000 4-digit PINs, nor recover a
//! card number from its index, nor read a name. The same attempts with the key succeed, so the
//! test can fail.

use std::path::Path;
use std::time::Instant;

use facegate::credentials::{CardIndex, CardUid, Pin, PinConfig, PinHasher};
use facegate::keys::custody::{Custody, KeyStore};
use facegate::keys::{Key, Purpose, SiteKey};
use facegate::manage;
use facegate::store::{ConsentGrant, NewResident, Store, StoreConfig};
use facegate::templates::{MatchingConfig, ProtectedTemplate, TemplateKey};
use facegate::vision::{Embedding, dot};
use rand::{RngExt, SeedableRng};

const RESIDENTS: usize = 12;
/// Residents whose PIN the thief sweeps through all 10 000 4-digit PINs.
const PIN_RESIDENTS: usize = 2;
/// The Wiegand-26 facility code of the building's cards (the thief reads it off their own card).
const FACILITY: u8 = 42;

/// Fast argon2 parameters: the test is about the pepper, not the cost.
fn pin_config() -> PinConfig {
    PinConfig { memory_kib: 64, iterations: 1, ..PinConfig::default() }
}

fn name_of(i: usize) -> String {
    format!("Resident Zhang-{i:02}")
}

fn unit_vector(rng: &mut rand_chacha::ChaCha8Rng) -> Embedding {
    Embedding::from_raw(std::array::from_fn(|_| rng.random::<f32>() - 0.5)).unwrap()
}

/// What the gate holds: residents with a face, a PIN and a card each.
struct Site {
    faces: Vec<Embedding>,
    pins: Vec<String>,
    cards: Vec<CardUid>,
}

fn set_up(config: &StoreConfig) -> Site {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
    let mut store = Store::init(config).unwrap();
    let mut site = Site { faces: Vec::new(), pins: Vec::new(), cards: Vec::new() };
    for i in 0..RESIDENTS {
        let number = format!("{}", 1201 + i);
        let new = NewResident {
            number: number.clone(),
            name: name_of(i),
            unit: format!("Building 3-{:04}", 1201 + i),
            birth_year: Some(1940 + i as i32),
            ..Default::default()
        };
        store.add_resident(&new, 1, "manager").unwrap();
        let face = unit_vector(&mut rng);
        let grant = ConsentGrant {
            text_version: "1.2-systemd-host".into(),
            text_sha256: "0".repeat(64),
            operator: "manager".into(),
            guardian: None,
        };
        store.enrol(&number, &face, Some(&grant), 14, 2).unwrap();
        let pin = format!("{:04}", rng.random_range(0..10_000));
        let typed = Pin::parse(&pin, &pin_config()).unwrap();
        manage::set_pin(&mut store, &pin_config(), &number, &typed, 3, "manager").unwrap();
        let uid = CardUid::new(vec![FACILITY, i as u8, rng.random()]).unwrap();
        manage::add_card(&mut store, &number, &uid, "", 4, "manager").unwrap();
        site.faces.push(face);
        site.pins.push(pin);
        site.cards.push(uid);
    }
    site
}

/// Copies every file of `from` into `to`.
fn copy_partition(from: &Path, to: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    names
}

/// What the thief reads from the copied database with plain SQL.
struct Loot {
    templates: Vec<ProtectedTemplate>,
    pins: Vec<String>,
    card_indexes: Vec<[u8; 32]>,
}

fn loot(database: &Path) -> Loot {
    let db = rusqlite::Connection::open(database).unwrap();
    let templates = db
        .prepare("SELECT salt, vector FROM templates ORDER BY resident_id")
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap()
        .map(|row| {
            let (salt, vector) = row.unwrap();
            ProtectedTemplate::from_bytes(&salt, &vector).unwrap()
        })
        .collect();
    let pins = db
        .prepare("SELECT phc FROM pins ORDER BY resident_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let card_indexes = db
        .prepare("SELECT card_index FROM cards ORDER BY resident_id")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|index| index.unwrap().try_into().unwrap())
        .collect();
    Loot { templates, pins, card_indexes }
}

/// Every 4-digit PIN that verifies against `phc` under `pepper`; returns them and the tries.
fn sweep_pins(phc: &str, pepper: &Key) -> (Vec<String>, usize) {
    let hasher = PinHasher::new(&pin_config(), pepper.clone()).unwrap();
    let found: Vec<String> = (0..10_000)
        .map(|n| format!("{n:04}"))
        .filter(|pin| hasher.verify(Some(phc), &Pin::parse(pin, &pin_config()).unwrap()))
        .collect();
    (found, 10_000)
}

/// Every card of the facility whose index under `card_key` is among `indexes`.
fn sweep_cards(indexes: &[[u8; 32]], card_key: &Key) -> Vec<CardUid> {
    (0..=u16::MAX)
        .map(|n| CardUid::new(vec![FACILITY, (n >> 8) as u8, n as u8]).unwrap())
        .filter(|uid| indexes.contains(&CardIndex::of(card_key, uid).0))
        .collect()
}

/// The highest scores the thief's probes reach: (stored vector as is, under a guessed key).
fn thief_scores(loot: &Loot, faces: &[Embedding], guessed: &TemplateKey) -> (f32, f32) {
    let mut direct = 0f32;
    let mut guessed_key = 0f32;
    for (template, face) in loot.templates.iter().zip(faces) {
        direct = direct.max(dot(&template.vector, face.as_slice()).abs());
        guessed_key = guessed_key.max(template.score(guessed, face).abs());
    }
    (direct, guessed_key)
}

#[test]
fn a_copy_of_the_data_partition_without_the_host_secret_yields_nothing() {
    let (data, host, thief_dir, thief_host) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let secret = |dir: &Path| dir.join("credential.secret");
    // SAFETY: the only test in this binary; set before any thread of ours starts.
    unsafe { std::env::set_var("SYSTEMD_CREDENTIAL_SECRET", secret(host.path())) };
    let config = StoreConfig {
        database: data.path().join("facegate.db"),
        key_file: data.path().join("site.cred"),
        key_store: KeyStore::SystemdHost,
    };
    let site = set_up(&config);
    let gate = Store::open(&config).unwrap(); // the running gate keeps the WAL in place
    gate.resident("1201").unwrap();
    let copied = copy_partition(data.path(), thief_dir.path());
    eprintln!("the thief copied {copied:?}");
    assert!(copied.contains(&"site.cred".to_owned()) && copied.len() >= 2, "{copied:?}");
    assert!(host.path().join("credential.secret").exists(), "the host secret stayed behind");

    // 1. The sealed key does not open on the thief's machine (another host secret).
    unsafe { std::env::set_var("SYSTEMD_CREDENTIAL_SECRET", secret(thief_host.path())) };
    let thief_config = StoreConfig {
        database: thief_dir.path().join("facegate.db"),
        key_file: thief_dir.path().join("site.cred"),
        key_store: KeyStore::SystemdHost,
    };
    let err = Store::open(&thief_config).err().expect("the copy must not open");
    eprintln!("thief's open: {err}");
    assert!(err.to_string().contains("systemd-creds cannot unseal"), "{err}");
    let as_plain = Custody::new(KeyStore::File, &thief_config.key_file).load().unwrap_err();
    assert!(as_plain.to_string().contains("bytes"), "the sealed file is no raw key: {as_plain}");

    // 2. No name, unit or operator of the register in clear in any copied file.
    for file in &copied {
        let bytes = std::fs::read(thief_dir.path().join(file)).unwrap();
        for needle in (0..RESIDENTS).map(name_of).chain(["Building 3-".into()]) {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{file} holds {needle:?} in clear"
            );
        }
    }

    // 3. Templates, PINs and cards from the copy, attacked without the key.
    let loot = loot(&thief_config.database);
    assert_eq!(
        (loot.templates.len(), loot.pins.len(), loot.card_indexes.len()),
        (RESIDENTS, RESIDENTS, RESIDENTS)
    );
    let guess = SiteKey::generate().unwrap();
    let threshold = MatchingConfig::default().threshold;
    let impostor = site
        .faces
        .iter()
        .enumerate()
        .flat_map(|(i, a)| site.faces[i + 1..].iter().map(move |b| a.cosine(b).abs()))
        .fold(0f32, f32::max);
    let (direct, guessed) = thief_scores(&loot, &site.faces, &TemplateKey::from_site(&guess));
    eprintln!(
        "thief: best |score| of a stored template against its own resident's raw embedding: {direct:.3} as stored, {guessed:.3} under a guessed key; highest impostor |cos| {impostor:.3}; threshold {threshold}"
    );
    assert!(direct < threshold && guessed < threshold);
    assert!(direct <= impostor + 0.1 && guessed <= impostor + 0.1, "no better than impostors");

    let started = Instant::now();
    let mut tried = 0;
    for phc in loot.pins.iter().take(PIN_RESIDENTS) {
        let (found, tries) = sweep_pins(phc, &guess.derive(Purpose::PinPepper));
        assert!(found.is_empty(), "the thief verified a PIN");
        tried += tries;
    }
    eprintln!(
        "thief: {tried} PIN guesses for {PIN_RESIDENTS} residents, none verified ({:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let indexes = &loot.card_indexes;
    let started = Instant::now();
    let found = sweep_cards(indexes, &guess.derive(Purpose::CardIndex));
    let per_card = started.elapsed().as_secs_f64() / 65_536.0;
    eprintln!(
        "thief: 65 536 card numbers of facility {FACILITY} tried, {} recovered ({:.2} s; the whole Wiegand-26 space would take {:.0} s)",
        found.len(),
        per_card * 65_536.0,
        per_card * 16_777_216.0
    );
    assert!(found.is_empty());

    // 4. The same attacks with the key (the gate's own host secret) succeed: the test can fail.
    unsafe { std::env::set_var("SYSTEMD_CREDENTIAL_SECRET", secret(host.path())) };
    let key = thief_config.custody().load().unwrap();
    let template_key = TemplateKey::from_site(&key);
    let lowest = loot
        .templates
        .iter()
        .zip(&site.faces)
        .map(|(t, face)| t.score(&template_key, face))
        .fold(1f32, f32::min);
    eprintln!("with the key: lowest genuine score {lowest:.3}");
    assert!(lowest > threshold);
    let started = Instant::now();
    for (phc, pin) in loot.pins.iter().zip(&site.pins).take(PIN_RESIDENTS) {
        let (found, _) = sweep_pins(phc, &key.derive(Purpose::PinPepper));
        assert_eq!(found, std::slice::from_ref(pin));
    }
    eprintln!(
        "with the key: {PIN_RESIDENTS} PINs recovered by the same sweep ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    let mut recovered = sweep_cards(indexes, &key.derive(Purpose::CardIndex));
    let mut cards = site.cards.clone();
    recovered.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    cards.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(recovered, cards, "with the key every card number comes back");
    let opened = Store::open(&thief_config).unwrap();
    assert_eq!(opened.resident("1201").unwrap().name, name_of(0));
    unsafe { std::env::remove_var("SYSTEMD_CREDENTIAL_SECRET") };
}
