//! The console in a real browser, for any test file: Debian's chromium driven through
//! chromedriver by fantoccini. [`ConsoleInBrowser::start`] serves a console state over HTTPS
//! (a self-signed certificate) on a free port, starts chromedriver on another and opens a
//! headless chromium session; dropping it stops all three. With
//! `FACEGATE_CONSOLE_SCREENSHOTS=DIR`, [`ConsoleInBrowser::shot`] saves the current page to DIR.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use facegate::console::{AppState, SiteFiles, tls};

/// The desktop window size of the browser.
pub const DESKTOP: (u32, u32) = (1200, 1000);
/// A phone's viewport (an iPhone 12 in CSS pixels).
pub const PHONE: (u32, u32) = (390, 844);

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

async fn open_chromium(driver: &Driver, profile: &Path) -> Client {
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
        "--hide-scrollbars",
        "--lang=en-US",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([
        format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
        format!("--user-data-dir={}", profile.display()),
    ])
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

/// A console served over HTTPS and a chromium session pointed at it.
pub struct ConsoleInBrowser {
    pub client: Client,
    /// `https://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    /// A scratch directory (the certificate, chromium's profile, files to upload).
    pub dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    driver: Driver,
}

impl ConsoleInBrowser {
    /// Serves `state` and opens chromium (desktop size, English first).
    pub async fn start(state: AppState) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let files = SiteFiles::in_dir(dir.path());
        tls::ensure_certificate(&files.certificate, &files.private_key, &["127.0.0.1".into()])
            .unwrap();
        let tcp = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .unwrap();
        let base = format!("https://{}", tcp.local_addr().unwrap());
        let server =
            tokio::spawn(async move { facegate::console::serve(state, tcp, &files).await });
        let driver = start_driver();
        let client = open_chromium(&driver, &dir.path().join("profile")).await;
        Self { client, base, dir, server, driver }
    }

    /// Opens `path` (starting with `/`) of the console.
    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    /// Signs in on the login page as `name` and waits for the next page's heading.
    pub async fn sign_in(&self, name: &str, password: &str) {
        self.goto("/login").await;
        self.fill("name", name).await;
        self.fill("password", password).await;
        self.submit("form.stack button").await;
        self.text_of("main h1").await;
    }

    /// The text of the first element matching `css`, waiting for it to appear. A page still
    /// being replaced (a redirect arriving) can make the element found go stale before it is
    /// read: it is then looked up again on the new page.
    pub async fn text_of(&self, css: &str) -> String {
        for _ in 0..20 {
            let element = self.client.wait().for_element(Locator::Css(css)).await.unwrap();
            match element.text().await {
                Ok(text) => return text,
                Err(err) if err.is_stale_element_reference() => continue,
                Err(err) => panic!("reading {css}: {err}"),
            }
        }
        panic!("{css} went stale 20 times");
    }

    /// Clicks the first element matching `css` (a form's button) and waits for the next page.
    pub async fn submit(&self, css: &str) {
        self.click_then_next_page(Locator::Css(css)).await;
    }

    /// Clicks the button whose text contains `label` and waits for the next page.
    pub async fn press(&self, label: &str) {
        let xpath = format!("//button[contains(., '{label}')]");
        self.click_then_next_page(Locator::XPath(&xpath)).await;
    }

    /// Clicks the link with text `text` and waits for the next page.
    pub async fn follow(&self, text: &str) {
        self.click_then_next_page(Locator::LinkText(text)).await;
    }

    /// Chooses the `<option>` matching `css` (the page stays).
    pub async fn choose(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    }

    /// Clicks `target`, then waits until the page it was on has been replaced: a click returns
    /// before the browser has loaded the response, and reading the old page then gives its text.
    async fn click_then_next_page(&self, target: Locator<'_>) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        self.client.find(target).await.unwrap().click().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            // Chromium reports the old root as stale, or (mid-navigation) as a node that does
            // not belong to the document: either way the page it was on is gone, and what the
            // test reads next is checked against the page it expects.
            match old.tag_name().await {
                Err(_) => return,
                Ok(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Ok(_) => panic!("the page was not replaced within 15 s of the click"),
            }
        }
    }

    /// Replaces the value of the field with id `id` by `text`.
    pub async fn fill(&self, id: &str, text: &str) {
        let field = self.client.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Chooses the file at `path` in the file field with id `id`.
    pub async fn choose_file(&self, id: &str, path: &Path) {
        let field = self.client.find(Locator::Id(id)).await.unwrap();
        field.send_keys(path.to_str().unwrap()).await.unwrap();
    }

    /// The page's source as the browser holds it.
    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Resizes the window to `(width, height)` (see [`DESKTOP`], [`PHONE`]).
    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.client.set_window_size(width, height).await.unwrap();
    }

    /// The page's full width in CSS pixels (more than the window: sideways scrolling).
    pub async fn scroll_width(&self) -> u64 {
        let width = self
            .client
            .execute("return document.documentElement.scrollWidth", vec![])
            .await
            .unwrap();
        width.as_u64().unwrap()
    }

    /// Lays pages out as for printing (`true`) or for the screen (`false`): Chrome's own
    /// media emulation, sent to chromedriver's DevTools endpoint.
    pub async fn print_media(&self, print: bool) {
        let session = self.client.session_id().await.unwrap().expect("a session");
        let url = format!("http://127.0.0.1:{}/session/{session}/goog/cdp/execute", self.driver.1);
        let media = if print { "print" } else { "" };
        let command = serde_json::json!({
            "cmd": "Emulation.setEmulatedMedia",
            "params": { "media": media },
        });
        let request = axum::http::Request::post(url)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(command.to_string()))
            .unwrap();
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .build_http::<axum::body::Body>();
        let answer = http.request(request).await.unwrap();
        assert!(answer.status().is_success(), "chromedriver: {}", answer.status());
    }

    /// The computed `visibility` of the first element matching `css`.
    pub async fn visibility(&self, css: &str) -> String {
        let script = "return getComputedStyle(document.querySelector(arguments[0])).visibility";
        let value = self.client.execute(script, vec![css.into()]).await.unwrap();
        value.as_str().unwrap().to_owned()
    }

    /// Saves a screenshot of the current page as `NAME.png` when screenshots are asked for.
    pub async fn shot(&self, name: &str) {
        if let Some(dir) = std::env::var_os("FACEGATE_CONSOLE_SCREENSHOTS") {
            let png = self.client.screenshot().await.unwrap();
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(Path::new(&dir).join(format!("{name}.png")), png).unwrap();
        }
    }

    /// Ends the chromium session and stops the server (chromedriver stops when dropped).
    pub async fn close(self) {
        let Self { client, server, .. } = self;
        client.close().await.unwrap();
        server.abort();
    }
}
