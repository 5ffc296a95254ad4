//! The console in a real browser (issue 18), driven through [`super::browser_harness`]: a
//! manager's daily work in chromium, in English and then in Chinese, and every page at a phone's
//! width. With `FACEGATE_CONSOLE_SCREENSHOTS=DIR` it saves the main pages in both languages to
//! DIR (the README's `docs/console/`).

use std::time::Instant;

use fantoccini::Locator;

use super::browser_harness::{ConsoleInBrowser, PHONE};
use super::console_http::{PASSWORD, TestConsole};
use facegate::credentials::qr::read_code;
use facegate::vision::Frame;

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

/// Issues a pass on the visitors page and returns the code the page shows; the QR code beside
/// it, as chromium draws it, reads as the same code with the door's decoder.
async fn issue_pass(b: &ConsoleInBrowser, label: &str, company: &str) -> String {
    b.goto("/visitors").await;
    b.fill("label", label).await;
    b.fill("company", company).await;
    b.fill("entries", "3").await;
    b.fill("doors", "north-gate, east-gate").await;
    b.submit("form.stack button").await;
    let code = b.text_of("p.code").await;
    assert!((6..=8).contains(&code.len()) && code.bytes().all(|c| c.is_ascii_digit()), "{code}");
    let qr = b.client.find(Locator::Css("svg.qr")).await.unwrap().screenshot().await.unwrap();
    let qr = image::load_from_memory(&qr).unwrap().to_rgb8();
    let frame = Frame::from_rgb(qr.width(), qr.height(), qr.into_raw()).unwrap();
    let read = read_code(&frame).expect("the door's decoder reads the QR code on the page");
    assert_eq!(read.reveal(), code, "the QR code holds the code shown beside it");
    code
}

/// A small CSV in UTF-8 with two bad rows (lines 3 and 5), for the Chinese preview.
fn small_csv() -> &'static str {
    "number,name,unit,valid_from,valid_until,birth_year\n\
     3001,周杰,6-3001,2026-01-01,,1985\n\
     3002,,6-3002,,,\n\
     3003,吴敏,6-3003,,,1992\n\
     3004,郑红,6-3004,2026-02-30x,,\n\
     3005,孙丽,6-3005,,2027-06-30,\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_signs_in_adds_a_resident_imports_a_csv_deletes_face_data_and_issues_a_pass_in_chromium()
 {
    let console = TestConsole::new();
    let b = ConsoleInBrowser::start(console.state.clone()).await;

    b.goto("/login").await;
    b.shot("en-login").await;
    b.sign_in("wang", PASSWORD).await;
    assert_eq!(b.text_of("main h1").await, "Residents");

    b.follow("Add a resident").await;
    b.fill("number", "1401").await;
    b.fill("name", "Chen Jing").await;
    b.fill("unit", "4-1401").await;
    b.submit("form.stack button").await;
    assert_eq!(b.text_of("main h1").await, "Resident 1401");
    assert!(b.text_of(".notice").await.contains("added"));
    assert_eq!(console.state.register().resident("1401").unwrap().name, "Chen Jing");

    let csv = b.dir.path().join("residents.csv");
    std::fs::write(&csv, import_csv(1000)).unwrap();
    b.goto("/import").await;
    let before = console.state.register().residents_page(0, 1).unwrap().1;
    b.choose_file("file", &csv).await;
    let started = Instant::now();
    b.submit("form.stack button").await;
    let errors = b.client.wait().for_element(Locator::Css("table.errors")).await.unwrap();
    let checked = started.elapsed();
    let lines: Vec<String> = {
        let mut lines = Vec::new();
        for row in errors.find_all(Locator::Css("tbody tr td:first-child")).await.unwrap() {
            lines.push(row.text().await.unwrap());
        }
        lines
    };
    assert_eq!(lines, ["11", "501", "1001"], "the three bad rows, by line");
    b.shot("en-import-preview").await;
    assert_eq!(
        console.state.register().residents_page(0, 1).unwrap().1,
        before,
        "nothing written yet"
    );
    let started = Instant::now();
    b.submit("form.inline button").await;
    assert!(b.text_of(".notice").await.contains("997 residents were added"));
    let written = started.elapsed();
    eprintln!(
        "console import of 1 000 CSV rows in chromium: preview {checked:?}, confirm {written:?}"
    );
    assert_eq!(console.state.register().residents_page(0, 1).unwrap().1, before + 997);
    assert_eq!(console.state.register().resident("2002").unwrap().name, "李1号", "GB18030 decoded");

    b.goto("/residents/1201").await;
    b.shot("en-resident").await;
    b.press("Delete face data").await;
    assert!(b.text_of(".notice").await.contains("Face data deleted"));
    assert!(b.source().await.contains("No face data."));
    assert_eq!(console.state.register().resident("1201").unwrap().templates, 0);

    issue_pass(&b, "Plumber for 3-1201", "").await;
    b.shot("en-visitor-pass").await;
    let passes =
        facegate::manage::visitor_passes(&console.state.register(), console.state.now()).unwrap();
    assert_eq!(passes.len(), 1, "the pass is in the register, for the doors' sync");

    for (path, name) in [("/residents", "en-residents"), ("/reports", "en-reports")] {
        b.goto(path).await;
        b.shot(name).await;
    }
    b.goto("/audit").await;
    b.shot("en-audit").await;
    b.follow("中文").await;
    assert_eq!(b.text_of("main h1").await, "审计日志", "the same page in Chinese");
    b.shot("zh-audit").await;

    issue_pass(&b, "快递", "顺丰速运").await;
    assert!(b.source().await.contains("顺丰速运 的快递员通行码"), "the courier code is listed");
    b.shot("zh-visitor-pass").await;
    b.print_media(true).await;
    for (css, printed) in [
        ("p.code", "visible"),
        ("svg.qr", "visible"),
        ("header", "hidden"),
        ("form.stack", "hidden"),
    ] {
        assert_eq!(b.visibility(css).await, printed, "printing the issued pass: {css}");
    }
    b.print_media(false).await;
    assert_eq!(b.visibility("header").await, "visible");
    let small = b.dir.path().join("small.csv");
    std::fs::write(&small, small_csv()).unwrap();
    b.goto("/import").await;
    b.choose_file("file", &small).await;
    b.submit("form.stack button").await;
    let first_error = b.text_of("table.errors tbody tr td.bad").await;
    assert_eq!(first_error, "姓名为 1 到 100 个字符。", "the row's error in Chinese");
    b.shot("zh-import-preview").await;
    for (path, name) in [
        ("/residents", "zh-residents"),
        ("/residents/1201", "zh-resident"),
        ("/reports", "zh-reports"),
    ] {
        b.goto(path).await;
        b.shot(name).await;
    }

    b.resize(PHONE).await;
    for path in ["/residents", "/residents/1201", "/import", "/visitors", "/audit", "/reports"] {
        b.goto(path).await;
        if path == "/residents" {
            b.shot("zh-residents-phone").await;
        }
        let width = b.scroll_width().await;
        assert!(width <= u64::from(PHONE.0), "no sideways scrolling on a phone at {path}: {width}");
    }
    b.press("退出登录").await;
    b.text_of("form.stack").await;
    b.shot("zh-login-phone").await;
    let width = b.scroll_width().await;
    assert!(width <= u64::from(PHONE.0), "no sideways scrolling on the sign-in page: {width}");

    b.close().await;
}
