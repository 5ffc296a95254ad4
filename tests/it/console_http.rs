//! The console's security rules at the HTTP level (issue 18): the router is called directly
//! with a moved clock; each test signs in like a browser (cookies, the forms' CSRF fields).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use crate::common;
use facegate::config::Config;
use facegate::console::accounts::{ConsoleDb, FREE_FAILURES, MAX_WAIT_SECONDS, wait_after};
use facegate::console::guard::Peer;
use facegate::console::roles::Role;
use facegate::console::sessions::IDLE_TIMEOUT_SECONDS;
use facegate::console::{AppState, Console, router};
use facegate::manage;
use facegate::site::site_db::SiteDb;
use facegate::store::{ConsentGrant, NewResident, Store};
use facegate::vision::FakeEngine;

pub const PASSWORD: &str = "a long enough password";
const START: i64 = 1_780_000_000;

/// A console on a fresh register with a manager `wang`, a caretaker `zhao` and an auditor
/// `qian`, and resident 1201 with a face template and a card.
pub struct TestConsole {
    pub app: Router,
    pub state: AppState,
    pub clock: Arc<AtomicI64>,
    _dir: tempfile::TempDir,
}

impl TestConsole {
    pub fn new() -> Self {
        Self::with_accounts(ConsoleDb::in_memory().unwrap())
    }

    /// The same console whose accounts are in `accounts` (e.g. a file with the production
    /// argon2 parameters, whose checks take long enough for requests to overlap).
    pub fn with_accounts(accounts: ConsoleDb) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::init(&common::store_in(dir.path())).unwrap();
        let new = NewResident {
            number: "1201".into(),
            name: "Li Wei".into(),
            unit: "3-1201".into(),
            ..Default::default()
        };
        manage::add_resident(&mut store, &new, START, "setup").unwrap();
        let consent = ConsentGrant {
            text_version: "1".into(),
            text_sha256: "ab".repeat(32),
            operator: "setup".into(),
            guardian: None,
        };
        let face = FakeEngine::embedding(1);
        manage::enrol_face(&mut store, "1201", &face, Some(&consent), 14, None, START).unwrap();
        for (name, role) in
            [("wang", Role::Manager), ("zhao", Role::Caretaker), ("qian", Role::Auditor)]
        {
            accounts.add_account(name, role, PASSWORD, START).unwrap();
        }
        let clock = Arc::new(AtomicI64::new(START));
        let time = clock.clone();
        let site_db = SiteDb::create(&dir.path().join("site.db")).unwrap();
        let state = Console::new(
            store,
            accounts,
            site_db,
            Config::default(),
            Arc::new(move || time.load(Ordering::SeqCst)),
        );
        Self { app: router(state.clone()), state, clock, _dir: dir }
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    /// A browser without cookies, at the office's address.
    pub fn browser(&self) -> Browser {
        Browser::new(self.app.clone())
    }

    /// A browser signed in as `name`.
    pub async fn signed_in(&self, name: &str) -> Browser {
        let mut browser = self.browser();
        let status = browser.sign_in(name, PASSWORD).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{name} signs in");
        browser
    }
}

/// A cookie jar and the last page, in front of the router.
pub struct Browser {
    app: Router,
    pub cookies: HashMap<String, String>,
    pub last_page: String,
    /// Where its requests come from (the login back-off counts per address).
    pub address: SocketAddr,
}

