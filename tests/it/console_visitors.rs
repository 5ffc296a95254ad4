//! The console's pages on the door flows (issue 18): visitor passes, PIN-reset codes and
//! enrolment bookings, each shown once or listed, each audited with the account's name.

use axum::http::StatusCode;

use super::console_http::TestConsole;
use facegate::manage;

/// The code in the `p.code` block of a page.
fn shown_code(page: &str) -> String {
    let at = page.find("<p class=\"code\"><strong>").expect("a code on the page") + 25;
    page[at..at + page[at..].find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn a_manager_issues_a_visitor_pass_sees_its_code_once_and_revokes_it_a_caretaker_cannot() {
    let console = TestConsole::new();
    let mut zhao = console.signed_in("zhao").await;
    assert_eq!(zhao.get("/visitors").await.status, StatusCode::FORBIDDEN);
    let mut wang = console.signed_in("wang").await;
    assert!(wang.get("/visitors").await.body.contains("No open pass."));
    let fields = [
        ("label", "Plumber"),
        ("company", ""),
        ("hours", "4"),
        ("entries", "1"),
        ("doors", "north-gate"),
    ];
    let issued = wang.post("/visitors", &fields).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    let code = shown_code(&issued.body);
    assert!((6..=8).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    let passes = manage::visitor_passes(&console.state.register(), console.state.now()).unwrap();
    assert_eq!(passes.len(), 1);
    assert_eq!((passes[0].label.as_str(), passes[0].entries_left), ("Plumber", 1));
    let listed = wang.get("/visitors").await.body;
    assert!(
        listed.contains("Plumber") && listed.contains("north-gate") && !listed.contains(&code),
        "the code is shown once"
    );
    let bad = wang
        .post(
            "/visitors",
            &[("label", "x"), ("hours", "4"), ("entries", "1"), ("doors", "North Gate!")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let id = passes[0].id;
    assert_eq!(
        wang.post(&format!("/visitors/{id}/revoke"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(wang.get("/visitors").await.body.contains("revoked"));
    let kinds: Vec<String> = console
        .state
        .register()
        .audit_entries(None)
        .unwrap()
        .into_iter()
        .filter(|e| e.detail.contains("wang"))
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["visitor_pass_created", "visitor_pass_revoked"]);
}

#[tokio::test]
async fn a_pin_reset_code_is_shown_once_and_a_booked_enrolment_is_listed() {
    let console = TestConsole::new();
    let mut zhao = console.signed_in("zhao").await;
    zhao.get("/residents/1201").await;
    assert!(!zhao.last_page.contains("PIN-reset"), "a caretaker does not reset PINs");
    assert_eq!(zhao.post("/residents/1201/pin/reset", &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        zhao.post("/residents/1201/enrolment", &[("door", ""), ("minutes", "30")]).await.status,
        StatusCode::FORBIDDEN
    );

    let mut wang = console.signed_in("wang").await;
    wang.get("/residents/1201").await;
    let reset = wang.post("/residents/1201/pin/reset", &[]).await;
    assert_eq!(reset.status, StatusCode::OK);
    let code = shown_code(&reset.body);
    assert!(code.bytes().all(|b| b.is_ascii_digit()) && code.len() >= 6, "{code}");
    assert!(!wang.get("/residents/1201").await.body.contains(&code), "shown once");

    let booked =
        wang.post("/residents/1201/enrolment", &[("door", "north-gate"), ("minutes", "30")]).await;
    assert_eq!(booked.status, StatusCode::SEE_OTHER);
    let page = wang.get("/residents/1201?note=booked").await.body;
    assert!(page.contains("Booked at north-gate until"), "{page}");
    let bookings = manage::bookings(&console.state.register(), console.state.now()).unwrap();
    assert_eq!(bookings.len(), 1);
    assert_eq!(bookings[0].until, console.state.now() + 30 * 60);
    let bad = wang.post("/residents/1201/enrolment", &[("door", ""), ("minutes", "0")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
