//! What the security review found in site mode, through the real path (a real nats-server, the
//! site controller, doors' sync agents): a removed door loses its broker login and its messages
//! change nothing; a door enrolment needs a booking and never undoes a withdrawal at the office;
//! PINs from doors follow the site's receive order; a door id used again starts afresh.

use std::process::Command;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};
use facegate::site::broker::PasswordHash;
use facegate::site::broker_config::ServerSection;
use facegate::site::controller::{SiteController, SiteDir};
use facegate::site::outbox::{DoorPinChange, OutboxKind};
use facegate::site::{DoorId, message_id, subject};
use facegate::store::{AuditEntry, AuditKind, Chain, ReplicaEntry, Store, StoreConfig, unix_now};

use crate::nats_harness::NatsServer;
use crate::site_rig::*;

const DOOR_PASSWORD: &str = "north-door-password-for-tests";

/// The door messages of one kind the site kept, with what it made of them.
fn details(site: &Site, door: &DoorId, kind: OutboxKind) -> Vec<String> {
    let messages = site.site_db().messages(Some(door)).unwrap();
    messages.into_iter().filter(|m| m.kind == kind).map(|m| m.detail).collect()
}

/// Waits until the site kept `count` messages of `kind` from `door`.
fn wait_kept(site: &Site, door: &DoorId, kind: OutboxKind, count: usize) -> Vec<String> {
    wait_until(Duration::from_secs(30), || details(site, door, kind).len() >= count)
        .unwrap_or_else(|| panic!("{:?}", details(site, door, kind)));
    details(site, door, kind)
}

/// The PIN hash on the register for resident 1001.
fn register_phc(register: &Store) -> Option<String> {
    register.door_records(false).unwrap()[0].pin.as_ref().map(|pin| pin.phc.clone())
}

/// Sets resident 1001's PIN at a door whose clock says `at`, with its agent stopped meanwhile;
/// the hash the door sends.
fn set_pin_at(site: &Site, door: &mut Door, pin: &facegate::credentials::Pin, at: i64) -> String {
    door.stop_agent();
    let mut store = door.open();
    store.set_pin("1001", pin, &rules(), at, "resident at the gate").unwrap();
    let row = store.outbox(100).unwrap().into_iter().rfind(|r| r.kind == OutboxKind::Pin);
    site.start_agent(door);
    serde_json::from_str::<DoorPinChange>(&row.unwrap().body).unwrap().pin.phc
}

