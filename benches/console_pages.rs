//! The console's page loads on a register of 20 000 residents (p50 / p95 over 200 loads of
//! each kind of page: list pages, searches, a resident's page) and a 1 000-row CSV import
//! (preview, then confirm), through the router as a browser's requests reach it (TLS aside), on a register file (WAL, full sync).
//! Run: `cargo bench --bench console_pages`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use facegate::config::Config;
use facegate::console::accounts::ConsoleDb;
use facegate::console::roles::Role;
use facegate::console::{Console, router};
use facegate::store::{NewResident, Store, StoreConfig};
use tower::ServiceExt;

const RESIDENTS: usize = 20_000;
const LOADS: usize = 200;
const PASSWORD: &str = "a long enough password";

/// The path of a page's i-th load.
type PathOf = Box<dyn Fn(usize) -> String>;

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    times[((times.len() as f64 * p).ceil() as usize).saturating_sub(1)]
}

struct Session {
    app: axum::Router,
    cookies: String,
    csrf: String,
}

impl Session {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let request = Request::get(path)
            .header(header::COOKIE, &self.cookies)
            .header(header::ACCEPT_LANGUAGE, "en")
            .body(Body::empty())
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn post(&self, path: &str, kind: &str, body: Vec<u8>) -> (StatusCode, String) {
        let request = Request::post(path)
            .header(header::COOKIE, &self.cookies)
            .header(header::CONTENT_TYPE, kind)
            .header(header::ACCEPT_LANGUAGE, "en")
            .body(Body::from(body))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page.find(&marker).expect("the field") + marker.len();
    page[at..at + page[at..].find('"').unwrap()].to_owned()
}

async fn sign_in(app: axum::Router) -> Session {
    let response =
        app.clone().oneshot(Request::get("/login").body(Body::empty()).unwrap()).await.unwrap();
    let login_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let token = field(&String::from_utf8_lossy(&page), "csrf");
    let body = format!("csrf={token}&name=wang&password={}", PASSWORD.replace(' ', "+"));
    let request = Request::post("/login")
        .header(header::COOKIE, &login_cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signed in");
    let cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("fg_session="))
        .unwrap();
    let mut session = Session { app, cookies, csrf: String::new() };
    let (_, page) = session.get("/residents").await;
    session.csrf = field(&page, "csrf");
    session
}

fn csv(rows: usize) -> String {
    let mut text = String::from("number,name,unit,valid_from,valid_until,birth_year\n");
    for i in 0..rows {
        text.push_str(&format!("{},Import {i},7-{i},2026-01-01,,\n", 500_000 + i));
    }
    text
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::init(&StoreConfig {
        database: dir.path().join("register.db"),
        key_file: dir.path().join("site.key"),
        ..StoreConfig::default()
    })
    .unwrap();
    let residents: Vec<NewResident> = (0..RESIDENTS)
        .map(|i| NewResident {
            number: format!("{}", 100_000 + i),
            name: format!("Resident {i}"),
            unit: format!("{}-{}", i / 400 + 1, i % 400),
            ..Default::default()
        })
        .collect();
    store.add_residents(&residents, 0, "bench").unwrap();
    let accounts = ConsoleDb::in_memory().unwrap();
    accounts.add_account("wang", Role::Manager, PASSWORD, 0).unwrap();
    let now: facegate::console::Clock = Arc::new(|| 1_780_000_000);
    let site_db = facegate::site::site_db::SiteDb::create(&dir.path().join("site.db")).unwrap();
    let state = Console::new(store, accounts, site_db, Config::default(), now);
    let session = sign_in(router(state)).await;

    let pages = RESIDENTS / facegate::console::pages::residents::PAGE_SIZE;
    let kinds: [(&str, PathOf); 3] = [
        ("list page", Box::new(move |i| format!("/residents?page={}", (i * 37) % pages))),
        ("search", Box::new(|i| format!("/residents?q=Resident+{}", i * 97 % RESIDENTS))),
        ("resident page", Box::new(|i| format!("/residents/{}", 100_000 + (i * 53) % RESIDENTS))),
    ];
    println!("console pages over {RESIDENTS} residents, {LOADS} loads each:");
    for (name, path) in kinds {
        let mut times = Vec::with_capacity(LOADS);
        for i in 0..LOADS {
            let started = Instant::now();
            let (status, _) = session.get(&path(i)).await;
            times.push(started.elapsed());
            assert_eq!(status, StatusCode::OK);
        }
        let p50 = percentile(&mut times, 0.50);
        let p95 = percentile(&mut times, 0.95);
        println!("  {name:<14} p50 {p50:>10.2?}  p95 {p95:>10.2?}");
    }

    let boundary = "facegatebench";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.csv\"\r\nContent-Type: text/csv\r\n\r\n",
        session.csrf
    )
    .into_bytes();
    body.extend_from_slice(csv(1_000).as_bytes());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let started = Instant::now();
    let (status, preview) =
        session.post("/import", &format!("multipart/form-data; boundary={boundary}"), body).await;
    let previewed = started.elapsed();
    assert_eq!(status, StatusCode::OK);
    let confirm = format!("csrf={}&import={}", session.csrf, field(&preview, "import"));
    let started = Instant::now();
    let (status, done) = session
        .post("/import/confirm", "application/x-www-form-urlencoded", confirm.into_bytes())
        .await;
    let confirmed = started.elapsed();
    assert!(status == StatusCode::OK && done.contains("1000 residents were added"), "{done}");
    println!(
        "CSV import of 1 000 rows: preview {previewed:.2?}, confirm (one transaction) {confirmed:.2?}"
    );
}
