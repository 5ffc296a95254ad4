//! The console's refusals in the language of the request (issue 18): a missing page (404), a
//! role's limit (403), a refused CSRF token, a bad form value, an address or form the server
//! cannot read, and the sign-in back-off, each as a page in Chinese or English.

use axum::http::StatusCode;

use super::console_http::{Answer, Browser, PASSWORD, TestConsole};
use facegate::console::accounts::MAX_WAIT_SECONDS;

/// Switches a browser to Chinese, as the page's language link does (a cookie).
fn in_chinese(browser: &mut Browser) {
    browser.cookies.insert("fg_lang".into(), "zh".into());
}

/// Asserts that `answer` is a page of `status` in `lang` saying `text`.
fn says(answer: &Answer, status: StatusCode, lang: &str, text: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert!(answer.body.contains(&format!("<html lang=\"{lang}\">")), "{}", answer.body);
    assert!(answer.body.contains(text), "{text:?} in {}", answer.body);
    let kind = answer.headers.get("content-type").unwrap().to_str().unwrap();
    assert!(kind.starts_with("text/html"), "{kind}");
}

#[tokio::test]
async fn a_missing_page_and_a_missing_resident_are_a_404_page_in_both_languages() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    says(&wang.get("/no/such/page").await, StatusCode::NOT_FOUND, "en", "no such page or record");
    says(&wang.get("/residents/9999").await, StatusCode::NOT_FOUND, "en", "no such page");
    in_chinese(&mut wang);
    says(&wang.get("/no/such/page").await, StatusCode::NOT_FOUND, "zh", "没有这个页面或记录。");
    says(&wang.get("/residents/9999").await, StatusCode::NOT_FOUND, "zh", "没有这个页面或记录。");
    let mut stranger = console.browser();
    in_chinese(&mut stranger);
    says(&stranger.get("/nothing").await, StatusCode::NOT_FOUND, "zh", "返回管理控制台");
}

#[tokio::test]
async fn a_role_limit_and_a_refused_csrf_token_are_a_403_page_in_both_languages() {
    let console = TestConsole::new();
    let mut zhao = console.signed_in("zhao").await;
    says(&zhao.get("/visitors").await, StatusCode::FORBIDDEN, "en", "Your role may not do this.");
    in_chinese(&mut zhao);
    says(&zhao.get("/visitors").await, StatusCode::FORBIDDEN, "zh", "您的角色无权执行此操作。");

    let mut wang = console.signed_in("wang").await;
    let fields = [("number", "1301"), ("name", "Zhang San"), ("unit", "3-1301")];
    let refused = wang.post_raw("/residents", &fields).await;
    says(&refused, StatusCode::FORBIDDEN, "en", "This form has expired");
    in_chinese(&mut wang);
    let refused = wang.post_raw("/residents", &fields).await;
    says(&refused, StatusCode::FORBIDDEN, "zh", "此表单已过期或并非来自管理控制台");
    assert!(console.state.register().find_resident("1301").unwrap().is_none(), "nothing written");
}

#[tokio::test]
async fn a_bad_form_value_is_a_400_page_naming_the_field_in_both_languages() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    wang.get("/visitors").await;
    let pass = |hours| {
        [("label", "Plumber"), ("company", ""), ("hours", hours), ("entries", "1"), ("doors", "a")]
    };
    let bad = wang.post("/visitors", &pass("soon")).await;
    says(&bad, StatusCode::BAD_REQUEST, "en", "The hours must be a whole number above 0.");
    in_chinese(&mut wang);
    wang.get("/visitors").await;
    let bad = wang.post("/visitors", &pass("soon")).await;
    says(&bad, StatusCode::BAD_REQUEST, "zh", "小时数必须是大于 0 的整数。");
    wang.get("/residents/new").await;
    let date = [("number", "1301"), ("name", "Zhang San"), ("unit", "3"), ("valid_from", "1.5.")];
    let bad = wang.post("/residents", &date).await;
    says(&bad, StatusCode::BAD_REQUEST, "zh", "1.5. 不是日期（格式为 YYYY-MM-DD）。");
    let taken = [("number", "1201"), ("name", "Zhang San"), ("unit", "3")];
    says(
        &wang.post("/residents", &taken).await,
        StatusCode::BAD_REQUEST,
        "zh",
        "住户编号 1201 已被使用。",
    );
    assert!(console.state.register().find_resident("1301").unwrap().is_none(), "nothing written");
    assert_eq!(open_passes(&console), 0, "no pass was issued");
}

#[tokio::test]
async fn a_form_or_address_the_server_cannot_read_is_a_400_page_not_plain_text() {
    let console = TestConsole::new();
    let mut wang = console.signed_in("wang").await;
    in_chinese(&mut wang);
    wang.get("/visitors").await;
    let missing_fields = wang.post("/visitors", &[("label", "Plumber")]).await;
    assert!(missing_fields.status.is_client_error(), "{}", missing_fields.status);
    assert!(missing_fields.body.contains("此请求无效"), "{}", missing_fields.body);
    let not_an_id = wang.post("/visitors/first/revoke", &[]).await;
    says(&not_an_id, StatusCode::BAD_REQUEST, "zh", "此请求无效：请检查表单中的内容后重试。");
}

#[tokio::test]
async fn the_sign_in_back_off_is_told_in_chinese() {
    let console = TestConsole::new();
    let mut browser = console.browser();
    in_chinese(&mut browser);
    for _ in 0..20 {
        assert_eq!(browser.sign_in("wang", "not the password").await, StatusCode::UNAUTHORIZED);
        console.advance(MAX_WAIT_SECONDS);
    }
    assert!(browser.last_page.contains("<html lang=\"zh\">"));
    browser.sign_in("wang", "not the password").await;
    let slowed = browser.post("/login", &[("name", "wang"), ("password", PASSWORD)]).await;
    let text = format!("密码错误次数过多：请在 {MAX_WAIT_SECONDS} 秒后重试。");
    says(&slowed, StatusCode::TOO_MANY_REQUESTS, "zh", &text);
}

fn open_passes(console: &TestConsole) -> usize {
    facegate::manage::visitor_passes(&console.state.register(), console.state.now()).unwrap().len()
}
