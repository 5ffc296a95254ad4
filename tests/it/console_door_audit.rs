//! The console's audit page over the doors' events (issue 18: "all doors, filter by time,
//! door, resident, kind"): rows the site's consumer adds for what doors sent are filtered by
//! the whole door id, by kind, and verify with the rest of the log.

use axum::http::StatusCode;

use crate::console_http::TestConsole;
use facegate::site::DoorId;
use facegate::site::door_log;
use facegate::site::outbox::{DoorEvent, OutboxKind};
use facegate::site::site_db::DoorMessage;

const AT: i64 = 1_780_000_100;

/// Adds a door's event as the site's consumer does.
fn from_door(console: &TestConsole, door: &str, outbox_id: i64, kind: OutboxKind, event: &str) {
    let (kind_text, subject, detail) = match event {
        "card" => ("access_granted", "resident#1", "card"),
        "pin" => ("access_denied", "terminal", "pin"),
        _ => ("door_heldopen", "door", "held 45 s"),
    };
    let event = DoorEvent {
        at: AT,
        kind: kind_text.into(),
        subject: subject.into(),
        detail: detail.into(),
    };
    let body = serde_json::to_string(&event).unwrap();
    let door: DoorId = door.parse().unwrap();
    let message = DoorMessage { door, outbox_id, kind, at: AT, detail: String::new() };
    let site_db = console.state.site_db();
    door_log::audit(&mut console.state.register(), &site_db, &message, &body).unwrap();
}

#[tokio::test]
async fn the_audit_page_shows_every_doors_events_filtered_by_the_whole_door_id_and_kind() {
    let console = TestConsole::new();
    from_door(&console, "north", 1, OutboxKind::Event, "card");
    from_door(&console, "north", 2, OutboxKind::Event, "pin");
    from_door(&console, "north", 3, OutboxKind::Alarm, "held");
    from_door(&console, "north-2", 1, OutboxKind::Event, "card");
    from_door(&console, "north", 1, OutboxKind::Event, "card");

    let mut qian = console.signed_in("qian").await;
    let all = qian.get("/audit").await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all.body.contains("door north: card") && all.body.contains("door north-2: card"));
    let north = qian.get("/audit?door=north").await.body;
    assert_eq!(north.matches("door north: ").count(), 3, "{north}");
    assert!(!north.contains("door north-2"), "north-2 is another door");
    let alarms = qian.get("/audit?door=north&kind=door_heldopen").await.body;
    assert!(alarms.contains("door north: held 45 s") && !alarms.contains("door north: card"));
    let verified = qian.get("/audit/verify").await.body;
    assert!(verified.contains("The audit log is intact"), "{verified}");
}
