//! The console's pages on the door flows (issue 18): visitor passes and courier codes,
//! PIN-reset codes and enrolment bookings, each shown once or listed, each audited with the
//! account's name.

use axum::http::StatusCode;

use super::console_http::TestConsole;
use facegate::access::checks::{PassCheck, use_visitor_code};
use facegate::credentials::{Code, PinConfig};
use facegate::manage;
use facegate::store::PassRefusal;

/// The code in the `p.code` block of a page.
fn shown_code(page: &str) -> String {
    const MARK: &str = "<p class=\"code\"><strong>";
    let at = page.find(MARK).expect("a code on the page") + MARK.len();
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

/// Types `code` at door `door` of the console's register, as a door that has synced it does.
fn at_door(console: &TestConsole, code: &str, door: &str) -> PassCheck {
    let code = Code::parse(code).unwrap();
    let door = door.parse().unwrap();
    let now = console.state.now();
    let mut register = console.state.register();
    use_visitor_code(&mut register, &PinConfig::default(), &code, Some(&door), now).unwrap()
}

#[tokio::test]
async fn a_courier_code_names_its_company_opens_its_doors_for_its_entries_and_hours_and_is_revocable()
 {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    wang.get("/visitors").await;
    let fields = [
        ("label", "parcels"),
        ("company", "SF Express"),
        ("hours", "8"),
        ("entries", "3"),
        ("doors", "north-gate, east-gate"),
    ];
    let issued = wang.post("/visitors", &fields).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    assert!(issued.body.contains("<svg") && issued.body.contains("class=\"qr\""), "a QR code");
    let code = shown_code(&issued.body);
    let listed = wang.get("/visitors").await.body;
    assert!(listed.contains("Courier code of SF Express"), "{listed}");
    assert!(listed.contains("north-gate, east-gate") && listed.contains("3 / 3"), "{listed}");
    let audit = console.state.register().audit_entries(None).unwrap();
    let created = audit.iter().find(|e| e.kind == "visitor_pass_created").unwrap();
    assert!(created.detail.contains("courier SF Express") && created.detail.contains("by wang"));

    for door in ["north-gate", "east-gate", "north-gate"] {
        assert!(matches!(at_door(&console, &code, door), PassCheck::Opened { .. }), "{door}");
    }
    assert_eq!(at_door(&console, &code, "east-gate"), PassCheck::Refused(PassRefusal::UsedUp));
    assert_eq!(
        at_door(&console, &code, "west-gate"),
        PassCheck::Refused(PassRefusal::OtherDoor),
        "only at its doors"
    );

    wang.get("/visitors").await;
    let again = wang.post("/visitors", &fields).await;
    let second = shown_code(&again.body);
    console.advance(8 * 3_600 + 1);
    assert_eq!(
        at_door(&console, &second, "north-gate"),
        PassCheck::Refused(PassRefusal::Expired),
        "only for its hours"
    );
    let mut wang = console.signed_in("wang").await;
    wang.get("/visitors").await;
    let third = shown_code(&wang.post("/visitors", &fields).await.body);
    let id = manage::visitor_passes(&console.state.register(), console.state.now())
        .unwrap()
        .into_iter()
        .filter(|p| p.revoked_at.is_none() && p.valid_until > console.state.now())
        .map(|p| p.id)
        .max()
        .unwrap();
    assert_eq!(
        wang.post(&format!("/visitors/{id}/revoke"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(at_door(&console, &third, "north-gate"), PassCheck::Refused(PassRefusal::Revoked));
}
