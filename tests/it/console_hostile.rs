//! Hostile input to the console at the HTTP level (the security review): redirects only to
//! this site's paths, numbers that would overflow answered with an error rather than a panic,
//! spreadsheet formulas in the residents and audit exports defused, the auditor unable to link keypad
//! numbers to the log's pseudonyms, and a stranger's large body left unread.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};

use crate::console_http::TestConsole;
use facegate::console::accounts::MAX_PASSWORD_CHARS;
use facegate::console::guard::MAX_SIGN_IN_BODY;
use facegate::console::roles::Role;

/// The pieces a counted body arrives in.
const CHUNK: usize = 64 << 10;

/// A form body of `size` bytes that counts how many of them the server has read.
fn counted_body(size: usize) -> (Body, Arc<AtomicUsize>) {
    let read = Arc::new(AtomicUsize::new(0));
    let counter = read.clone();
    let chunks = futures_util::stream::iter((0..size / CHUNK).map(move |_| {
        counter.fetch_add(CHUNK, Ordering::SeqCst);
        Ok::<_, std::io::Error>(Bytes::from(vec![b'a'; CHUNK]))
    }));
    (Body::from_stream(chunks), read)
}

fn form_post(path: &str, body: Body) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .unwrap()
}

#[tokio::test]
async fn a_stranger_s_large_post_is_not_read_and_the_sign_in_form_is_read_only_to_its_size() {
    let console = TestConsole::new();
    let mut browser = console.browser();
    let (body, read) = counted_body(8 << 20);
    let answer = browser.send(form_post("/import", body)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "sent to the sign-in page");
    assert_eq!(answer.headers[header::LOCATION], "/login");
    assert_eq!(read.load(Ordering::SeqCst), 0, "no byte of a session-less body is read");

    let (body, read) = counted_body(1 << 20);
    let answer = browser.send(form_post("/login", body)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    let read = read.load(Ordering::SeqCst);
    assert!(read <= MAX_SIGN_IN_BODY + CHUNK, "read {read} bytes of a 1 MiB sign-in form");
    assert_eq!(console.signed_in("wang").await.get("/residents").await.status, StatusCode::OK);

    // The longest password the console accepts, in 4-byte characters, still fits the form.
    let longest = "😀".repeat(MAX_PASSWORD_CHARS);
    console.state.accounts().add_account("sun", Role::Caretaker, &longest, 0).unwrap();
    assert_eq!(console.browser().sign_in("sun", &longest).await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_language_switch_goes_back_only_to_a_path_of_this_site() {
    let console = TestConsole::new();
    let mut browser = console.browser();
    let hostile = [
        "/%09/evil.example",
        "/%0a/evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "/residents/%0d%0aSet-Cookie:x",
    ];
    for back in hostile {
        let answer = browser.get(&format!("/lang/en?back={back}")).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{back}");
        assert_eq!(answer.headers[header::LOCATION], "/", "{back}");
    }
    let answer = browser.get("/lang/zh?back=%2Fresidents%3Fq%3D12%26page%3D1").await;
    assert_eq!(answer.headers[header::LOCATION], "/residents?q=12&page=1");
}

#[tokio::test]
async fn numbers_that_would_overflow_get_an_error_page_not_a_panic() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    let huge = usize::MAX.to_string();
    let answer = wang.get(&format!("/residents?page={huge}")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    let answer = wang.get(&format!("/residents?page={}", usize::MAX / 50)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    for date in ["300000000000-01-01", "-9223372036854775807-01-01", "0-01-01"] {
        let answer = wang.get(&format!("/audit?from={date}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{date}: {}", answer.body);
        let answer = wang.get(&format!("/audit/export.csv?to={date}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{date}");
    }
    assert_eq!(wang.get("/audit?from=2026-01-01").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_residents_export_defuses_spreadsheet_formulas() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    wang.get("/residents/new").await;
    let name = "=HYPERLINK(\"http://evil.example\",\"x\")";
    wang.post("/residents", &[("number", "1302"), ("name", name), ("unit", "@SUM(A1)")]).await;
    wang.get("/residents/new").await;
    wang.post("/residents", &[("number", "1303"), ("name", "-2+3"), ("unit", "+1")]).await;
    let csv = wang.get("/export/residents.csv").await.body;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<Vec<String>> =
        reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    let row = |number: &str| rows.iter().find(|r| r[0] == number).unwrap().clone();
    assert_eq!(row("1302")[1], format!("'{name}"));
    assert_eq!(row("1302")[2], "'@SUM(A1)");
    assert_eq!((row("1303")[1].as_str(), row("1303")[2].as_str()), ("'-2+3", "'+1"));
    assert_eq!(row("1201")[1], "Li Wei", "plain cells stay as they are");
    let cells = rows.iter().flatten();
    assert!(cells.clone().all(|c| !c.starts_with(['=', '+', '-', '@', '\t', '\r'])), "{csv}");
}

#[tokio::test]
async fn the_audit_export_defuses_a_formula_a_door_put_in_its_subject() {
    use facegate::store::{AuditKind, Chain};
    let console = TestConsole::new();
    let formula = "=HYPERLINK(\"http://evil.example\",\"x\")";
    let now = console.clock.load(std::sync::atomic::Ordering::SeqCst);
    {
        let mut register = console.state.register();
        register.audit(Chain::Access, now, AuditKind::AccessDenied, formula, "@SUM(A1)").unwrap();
    }
    let mut qian = console.signed_in("qian").await;
    let csv = qian.get("/audit/export.csv").await.body;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<Vec<String>> =
        reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    let row = rows.iter().find(|r| r[5].contains("HYPERLINK")).expect("the door's row");
    assert_eq!((row[5].as_str(), row[6].as_str()), (format!("'{formula}").as_str(), "'@SUM(A1)"));
    let cells = rows.iter().flatten();
    assert!(cells.clone().all(|c| !c.starts_with(['=', '+', '-', '@', '\t', '\r'])), "{csv}");
}

#[tokio::test]
async fn the_auditor_cannot_filter_the_log_by_keypad_number() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    wang.get("/export/residents.csv").await; // a row about something else than resident 1201
    let all = wang.get("/audit/export.csv").await.body.lines().count();
    let filtered = wang.get("/audit/export.csv?resident=1201").await.body.lines().count();
    assert!(filtered < all, "a manager's filter by number works ({filtered} of {all})");
    assert!(wang.get("/audit").await.body.contains("name=\"resident\""));
    let mut qian = console.signed_in("qian").await;
    let page = qian.get("/audit").await.body;
    assert!(!page.contains("name=\"resident\""), "no number field for the auditor");
    let all = qian.get("/audit/export.csv").await.body.lines().count();
    let answer = qian.get("/audit/export.csv?resident=1201").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.lines().count(), all, "the number is not used to pick rows");
}
