//! The console's doors page and its remote unlock (issue 18) at the HTTP level: managers only,
//! a reason required, the CSRF token checked, audited with the account's name and the reason.
//! What the door does with the command is in `site_remote_unlock`.

use axum::http::StatusCode;

use crate::console_http::TestConsole;
use facegate::site::DoorId;
use facegate::site::outbox::{DoorAlarms, DoorState, Selftest};

pub(crate) fn north() -> DoorId {
    "north".parse().unwrap()
}

/// A console whose site has the doors `north` and `south`.
pub(crate) fn with_doors() -> TestConsole {
    let console = TestConsole::new();
    let site_db = console.state.site_db();
    site_db.add_door(&north(), "$2b$unused", 1).unwrap();
    site_db.add_door(&"south".parse().unwrap(), "$2b$unused", 1).unwrap();
    drop(site_db);
    console
}

fn queued(console: &TestConsole) -> usize {
    console.state.site_db().pending_commands().unwrap().len()
}

#[tokio::test]
async fn only_a_manager_unlocks_a_door_with_a_reason_and_the_audit_names_both() {
    let console = with_doors();
    let mut zhao = console.signed_in("zhao").await;
    let page = zhao.get("/doors").await;
    assert_eq!(page.status, StatusCode::OK, "a caretaker sees the doors");
    assert!(page.body.contains("north") && page.body.contains("offline"));
    assert!(!page.body.contains("/doors/north/unlock"), "but no unlock button");
    let refused = zhao.post("/doors/north/unlock", &[("reason", "plumber")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "nor may a caretaker post one");

    let mut qian = console.signed_in("qian").await;
    assert_eq!(qian.get("/doors").await.status, StatusCode::FORBIDDEN, "an auditor");
    qian.get("/audit").await;
    let refused = qian.post("/doors/north/unlock", &[("reason", "plumber")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(queued(&console), 0);

    let mut wang = console.signed_in("wang").await;
    let page = wang.get("/doors").await;
    assert!(page.body.contains("action=\"/doors/north/unlock\""));
    for reason in ["", "   "] {
        let answer = wang.post("/doors/north/unlock", &[("reason", reason)]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{reason:?}");
        assert!(answer.body.contains("needs a reason"));
    }
    assert_eq!(wang.post("/doors/north/unlock", &[]).await.status, StatusCode::BAD_REQUEST);
    let forged = wang.post_raw("/doors/north/unlock", &[("reason", "plumber")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "without the CSRF token");
    let unknown = wang.post("/doors/east/unlock", &[("reason", "plumber")]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(queued(&console), 0, "nothing refused is queued");
    let audit = console.state.register().audit_entries(None).unwrap();
    assert!(!audit.iter().any(|e| e.kind == "remote_unlock_requested"));

    let answer = wang.post("/doors/north/unlock", &[("reason", "plumber for 1203")]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let pending = console.state.site_db().pending_commands().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].door, north());
    let audit = console.state.register().audit_entries(None).unwrap();
    let asked: Vec<_> = audit.iter().filter(|e| e.kind == "remote_unlock_requested").collect();
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].detail.contains("door north")
            && asked[0].detail.contains("by wang: plumber for 1203")
    );
    let page = wang.get("/doors?note=unlock_sent").await;
    assert!(page.body.contains("waiting for the site controller"), "the command is listed");
}

#[tokio::test]
async fn the_doors_page_shows_what_each_door_reports_now() {
    let console = with_doors();
    let state = DoorState {
        at: 1_780_000_000,
        replica_revision: 7,
        outbox_depth: 3,
        last_contact: Some(1_780_000_000),
        alarms: DoorAlarms { forced_open: true, ..DoorAlarms::default() },
        selftest: Some(Selftest { at: 1_779_990_000, ok: false }),
        resyncing: false,
        keypad_locked_until: Some(1_780_000_300),
    };
    console.state.site_db().door_seen(&north(), &state, 1_780_000_000).unwrap();
    let mut zhao = console.signed_in("zhao").await;
    let page = zhao.get("/doors").await.body;
    let north_part =
        &page[page.find("id=\"door-north\"").unwrap()..page.find("id=\"door-south\"").unwrap()];
    let keypad = "<strong class=\"error\">until ";
    for shown in ["online", "forced open", "some parts failed", "<dd>3</dd>", keypad] {
        assert!(north_part.contains(shown), "{shown} in {north_part}");
    }
    let south_part = &page[page.find("id=\"door-south\"").unwrap()..];
    assert!(south_part.contains("offline") && !south_part.contains("forced open"));
    assert!(!south_part.contains(keypad), "no keypad lock reported");
}