#[test]
fn a_removed_door_loses_its_broker_login_and_its_messages_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = SiteDir(tmp.path().join("site"));
    let mut settings = dir.init("oak".parse().unwrap(), "nats://127.0.0.1:1").unwrap();
    let config_file = tmp.path().join("nats-server.conf");
    settings.server = Some(ServerSection {
        config_file: Some(config_file.clone()),
        server_name: "broker-1".into(),
        listen: "127.0.0.1:4222".into(),
        store_dir: tmp.path().join("jetstream"),
        max_memory_store: 1 << 26,
        max_file_store: 1 << 28,
        tls_cert: None,
        tls_key: None,
    });
    let write_settings = |settings: &facegate::site::controller::SiteSettings| {
        std::fs::write(dir.settings_path(), toml::to_string(settings).unwrap()).unwrap();
    };
    write_settings(&settings);
    let north: DoorId = "north".parse().unwrap();
    let hash = PasswordHash::of(DOOR_PASSWORD).unwrap();
    let site_db = facegate::site::site_db::SiteDb::open(&dir.site_db_path()).unwrap();
    site_db.add_door(&north, hash.as_str(), NOW).unwrap();
    let mut server =
        NatsServer::start_with_config(&facegate::site::broker_config::render(&dir).unwrap());
    settings.broker.url = server.url();
    write_settings(&settings);
    add_residents(&mut Store::open(&dir.register()).unwrap(), 1001, 1, 100);

    // The door (stolen, say) holds the site key and a replica; it sets PINs as a door does.
    let key = dir.register().custody().load().unwrap();
    let door_config = StoreConfig {
        database: tmp.path().join("door.db"),
        key_file: tmp.path().join("door.key"),
        key_store: facegate::keys::custody::KeyStore::File,
    };
    let mut door = Store::create_with_key(&door_config, &key).unwrap();
    door.join_site(&"oak".parse().unwrap(), &north).unwrap();
    let record = Store::open(&dir.register()).unwrap().door_records(false).unwrap().remove(0);
    door.apply_entries(&[ReplicaEntry {
        key: record.key(),
        revision: 1,
        value: Some(facegate::site::entry::EntryValue::Resident(record)),
    }])
    .unwrap();
    let now = unix_now();
    door.set_pin("1001", &pin_of("1002"), &rules(), now, "resident at the gate").unwrap();
    door.set_pin("1001", &pin_of("1003"), &rules(), now + 1, "resident at the gate").unwrap();
    let rows = door.outbox(10).unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    let rt = rt.unwrap();
    let _runtime = rt.enter();
    let controller_dir = dir.0.clone();
    let controller = rt.spawn(async move {
        SiteController::open(&controller_dir).unwrap().run().await.unwrap();
    });
    let url = server.url();
    let login = |password: &str| {
        let (url, password) = (url.clone(), password.to_owned());
        rt.block_on(async move {
            async_nats::ConnectOptions::with_user_and_password("door-oak-north".into(), password)
                .custom_inbox_prefix("_INBOX_oak_north")
                .connect(url)
                .await
        })
    };
    let js = jetstream::new(login(DOOR_PASSWORD).expect("the door logs in"));
    let send = |row: &facegate::site::outbox::OutboxRow| {
        let message = PublishMessage::build()
            .payload(row.body.clone().into())
            .message_id(message_id(&north, row.id));
        let subject = subject(&"oak".parse().unwrap(), &north, row.kind);
        // The controller may not have made the stream yet: try again until it has.
        let acked = || {
            rt.block_on(async { js.send_publish(subject.clone(), message.clone()).await?.await })
        };
        wait_until(Duration::from_secs(30), || acked().is_ok()).expect("the stream takes it");
    };
    let register = || Store::open(&dir.register()).unwrap();
    let phc = |row: &facegate::site::outbox::OutboxRow| {
        serde_json::from_str::<DoorPinChange>(&row.body).unwrap().pin.phc
    };
    let (first, second) = (phc(&rows[0]), phc(&rows[1]));
    let pin_is = |phc: &str| register_phc(&register()).as_deref() == Some(phc);

    send(&rows[0]);
    wait_until(Duration::from_secs(30), || pin_is(&first)).expect("a door's PIN is taken in");

    let out = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(["site", "--dir"])
        .arg(&dir.0)
        .args(["door", "remove", "north"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("systemctl reload nats-server"), "{stdout}");
    let rendered = std::fs::read_to_string(&config_file).unwrap();
    assert!(rendered.contains("user: \"site-oak\"") && !rendered.contains("door-oak-north"));

    // Until the broker reloads, the door still logs in: the site refuses what it sends.
    send(&rows[1]);
    let refused =
        |e: &AuditEntry| e.kind == AuditKind::RowRejected.as_str() && e.subject == "door north";
    wait_until(Duration::from_secs(30), || {
        register().audit_entries(None).unwrap().iter().any(refused)
    })
    .expect("the refusal is audited");
    assert!(pin_is(&first) && !pin_is(&second), "a removed door's PIN changes nothing");
    let entry = register().audit_entries(None).unwrap().into_iter().find(refused).unwrap();
    assert_eq!(entry.chain, "admin");
    assert!(entry.detail.contains("pin message dropped"), "{}", entry.detail);

    server.reload_config(&rendered);
    let err = login(DOOR_PASSWORD).expect_err("the removed door's login is refused");
    assert_eq!(err.kind(), async_nats::ConnectErrorKind::AuthorizationViolation, "{err}");
    controller.abort();
}