/// An answer: status, headers, body text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Browser {
    /// A browser without cookies in front of `app`, at the office's address.
    pub fn new(app: Router) -> Browser {
        let address = SocketAddr::from(([198, 51, 100, 1], 40_000));
        Browser { app, cookies: HashMap::new(), last_page: String::new(), address }
    }

    pub async fn send(&mut self, mut request: Request<Body>) -> Answer {
        request.extensions_mut().insert(ConnectInfo(Peer(self.address)));
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for cookie in headers.get_all(header::SET_COOKIE) {
            let text = cookie.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        if status == StatusCode::OK {
            self.last_page = body.clone();
        }
        Answer { status, headers, body }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let request = Request::get(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::ACCEPT_LANGUAGE, "en")
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    /// Posts a URL-encoded form as is (no CSRF field added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let request = Request::post(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT_LANGUAGE, "en")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// The CSRF field of the last page.
    pub fn csrf(&self) -> String {
        let at = self.last_page.find("name=\"csrf\" value=\"").expect("a form with a CSRF field");
        let rest = &self.last_page[at + 19..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    /// Posts a form with the last page's CSRF field, like a browser submitting it.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let csrf = self.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Signs in from the sign-in page; returns the answer's status.
    pub async fn sign_in(&mut self, name: &str, password: &str) -> StatusCode {
        assert_eq!(self.get("/login").await.status, StatusCode::OK);
        self.post("/login", &[("name", name), ("password", password)]).await.status
    }
}

fn kinds_by(state: &AppState, operator: &str) -> Vec<String> {
    let entries = state.register().audit_entries(None).unwrap();
    entries
        .into_iter()
        .filter(|e| e.detail.contains(&format!("by {operator}")))
        .map(|e| e.kind)
        .collect()
}

#[tokio::test]
async fn a_change_without_the_sessions_csrf_token_is_refused_and_writes_nothing() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    wang.get("/residents/new").await;
    let fields = [("number", "1301"), ("name", "Zhang San"), ("unit", "3-1301")];
    let missing = wang.post_raw("/residents", &fields).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let mut wrong = vec![("csrf", "00".repeat(32))];
    wrong.extend(fields.iter().map(|&(k, v)| (k, v.to_owned())));
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(wang.post_raw("/residents", &wrong).await.status, StatusCode::FORBIDDEN);
    assert!(console.state.register().find_resident("1301").unwrap().is_none());

    let mut other = console.signed_in("zhao").await;
    other.get("/residents/1201").await;
    let foreign = other.csrf();
    let mut borrowed = vec![("csrf", foreign.as_str())];
    borrowed.extend_from_slice(&fields);
    assert_eq!(
        wang.post_raw("/residents", &borrowed).await.status,
        StatusCode::FORBIDDEN,
        "another session's token"
    );
    assert!(console.state.register().find_resident("1301").unwrap().is_none());

    assert_eq!(wang.post("/residents", &fields).await.status, StatusCode::SEE_OTHER);
    assert_eq!(console.state.register().resident("1301").unwrap().name, "Zhang San");
    assert_eq!(
        kinds_by(&console.state, "wang"),
        ["resident_added"],
        "audited with the account's name"
    );
}

#[tokio::test]
async fn the_sign_in_form_needs_its_own_token_and_cookies_are_secure_httponly_strict() {
    let console = TestConsole::new();
    let mut browser = console.browser();
    let form = browser.get("/login").await;
    let cookie = form.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(
        cookie.contains("Secure")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let forged = browser
        .post_raw("/login", &[("csrf", &"11".repeat(32)), ("name", "wang"), ("password", PASSWORD)])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a cross-site sign-in is refused");
    let token = browser.csrf();
    let answer = browser
        .post_raw("/login", &[("csrf", &token), ("name", "wang"), ("password", PASSWORD)])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let session = answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("fg_session="))
        .unwrap();
    assert!(session.contains("; Secure; HttpOnly; SameSite=Strict"), "{session}");
    let page = browser.get("/residents").await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
}

#[tokio::test]
async fn a_caretaker_sees_no_face_data_and_cannot_export_the_register_an_auditor_only_reads_audit()
{
    let console = TestConsole::new();
    let mut manager = console.signed_in("wang").await;
    let full = manager.get("/residents/1201").await.body;
    assert!(full.contains("Face recognition") && full.contains("Delete face data"), "{full}");

    let mut zhao = console.signed_in("zhao").await;
    let page = zhao.get("/residents/1201").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("Face recognition") && !page.body.contains("Template"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Add a card") && page.body.contains("Lift the lockout"));
    assert!(
        page.body.contains("Not locked out at any door."),
        "the doors' lockouts are listed (none here), beside the register's own"
    );
    assert!(!zhao.get("/residents").await.body.contains("enrolled"), "no face column");
    assert_eq!(zhao.post("/residents/1201/face/delete", &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(console.state.register().resident("1201").unwrap().templates, 1, "face data kept");
    for path in
        ["/export/residents.csv", "/import", "/audit", "/audit/export.jsonl", "/residents/new"]
    {
        assert_eq!(zhao.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    zhao.get("/residents/1201").await;
    assert_eq!(
        zhao.post("/residents/1201/cards", &[("card", "0012345678"), ("label", "blue")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(kinds_by(&console.state, "zhao"), ["card_added"]);

    let mut qian = console.signed_in("qian").await;
    assert_eq!(qian.get("/audit").await.status, StatusCode::OK);
    for path in ["/residents", "/residents/1201", "/export/residents.csv"] {
        assert_eq!(qian.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn a_resident_name_with_a_script_tag_is_shown_as_text() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    wang.get("/residents/new").await;
    let name = "<script>alert(1)</script>";
    wang.post("/residents", &[("number", "1302"), ("name", name), ("unit", "<b>x</b>")]).await;
    for path in ["/residents", "/residents/1302", "/residents?q=script"] {
        let body = wang.get(path).await.body;
        assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{path}: {body}");
        assert!(!body.contains(name) && !body.contains("<b>x</b>"), "{path}");
    }
}

#[tokio::test]
async fn twenty_wrong_passwords_slow_the_next_try_even_with_the_right_password() {
    let console = TestConsole::new();
    let mut browser = console.browser();
    for attempt in 1..=20 {
        let status = browser.sign_in("wang", "not the password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {attempt} is checked");
        console.advance(MAX_WAIT_SECONDS);
    }
    browser.sign_in("wang", "not the password").await;
    let slowed = browser.post("/login", &[("name", "wang"), ("password", PASSWORD)]).await;
    assert_eq!(slowed.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(slowed.headers.get(header::RETRY_AFTER).unwrap(), &MAX_WAIT_SECONDS.to_string());
    assert!(slowed.body.contains("Too many wrong passwords"), "{}", slowed.body);
    let mut elsewhere = console.browser();
    elsewhere.address = "192.0.2.7:5000".parse().unwrap();
    assert_eq!(
        elsewhere.sign_in("wang", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "per account, from any address"
    );
    assert_eq!(
        browser.sign_in("zhao", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "per address, for any account"
    );
    assert_eq!(
        elsewhere.sign_in("zhao", PASSWORD).await,
        StatusCode::SEE_OTHER,
        "others are not locked out"
    );
    console.advance(MAX_WAIT_SECONDS);
    assert_eq!(browser.sign_in("wang", PASSWORD).await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn twenty_wrong_passwords_sent_at_once_get_no_more_checks_than_one_after_another() {
    let dir = tempfile::tempdir().unwrap();
    let console = TestConsole::with_accounts(ConsoleDb::open(&dir.path().join("c.db")).unwrap());
    let mut tries = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let mut browser = console.browser();
        assert_eq!(browser.get("/login").await.status, StatusCode::OK);
        tries.spawn(async move {
            browser.post("/login", &[("name", "wang"), ("password", "not the password")]).await
        });
    }
    let statuses: Vec<StatusCode> = tries.join_all().await.iter().map(|a| a.status).collect();
    let checked = statuses.iter().filter(|&&s| s == StatusCode::UNAUTHORIZED).count();
    let waited = statuses.iter().filter(|&&s| s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(checked, FREE_FAILURES as usize, "the free tries only: {statuses:?}");
    assert_eq!(checked + waited, 20);
    let mut right = console.browser();
    right.address = "192.0.2.7:5000".parse().unwrap();
    assert_eq!(right.sign_in("wang", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS);
    console.advance(wait_after(FREE_FAILURES));
    assert_eq!(right.sign_in("wang", PASSWORD).await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_session_expires_after_its_idle_timeout_and_after_sign_out() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    console.advance(IDLE_TIMEOUT_SECONDS - 1);
    assert_eq!(wang.get("/residents").await.status, StatusCode::OK, "still in time");
    console.advance(IDLE_TIMEOUT_SECONDS);
    let expired = wang.get("/residents").await;
    assert_eq!(expired.status, StatusCode::SEE_OTHER);
    assert_eq!(expired.headers.get(header::LOCATION).unwrap(), "/login");
    let expired_post = wang.post_raw("/residents/1201/remove", &[("confirm", "1201")]).await;
    assert_eq!(expired_post.headers.get(header::LOCATION).unwrap(), "/login");
    assert!(console.state.register().find_resident("1201").unwrap().is_some());

    let mut wang = console.signed_in("wang").await;
    wang.get("/residents").await;
    let token = wang.cookies["fg_session"].clone();
    assert_eq!(wang.post("/logout", &[]).await.status, StatusCode::SEE_OTHER);
    let mut replay = console.browser();
    replay.cookies.insert("fg_session".into(), token);
    assert_eq!(
        replay.get("/residents").await.status,
        StatusCode::SEE_OTHER,
        "a signed-out token is dead"
    );
}

#[tokio::test]
async fn a_manager_deletes_face_data_edits_suspends_and_removes_a_resident_all_audited() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    wang.get("/residents/1201").await;
    assert_eq!(wang.post("/residents/1201/face/delete", &[]).await.status, StatusCode::SEE_OTHER);
    let page = wang.get("/residents/1201?note=face_deleted").await.body;
    assert!(page.contains("No face data.") && page.contains("No consent on record"), "{page}");
    assert_eq!(console.state.register().resident("1201").unwrap().templates, 0);
    let edit = [("name", ""), ("unit", ""), ("valid_until", "2027-06-30"), ("status", "suspended")];
    assert_eq!(wang.post("/residents/1201/edit", &edit).await.status, StatusCode::SEE_OTHER);
    let r = console.state.register().resident("1201").unwrap();
    assert_eq!((r.name.as_str(), r.status.as_str()), ("Li Wei", "suspended"));
    assert!(r.valid_until.is_some());
    wang.get("/residents/1201").await;
    assert_eq!(
        wang.post("/residents/1201/remove", &[("confirm", "12")]).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        wang.post("/residents/1201/remove", &[("confirm", "1201")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(console.state.register().find_resident("1201").unwrap().is_none());
    assert_eq!(
        kinds_by(&console.state, "wang"),
        ["consent_withdrawn", "resident_edited", "resident_removed"]
    );
}
