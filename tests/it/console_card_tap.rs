//! A card by a tap at a chosen door, from the console (issue 18), at the HTTP level: managers
//! and caretakers may ask, auditors may not, the CSRF token is checked, the request is audited
//! with the account's name; the waiting page reloads itself until the door's report came (here
//! applied as the site's consumer does) or the time ran out, in English and Chinese. The door's
//! side is in `site_card_tap`.

use axum::http::{StatusCode, header};

use crate::console_doors::{north, with_doors};
use crate::console_http::TestConsole;
use facegate::access::Checked;
use facegate::access::checks::check_card;
use facegate::credentials::CardUid;
use facegate::site::card_tap::TAP_WINDOW_SECS;
use facegate::site::commands::{self, CommandKind, CommandOutcome, CommandReport};

/// The door's report of the pending tap request, applied as the site's consumer does.
fn report(console: &TestConsole, id: &str, card: Option<&CardUid>) {
    let mut register = console.state.register();
    let card = card.map(|uid| hex::encode(register.card_index(uid).0));
    let outcome = if card.is_some() { CommandOutcome::CardRead } else { CommandOutcome::NoCard };
    let report = CommandReport { command: id.to_owned(), at: console.state.now(), outcome, card };
    let body = serde_json::to_string(&report).unwrap();
    commands::apply_report(&mut register, &console.state.site_db(), &north(), &body).unwrap();
}

fn holder(console: &TestConsole, uid: &CardUid) -> Option<i64> {
    match check_card(&console.state.register(), uid).unwrap() {
        Checked::Card(found) => found,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_caretaker_asks_a_door_for_a_residents_card_and_the_waiting_page_shows_it_added() {
    let console = with_doors();
    let mut qian = console.signed_in("qian").await;
    qian.get("/audit").await;
    let refused = qian.post("/residents/1201/cards/tap", &[("door", "north")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "an auditor may not");

    let mut zhao = console.signed_in("zhao").await;
    let page = zhao.get("/residents/1201").await;
    assert!(page.body.contains("action=\"/residents/1201/cards/tap\""), "a caretaker may");
    assert!(page.body.contains("<option value=\"south\">"), "the doors to choose from");
    let forged = zhao.post_raw("/residents/1201/cards/tap", &[("door", "north")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "without the CSRF token");
    let unknown = zhao.post("/residents/1201/cards/tap", &[("door", "east")]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "a door the site does not have");
    let nobody = zhao.post("/residents/9999/cards/tap", &[("door", "north")]).await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND, "a resident the register does not have");
    assert!(console.state.site_db().pending_commands().unwrap().is_empty(), "nothing queued");

    let asked = zhao.post("/residents/1201/cards/tap", &[("door", "north")]).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    let pending = console.state.site_db().pending_commands().unwrap();
    assert_eq!(pending.len(), 1);
    let command = &pending[0];
    assert_eq!((command.kind, command.resident.as_deref()), (CommandKind::EnrolCard, Some("1201")));
    assert_eq!(command.expires_at, console.state.now() + TAP_WINDOW_SECS);
    let waiting = asked.headers[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(waiting, format!("/residents/1201/cards/tap/{}", command.id));
    let audit = console.state.register().audit_entries(None).unwrap();
    let row = audit.iter().find(|e| e.kind == "card_tap_requested").expect("audited");
    assert!(row.detail.contains("door north") && row.detail.contains("by zhao"), "{row:?}");

    let page = zhao.get(&waiting).await;
    assert!(page.body.contains("Waiting for the card at door north"), "{}", page.body);
    assert!(page.body.contains("http-equiv=\"refresh\""), "it reloads itself");
    let other = zhao.get(&format!("/residents/1202/cards/tap/{}", command.id)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "only under its own resident");

    let uid: CardUid = "80231".parse().unwrap();
    report(&console, &command.id, Some(&uid));
    let page = zhao.get(&waiting).await;
    assert!(page.body.contains("was added"), "{}", page.body);
    assert!(!page.body.contains("http-equiv=\"refresh\""), "done: no more reloads");
    let resident = console.state.register().resident("1201").unwrap().id;
    assert_eq!(holder(&console, &uid), Some(resident), "the card opens for the resident");
    let audit = console.state.register().audit_entries(None).unwrap();
    let added: Vec<_> = audit.iter().filter(|e| e.kind == "card_added").collect();
    assert_eq!(added.len(), 1);
    assert!(added[0].detail.contains("by zhao (tap at north)"), "{:?}", added[0]);

    let body = serde_json::to_string(&CommandReport {
        command: command.id.clone(),
        at: console.state.now(),
        outcome: CommandOutcome::CardRead,
        card: Some(hex::encode(console.state.register().card_index(&"80232".parse().unwrap()).0)),
    })
    .unwrap();
    let mut register = console.state.register();
    commands::apply_report(&mut register, &console.state.site_db(), &north(), &body).unwrap();
    drop(register);
    assert_eq!(holder(&console, &"80232".parse().unwrap()), None, "a replayed report adds nothing");
}

#[tokio::test]
async fn the_waiting_page_says_when_the_time_ran_out_or_the_card_is_someone_elses_in_chinese() {
    let console = with_doors();
    let mut wang = console.signed_in("wang").await;
    wang.cookies.insert("fg_lang".into(), "zh".into());
    wang.get("/residents/1201").await;
    let asked = wang.post("/residents/1201/cards/tap", &[("door", "north")]).await;
    let waiting = asked.headers[header::LOCATION].to_str().unwrap().to_owned();
    let page = wang.get(&waiting).await;
    assert!(page.body.contains("正在等待门 north 的刷卡"), "{}", page.body);
    console.advance(TAP_WINDOW_SECS + 30);
    let page = wang.get(&waiting).await;
    assert!(
        page.body.contains("门 north 尚未回复"),
        "no report long after the window: {}",
        page.body
    );

    wang.get("/residents/1201").await;
    let asked = wang.post("/residents/1201/cards/tap", &[("door", "north")]).await;
    let waiting = asked.headers[header::LOCATION].to_str().unwrap().to_owned();
    let id = waiting.rsplit('/').next().unwrap().to_owned();
    let theirs: CardUid = "91002".parse().unwrap();
    let now = console.state.now();
    console.state.register().add_card("1201", &theirs, "", now, "setup").unwrap();
    report(&console, &id, Some(&theirs));
    let page = wang.get(&waiting).await;
    assert!(page.body.contains("所刷的卡已属于他人"), "{}", page.body);

    wang.get("/residents/1201").await;
    let asked = wang.post("/residents/1201/cards/tap", &[("door", "north")]).await;
    let waiting = asked.headers[header::LOCATION].to_str().unwrap().to_owned();
    report(&console, waiting.rsplit('/').next().unwrap(), None);
    let page = wang.get(&waiting).await;
    assert!(page.body.contains("时间已到"), "the door's report of no card: {}", page.body);
}
