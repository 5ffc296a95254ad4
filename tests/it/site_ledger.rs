//! Door events in the register's chained audit log, through the real path (a real nats-server,
//! the site controller, a door's sync agent): each event and alarm a door sends is one row of
//! the register's log, naming the door and holding what the door sent; a message redelivered
//! after the site crashed between its two commits, or after `site.db` pruned it, is not audited
//! twice.
//!
//! The stream is made here first with a one-second duplicate window (the controller takes the
//! stream it finds), so a message sent again a second later reaches the site as a door's
//! redelivery after days offline would.

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use facegate::site::door_log;
use facegate::site::outbox::OutboxKind;
use facegate::site::site_db::DoorMessage;
use facegate::site::{DoorId, message_id, subject};
use facegate::store::{AuditEntry, AuditKind, Chain, Store, unix_now};

use crate::site_rig::*;

/// The register's audit rows that name `door`.
fn audited(site: &Site, door: &str) -> Vec<AuditEntry> {
    let rows = site.register().audit_entries(None).unwrap();
    rows.into_iter().filter(|e| e.names_door(door)).collect()
}

/// Waits until the register holds `count` rows of `door`.
fn wait_audited(site: &Site, door: &str, count: usize) -> Vec<AuditEntry> {
    wait_until(Duration::from_secs(30), || audited(site, door).len() >= count)
        .unwrap_or_else(|| panic!("{:?}", audited(site, door)));
    audited(site, door)
}

/// The message `site.db` kept with this detail.
fn kept(site: &Site, door: &DoorId, detail: &str) -> Option<DoorMessage> {
    site.site_db().messages(Some(door)).unwrap().into_iter().find(|m| m.detail.contains(detail))
}

/// Sends a door event as the door's agent does: its subject, its message id.
fn send_as_door(site: &Site, door: &DoorId, outbox_id: i64, kind: OutboxKind, body: &str) {
    let js = site
        .rt
        .block_on(async { jetstream::new(async_nats::connect(site.server.url()).await.unwrap()) });
    let message = PublishMessage::build()
        .payload(body.to_owned().into())
        .message_id(message_id(door, outbox_id));
    let subject = subject(&site.site, door, kind);
    site.rt.block_on(async { js.send_publish(subject, message).await.unwrap().await.unwrap() });
}

#[test]
fn each_door_event_is_one_row_of_the_registers_chained_log_also_when_sent_again() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 1, 1);
    site.rt.block_on(async {
        let js = jetstream::new(async_nats::connect(site.server.url()).await.unwrap());
        let config = stream::Config {
            name: facegate::site::broker::stream(&site.site),
            subjects: vec![format!("site.{}.door.*.*", site.site)],
            retention: stream::RetentionPolicy::WorkQueue,
            duplicate_window: Duration::from_secs(1),
            ..stream::Config::default()
        };
        js.create_stream(config).await.unwrap();
    });
    site.start_controller();
    let mut north = site.door("north", false);
    site.start_agent(&mut north);
    site.wait_converged(std::slice::from_ref(&north), Duration::from_secs(30));

    let mut door = north.open();
    let now = unix_now();
    door.audit(Chain::Access, now, AuditKind::AccessGranted, "resident#1", "card").unwrap();
    door.audit(Chain::Access, now, AuditKind::AccessDenied, "terminal", "pin").unwrap();
    door.audit(Chain::Admin, now, AuditKind::DoorHeldOpen, "door", "held 45 s").unwrap();
    let rows = wait_audited(&site, "north", 3);
    let row = |kind: &str| rows.iter().find(|e| e.kind == kind).unwrap().clone();
    let granted = row("access_granted");
    assert_eq!((granted.chain.as_str(), granted.subject.as_str()), ("access", "resident#1"));
    assert_eq!(granted.detail, "door north: card", "what the door sent, after its id");
    assert_eq!(row("access_denied").detail, "door north: pin");
    assert_eq!(row("door_heldopen").chain, "admin", "an alarm is kept with the admin chain");
    assert!(site.register().verify_audit().unwrap().intact(), "`verify` covers them");

    // The site crashed after the register's commit, before site.db's: site.db lost the message,
    // the door (or the broker) sends it again.
    let first = wait_until(Duration::from_secs(30), || kept(&site, &north.id, "card").is_some())
        .and_then(|_| kept(&site, &north.id, "card"))
        .unwrap();
    let body = r#"{"at":AT,"kind":"access_granted","subject":"resident#1","detail":"card"}"#
        .replace("AT", &now.to_string());
    let lose = rusqlite::Connection::open(site.site_dir().site_db_path()).unwrap();
    lose.execute(
        "DELETE FROM door_messages WHERE door = 'north' AND outbox_id = ?1",
        [first.outbox_id],
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    send_as_door(&site, &north.id, first.outbox_id, OutboxKind::Event, &body);
    wait_until(Duration::from_secs(30), || kept(&site, &north.id, "card").is_some())
        .expect("the site takes the message in again");
    assert_eq!(audited(&site, "north").len(), 3, "but audits it once");

    // site.db prunes its messages; the oldest comes again after the prune.
    let mut register = Store::open(&site.site_dir().register()).unwrap();
    let pruned = door_log::prune(&mut register, &mut site.site_db(), unix_now() + 1).unwrap();
    assert_eq!(pruned, 3);
    assert!(site.site_db().messages(Some(&north.id)).unwrap().is_empty());
    assert!(register.door_receipts().unwrap().is_empty(), "the receipts went with them");
    std::thread::sleep(Duration::from_millis(1_500));
    send_as_door(&site, &north.id, first.outbox_id, OutboxKind::Event, &body);
    door.audit(Chain::Access, now + 1, AuditKind::AccessGranted, "resident#1", "face").unwrap();
    let rows = wait_audited(&site, "north", 4);
    std::thread::sleep(Duration::from_millis(500));
    let rows_after = audited(&site, "north");
    assert_eq!(rows_after, rows, "the newer event arrived, the old one not again");
    let cards = rows_after.iter().filter(|e| e.detail == "door north: card").count();
    assert_eq!(cards, 1, "{rows_after:?}");
    assert!(kept(&site, &north.id, "card").is_none(), "site.db does not keep it again");
    assert!(site.register().verify_audit().unwrap().intact());
}

#[test]
fn site_run_drops_door_messages_past_door_message_days_and_still_knows_them() {
    let mut site = Site::new();
    let settings = site.site_dir().settings_path();
    let text = std::fs::read_to_string(&settings).unwrap();
    let text = text.replace("door_message_days = 90", "door_message_days = 1");
    std::fs::write(&settings, text).unwrap();
    let north: DoorId = "north".parse().unwrap();
    site.site_db().add_door(&north, UNUSED_HASH, NOW).unwrap();
    let now = unix_now();
    for (outbox_id, received) in [(1, now - 3 * 86_400), (2, now - 3_600)] {
        let message = DoorMessage {
            door: north.clone(),
            outbox_id,
            kind: OutboxKind::Event,
            at: received,
            detail: "access_granted resident#1 card".into(),
        };
        site.site_db().keep_message(&message, received).unwrap();
    }
    site.start_controller();
    let kept = || site.site_db().messages(Some(&north)).unwrap();
    wait_until(Duration::from_secs(30), || kept().len() == 1).expect("the old message goes");
    assert_eq!(kept()[0].outbox_id, 2, "the one of an hour ago stays");
    assert!(site.site_db().has_message(&north, 1).unwrap(), "the old one still counts as kept");
}
