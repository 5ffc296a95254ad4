//! The console's pages at the HTTP level (issue 18): CSV import with its preview, the register
//! export, the audit log's filter, verification and export, the reports.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use super::console_browser::import_csv;
use super::console_http::{Answer, Browser, TestConsole};

/// Posts a file as the import form does (multipart, with the page's CSRF field).
async fn upload(browser: &mut Browser, bytes: &[u8]) -> Answer {
    let boundary = "facegatetest";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.csv\"\r\nContent-Type: text/csv\r\n\r\n",
        browser.csrf()
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let cookies =
        browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let request = Request::post("/import")
        .header(header::COOKIE, cookies)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .header(header::ACCEPT_LANGUAGE, "en")
        .body(Body::from(body))
        .unwrap();
    browser.send(request).await
}

fn count(console: &TestConsole) -> usize {
    console.state.register().residents_page(0, 1).unwrap().1
}

#[tokio::test]
async fn a_gb18030_import_shows_its_bad_rows_writes_nothing_until_confirmed_then_adds_the_rest() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    wang.get("/import").await;
    let started = std::time::Instant::now();
    let preview = upload(&mut wang, &import_csv(1000)).await;
    let checked = started.elapsed();
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(preview.body.contains("997 rows can be added; 3 rows have errors"), "{}", preview.body);
    for line in ["<td>11</td>", "<td>501</td>", "<td>1001</td>"] {
        assert!(preview.body.contains(line), "line {line} is named");
    }
    assert!(preview.body.contains("A resident number is 1 to 12 digits, not 20x2010."));
    assert!(preview.body.contains("A name is 1 to 100 characters."));
    assert!(preview.body.contains("2026-13-01 is not a date (YYYY-MM-DD)."));
    assert_eq!(count(&console), 1, "nothing written before the confirmation");

    let mut zhao = console.signed_in("zhao").await;
    zhao.get("/residents").await;
    let id = {
        let at = wang.last_page.find("name=\"import\" value=\"").unwrap() + 21;
        wang.last_page[at..at + 64].to_owned()
    };
    assert_eq!(
        zhao.post("/import/confirm", &[("import", &id)]).await.status,
        StatusCode::FORBIDDEN
    );
    let started = std::time::Instant::now();
    let done = wang.post("/import/confirm", &[("import", &id)]).await;
    let written = started.elapsed();
    eprintln!("console CSV import of 1 000 rows: preview {checked:?}, confirm {written:?}");
    assert!(done.body.contains("997 residents were added"), "{}", done.body);
    assert_eq!(count(&console), 998);
    assert_eq!(console.state.register().resident("2002").unwrap().name, "李1号");
    let again = wang.post("/import/confirm", &[("import", &id)]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "a preview is confirmed once");
    assert_eq!(count(&console), 998);

    wang.get("/import").await;
    let utf8 = "\u{feff}number,name,unit,valid_from,valid_until,birth_year\n1501,周杰,6-1,,,\n";
    let preview = upload(&mut wang, utf8.as_bytes()).await;
    assert!(
        preview.body.contains("1 rows can be added; 0 rows have errors")
            && preview.body.contains("周杰")
    );
    wang.get("/import").await;
    let bad = upload(&mut wang, b"num,name\n1,x\n").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("The first line must be `number,name,unit,"), "{}", bad.body);
}

#[tokio::test]
async fn the_register_export_is_csv_and_is_audited_with_the_account() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    let export = wang.get("/export/residents.csv").await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(
        export.body.starts_with(
            "number,name,unit,valid_from,valid_until,birth_year,status\n1201,Li Wei,3-1201,"
        ),
        "{}",
        export.body
    );
    let last = console.state.register().audit_entries(None).unwrap().pop().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.detail.as_str()),
        ("register_exported", "1 residents by wang")
    );
}

