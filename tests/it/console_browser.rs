//! The console in a real browser (issue 18): Debian's chromium driven through chromedriver by
//! fantoccini. The test starts chromedriver on a free port and the console (HTTPS, a
//! self-signed certificate) on another, and stops both. With `FACEGATE_CONSOLE_SCREENSHOTS=DIR`
//! it saves the main pages in both languages to DIR (the README's `docs/console/`).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use super::console_http::{PASSWORD, TestConsole};
use facegate::console::{SiteFiles, tls};

/// chromedriver, killed when dropped.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (Debian package chromium-driver; ./dev.sh installs it)");
    let driver = Driver(child, port);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    driver
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--lang=en-US",
        "--window-size=1200,1000",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
    );
    caps.insert("acceptInsecureCerts".into(), true.into());
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("a chromium session")
}

/// A CSV of `rows` residents 2001…, with bad rows at lines 11, 501 and 1001 (a letter in the
/// number, no name, a bad date), in GB18030 with Chinese names.
pub fn import_csv(rows: usize) -> Vec<u8> {
    let mut text = String::from("number,name,unit,valid_from,valid_until,birth_year\n");
    for i in 0..rows {
        let line = i + 2;
        let number = 2001 + i;
        let row = match line {
            11 => format!("20x{number},王芳,5-{number},,,\n"),
            501 => format!("{number},,5-{number},,,\n"),
            1001 => format!("{number},张伟,5-{number},2026-13-01,,\n"),
            _ => format!("{number},李{i}号,5-{number},2026-01-01,,1990\n"),
        };
        text.push_str(&row);
    }
    encoding_rs::GB18030.encode(&text).0.into_owned()
}

async fn text_of(client: &Client, css: &str) -> String {
    client.wait().for_element(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

async fn submit(client: &Client, css: &str) {
    client.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

async fn fill(client: &Client, id: &str, text: &str) {
    let field = client.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Saves a screenshot of the current page when screenshots are asked for.
async fn shot(client: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("FACEGATE_CONSOLE_SCREENSHOTS") {
        let png = client.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_signs_in_adds_a_resident_imports_a_csv_deletes_face_data_and_issues_a_pass_in_chromium()
 {
    let console = TestConsole::new();
    let dir = tempfile::tempdir().unwrap();
    let files = SiteFiles::in_dir(dir.path());
    tls::ensure_certificate(&files.certificate, &files.private_key, &["127.0.0.1".into()]).unwrap();
    let tcp =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await.unwrap();
    let base = format!("https://{}", tcp.local_addr().unwrap());
    let server = {
        let (state, files) = (console.state.clone(), files.clone());
        tokio::spawn(async move { facegate::console::serve(state, tcp, &files).await })
    };
    let driver = start_driver();
    let client = browser(&driver, &dir.path().join("profile")).await;

    client.goto(&format!("{base}/login")).await.unwrap();
    shot(&client, "en-login").await;
    fill(&client, "name", "wang").await;
    fill(&client, "password", PASSWORD).await;
    submit(&client, "form.stack button").await;
    assert_eq!(text_of(&client, "main h1").await, "Residents");

    client.find(Locator::LinkText("Add a resident")).await.unwrap().click().await.unwrap();
    fill(&client, "number", "1401").await;
    fill(&client, "name", "Chen Jing").await;
    fill(&client, "unit", "4-1401").await;
    submit(&client, "form.stack button").await;
    assert_eq!(text_of(&client, "main h1").await, "Resident 1401");
    assert!(text_of(&client, ".notice").await.contains("added"));
    assert_eq!(console.state.register().resident("1401").unwrap().name, "Chen Jing");

    let csv = dir.path().join("residents.csv");
    std::fs::write(&csv, import_csv(1000)).unwrap();
    client.goto(&format!("{base}/import")).await.unwrap();
    let before = console.state.register().residents_page(0, 1).unwrap().1;
    client.find(Locator::Id("file")).await.unwrap().send_keys(csv.to_str().unwrap()).await.unwrap();
    let started = Instant::now();
    submit(&client, "form.stack button").await;
    let errors = client.wait().for_element(Locator::Css("table.errors")).await.unwrap();
    let checked = started.elapsed();
    let lines: Vec<String> = {
        let mut lines = Vec::new();
        for row in errors.find_all(Locator::Css("tbody tr td:first-child")).await.unwrap() {
            lines.push(row.text().await.unwrap());
        }
        lines
    };
    assert_eq!(lines, ["11", "501", "1001"], "the three bad rows, by line");
    shot(&client, "en-import-preview").await;
    assert_eq!(
        console.state.register().residents_page(0, 1).unwrap().1,
        before,
        "nothing written yet"
    );
    let started = Instant::now();
    submit(&client, "form.inline button").await;
    assert!(text_of(&client, ".notice").await.contains("997 residents were added"));
    let written = started.elapsed();
    eprintln!(
        "console import of 1 000 CSV rows in chromium: preview {checked:?}, confirm {written:?}"
    );
    assert_eq!(console.state.register().residents_page(0, 1).unwrap().1, before + 997);
    assert_eq!(console.state.register().resident("2002").unwrap().name, "李1号", "GB18030 decoded");

    client.goto(&format!("{base}/residents/1201")).await.unwrap();
    shot(&client, "en-resident").await;
    client
        .find(Locator::XPath("//button[contains(., 'Delete face data')]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(text_of(&client, ".notice").await.contains("Face data deleted"));
    assert!(client.source().await.unwrap().contains("No face data."));
    assert_eq!(console.state.register().resident("1201").unwrap().templates, 0);

    client.goto(&format!("{base}/visitors")).await.unwrap();
    fill(&client, "label", "Plumber").await;
    fill(&client, "doors", "north-gate").await;
    submit(&client, "form.stack button").await;
    let code = text_of(&client, "p.code").await;
    assert!((6..=8).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    shot(&client, "en-visitor-pass").await;
    let passes =
        facegate::manage::visitor_passes(&console.state.register(), console.state.now()).unwrap();
    assert_eq!(passes.len(), 1, "the pass is in the register, for the doors' sync");

    client.goto(&format!("{base}/residents")).await.unwrap();
    shot(&client, "en-residents").await;
    client.goto(&format!("{base}/audit")).await.unwrap();
    shot(&client, "en-audit").await;
    client.find(Locator::LinkText("中文")).await.unwrap().click().await.unwrap();
    assert_eq!(text_of(&client, "main h1").await, "审计日志", "the same page in Chinese");
    shot(&client, "zh-audit").await;
    for (path, name) in [
        ("/residents", "zh-residents"),
        ("/residents/1201", "zh-resident"),
        ("/import", "zh-import"),
        ("/visitors", "zh-visitors"),
    ] {
        client.goto(&format!("{base}{path}")).await.unwrap();
        shot(&client, name).await;
    }
    client.set_window_size(390, 844).await.unwrap();
    client.goto(&format!("{base}/residents")).await.unwrap();
    shot(&client, "zh-residents-phone").await;
    let width: serde_json::Value =
        client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap();
    assert!(width.as_u64().unwrap() <= 390, "no sideways scrolling on a phone: {width}");

    client.close().await.unwrap();
    server.abort();
}
