//! A resident's lockouts at the doors on the console (issue 18), at the HTTP level: the page
//! lists each door's (applied here as the site's consumer does), in English and Chinese; one
//! button sends a lift to every door where the resident is locked out, each audited with the
//! account's name; a door with no lockout gets none. The door's side is in `site_lockouts`.

use axum::http::StatusCode;

use crate::console_doors::{north, with_doors};
use crate::console_http::TestConsole;
use facegate::site::DoorId;
use facegate::site::commands::CommandKind;
use facegate::site::lockouts::{self, LIFT_VALID_SECS};
use facegate::site::outbox::DoorLockout;

/// A door's report of resident 1201's lockout, applied as the site's consumer does.
fn locked(console: &TestConsole, door: &DoorId, locked_until: Option<i64>) {
    let resident = console.state.register().resident("1201").unwrap().id;
    let at = console.state.now();
    let report = DoorLockout { resident, failures: 5, locked_until, at };
    let body = serde_json::to_string(&report).unwrap();
    lockouts::apply(&console.state.site_db(), door, &body).unwrap();
}

#[tokio::test]
async fn one_button_lifts_a_residents_lockout_at_every_door_where_it_is_locked_out() {
    let console = with_doors();
    let south: DoorId = "south".parse().unwrap();
    let mut wang = console.signed_in("wang").await;
    wang.get("/residents/1201").await;
    let none = wang.post("/residents/1201/lockout/doors", &[]).await;
    assert_eq!(none.status, StatusCode::SEE_OTHER);
    let page = wang.get("/residents/1201?note=no_door_lockout").await.body;
    assert!(page.contains("No door has a lockout of this resident now."), "{page}");
    assert!(console.state.site_db().pending_commands().unwrap().is_empty(), "nothing sent");

    let until = console.state.now() + 30;
    locked(&console, &north(), Some(until));
    locked(&console, &south, Some(until));
    let page = wang.get("/residents/1201").await.body;
    assert!(page.contains("<td>north</td>") && page.contains("<td>south</td>"), "{page}");
    assert!(page.contains("<td>5</td>"), "the wrong PINs counted");
    let unknown = wang.post("/residents/1201/lockout/doors", &[("door", "east")]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "a door the site does not have");
    let lifted = wang.post("/residents/1201/lockout/doors", &[]).await;
    assert_eq!(lifted.status, StatusCode::SEE_OTHER);
    let pending = console.state.site_db().pending_commands().unwrap();
    let mut doors: Vec<&str> = pending.iter().map(|c| c.door.as_str()).collect();
    doors.sort();
    assert_eq!(doors, ["north", "south"], "one command per door");
    for command in &pending {
        assert_eq!(command.kind, CommandKind::LiftLockout);
        assert_eq!(command.resident.as_deref(), Some("1201"));
        assert_eq!(command.expires_at, console.state.now() + LIFT_VALID_SECS);
    }
    let audit = console.state.register().audit_entries(None).unwrap();
    let asked: Vec<_> = audit.iter().filter(|e| e.kind == "lockout_lift_requested").collect();
    assert_eq!(asked.len(), 2);
    assert!(asked.iter().all(|e| e.detail.contains("by wang")), "{asked:?}");

    locked(&console, &north(), None);
    console.advance(31);
    let page = wang.get("/residents/1201").await.body;
    assert!(page.contains("Not locked out at any door."), "ended at north, run out at south");
}

#[tokio::test]
async fn a_chinese_reader_sees_the_doors_lockouts_in_chinese() {
    let console = with_doors();
    locked(&console, &north(), Some(console.state.now() + 30));
    let mut zhao = console.signed_in("zhao").await;
    zhao.cookies.insert("fg_lang".into(), "zh".into());
    let page = zhao.get("/residents/1201").await.body;
    for shown in ["PIN 锁定", "在 north 解除", "在所有门口解除", "登记册自身的锁定"]
    {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    assert!(!page.contains("Lift at"), "no English button");
}