#[test]
fn a_door_enrolment_is_taken_in_only_against_an_open_booking() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 2, 100);
    site.start_controller();
    let mut door = site.door("north", false);
    site.start_agent(&mut door);
    site.wait_converged(std::slice::from_ref(&door), Duration::from_secs(30));

    let now = unix_now();
    door.open().enrol("1001", &embedding(7), Some(&grant()), 14, now).unwrap();
    let kept = wait_kept(&site, &door.id, OutboxKind::Enrol, 1);
    assert!(kept[0].contains("refused") && kept[0].contains("no open booking"), "{kept:?}");
    assert!(site.register().templates_of("1001").unwrap().is_empty(), "no booking, no face");

    let north = door.id.clone();
    site.register().book_enrolment("1001", Some(&north), now + 3_600, now, "Office").unwrap();
    site.wait_converged(std::slice::from_ref(&door), Duration::from_secs(30));
    door.open().enrol("1001", &embedding(8), Some(&grant()), 14, now + 1).unwrap();
    let kept = wait_kept(&site, &door.id, OutboxKind::Enrol, 2);
    assert!(kept[1].contains("enrolled"), "{kept:?}");
    assert_eq!(site.register().templates_of("1001").unwrap().len(), 1);
    assert!(site.register().bookings(now + 2).unwrap().is_empty(), "the booking is used up");
}

#[test]
fn an_offline_doors_enrolment_does_not_undo_a_withdrawal_at_the_office() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 1, 100);
    let now = unix_now();
    site.register().book_enrolment("1001", None, now + 3_600, now, "Office").unwrap();
    site.start_controller();
    let mut door = site.door("north", true);
    site.start_agent(&mut door);
    site.wait_converged(std::slice::from_ref(&door), Duration::from_secs(30));

    door.proxy.as_ref().unwrap().cut();
    door.open().enrol("1001", &embedding(7), Some(&grant()), 14, now + 1).unwrap();
    let mut register = site.register();
    facegate::manage::delete_face_data(&mut register, "1001", now + 2, "Office").unwrap();
    door.proxy.as_ref().unwrap().restore();

    let kept = wait_kept(&site, &door.id, OutboxKind::Enrol, 1);
    assert!(kept[0].contains("before their withdrawal"), "{kept:?}");
    assert!(site.register().templates_of("1001").unwrap().is_empty(), "the withdrawal stands");
    site.wait_converged(std::slice::from_ref(&door), Duration::from_secs(30));
    assert!(door.open().templates_of("1001").unwrap().is_empty(), "gone at the door too");
}

#[test]
fn pins_set_at_doors_follow_the_sites_receive_order_not_door_clocks() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 1, 100);
    site.start_controller();
    let mut doors = [site.door("ahead", false), site.door("right", false)];
    doors.iter_mut().for_each(|door| site.start_agent(door));
    site.wait_converged(&doors, Duration::from_secs(30));

    let now = unix_now();
    let year = 365 * 86_400;
    let first = set_pin_at(&site, &mut doors[0], &pin_of("1002"), now + year);
    let pin_is = |phc: &str| register_phc(&site.register()).as_deref() == Some(phc);
    wait_until(Duration::from_secs(30), || pin_is(&first)).expect("the first PIN arrives");
    let second = set_pin_at(&site, &mut doors[1], &pin_of("1003"), now + 1);
    wait_until(Duration::from_secs(30), || pin_is(&second))
        .expect("the PIN received last wins, though the other door's clock ran a year ahead");
    let stamped = site.register().door_records(false).unwrap()[0].pin.clone().unwrap();
    assert!(stamped.updated_at <= unix_now(), "stamped with the site's clock");
    site.wait_converged(&doors, Duration::from_secs(30));
}

#[test]
fn a_door_id_used_again_after_removal_starts_afresh() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 1, 100);
    site.start_controller();
    let mut door = site.door("north", false);
    site.start_agent(&mut door);
    door.open().audit(Chain::Access, NOW, AuditKind::AccessGranted, "resident#1", "card").unwrap();
    assert_eq!(wait_kept(&site, &door.id, OutboxKind::Event, 1).len(), 1);
    drop(door);
    let mut site_db = site.site_db();
    site_db.remove_door(&"north".parse().unwrap(), unix_now()).unwrap();
    std::fs::remove_dir_all(site.dir.path().join("north")).unwrap();

    let mut door = site.door("north", false); // a new door under the same id: outbox from 1
    site.start_agent(&mut door);
    door.open().audit(Chain::Access, NOW, AuditKind::AccessDenied, "resident#1", "pin").unwrap();
    let kept = wait_kept(&site, &door.id, OutboxKind::Event, 1);
    assert_eq!(kept, ["access_denied resident#1 pin"], "its first message is not a duplicate");
}