#[tokio::test]
async fn the_audit_log_filters_by_resident_for_a_manager_and_by_kind_exports_with_macs_and_names_the_first_broken_row()
 {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    wang.get("/residents/new").await;
    wang.post("/residents", &[("number", "1302"), ("name", "Sun Li"), ("unit", "3-1302")]).await;
    let mut qian = console.signed_in("qian").await;
    let filtered = wang.get("/audit?resident=1302").await.body;
    assert!(filtered.contains("1 rows match") && filtered.contains("resident_added"), "{filtered}");
    let by_kind = qian.get("/audit?kind=face_enrolled").await.body;
    assert!(
        by_kind.contains("1 rows match") && !by_kind.contains("<td>resident_added</td>"),
        "{by_kind}"
    );
    let none = qian.get("/audit?to=2000-01-01").await.body;
    assert!(none.contains("0 rows match"), "{none}");

    let csv = wang.get("/audit/export.csv?resident=1302").await;
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "id,chain,time_utc,at,kind,subject,detail,mac");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].rsplit(',').next().unwrap().len(), 64, "a hex HMAC-SHA256");
    let jsonl = qian.get("/audit/export.jsonl").await.body;
    let verified = console.state.register().verify_audit_export(&jsonl).unwrap();
    assert!(verified.intact(), "{:?}", verified);

    assert!(qian.get("/audit/verify").await.body.contains("The audit log is intact"));
    let path = console.state.register().path().to_owned();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let second: i64 = raw
        .query_row("SELECT id FROM audit ORDER BY id LIMIT 1 OFFSET 1", [], |r| r.get(0))
        .unwrap();
    raw.execute("UPDATE audit SET detail = 'by nobody' WHERE id = ?1", [second]).unwrap();
    let broken = qian.get("/audit/verify").await.body;
    assert!(
        broken.contains("tampered with")
            && broken.contains(&format!("The first broken row is row {second}.")),
        "{broken}"
    );
}

#[tokio::test]
async fn reports_preview_the_purge_and_count_consent_in_both_languages() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    let page = wang.get("/reports").await.body;
    assert!(page.contains("0 face templates unused for 365 days"), "{page}");
    // The 1:N threshold for one enrolled resident at the default stranger acceptance.
    let threshold = facegate::templates::MatchingConfig::default().threshold_for(1);
    let line = format!("1 residents with face data; threshold {threshold:.3}.");
    assert!(page.contains(&line), "{page}");
    assert!(
        page.contains("1 residents, 1 consenting to face recognition (0 with a guardian"),
        "{page}"
    );
    console.advance(366 * 86_400);
    let mut wang = console.signed_in("wang").await;
    let later = wang.get("/reports").await.body;
    assert!(later.contains("1 face templates unused for 365 days"), "{later}");
    assert_eq!(
        console.state.register().resident("1201").unwrap().templates,
        1,
        "a preview deletes nothing"
    );
    wang.cookies.insert("fg_lang".into(), "zh".into());
    let zh = wang.get("/reports").await.body;
    assert!(zh.contains("<html lang=\"zh\">") && zh.contains("保留期限"), "{zh}");
}

#[tokio::test]
async fn a_manager_downloads_the_register_encrypted_under_a_passphrase_a_caretaker_cannot() {
    let console = TestConsole::new();
    let mut zhao = console.signed_in("zhao").await;
    assert_eq!(zhao.get("/backup").await.status, StatusCode::FORBIDDEN);
    let mut wang = console.signed_in("wang").await;
    wang.get("/backup").await;
    let passphrase = "the office's long passphrase";
    let differ =
        wang.post("/backup", &[("passphrase", passphrase), ("again", "something else")]).await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    let short = wang.post("/backup", &[("passphrase", "short"), ("again", "short")]).await;
    assert!(
        short.status == StatusCode::BAD_REQUEST && short.body.contains("at least 12"),
        "{}",
        short.body
    );
    let sealed = wang.post("/backup", &[("passphrase", passphrase), ("again", passphrase)]).await;
    assert_eq!(sealed.status, StatusCode::OK);
    assert!(sealed.body.starts_with("age-encryption.org/v1\n-> scrypt "));
    assert!(!sealed.body.contains("Li Wei"));
    let last = console.state.register().audit_entries(None).unwrap().pop().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.detail.as_str()),
        ("register_exported", "encrypted backup by wang")
    );
}
