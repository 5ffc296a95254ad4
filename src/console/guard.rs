//! What every request passes before its page: the session from its cookie (restarting the idle
//! timer), the CSRF token of every POST (the session's, or the sign-in form's own cookie), and
//! the security headers of every answer. Pages take a [`Ctx`] and ask it for their
//! [`Action`] with [`Ctx::require`].

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::i18n::{tr, trf};
use super::roles::Action;
use super::sessions::{COOKIE, Session, same_token};
use super::{AppState, layout};
use crate::language::Language;

/// The sign-in form's CSRF cookie (double submit: the form carries the same value).
pub const LOGIN_COOKIE: &str = "fg_login";
/// The language cookie.
pub const LANG_COOKIE: &str = "fg_lang";
/// The largest request body of a signed-in account (a CSV import).
pub const MAX_BODY: usize = 8 << 20;
/// The largest sign-in form (an account name, a password and the form's token). A request
/// without a session is read no further: a stranger cannot make the console hold 8 MiB.
pub const MAX_SIGN_IN_BODY: usize = 16 << 10;

/// The value of cookie `name` in a request's headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value with the console's attributes.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let age = max_age.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    let text = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict{age}");
    HeaderValue::from_str(&text).expect("cookie values are hex or fixed words")
}

/// The language of a request: its cookie, else `Accept-Language`, else Chinese.
pub fn language(headers: &HeaderMap) -> Language {
    if let Some(lang) = cookie(headers, LANG_COOKIE).and_then(|l| l.parse().ok()) {
        return lang;
    }
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    match accept {
        Some(a) if a.trim_start().starts_with("en") => Language::En,
        _ => Language::Zh,
    }
}

/// The address a connection comes from (axum's connect info for the TLS listener).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The client's address (for the login back-off): its IP, or `unknown` without one.
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let address = parts.extensions.get::<ConnectInfo<Peer>>();
        Ok(Self(
            address.map_or_else(|| "unknown".to_owned(), |ConnectInfo(p)| p.0.ip().to_string()),
        ))
    }
}

/// The middleware: session lookup and the CSRF check of every POST; then every refusal becomes
/// a page in the request's language, and every answer gets the security headers.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let lang = language(request.headers());
    let mut response = check_and_run(state, request, next).await;
    let problem = response.extensions_mut().remove::<Problem>().or_else(|| {
        let html = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        let failed = response.status().is_client_error() || response.status().is_server_error();
        (failed && !html).then(|| Problem::from_status(response.status()))
    });
    if let Some(problem) = problem {
        let status = response.status();
        response =
            (status, layout::problem_page(lang, status, &problem.text(lang))).into_response();
    }
    let headers = response.headers_mut();
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("strict-transport-security", "max-age=31536000"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The session and CSRF checks, then the page.
async fn check_and_run(state: AppState, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let now = state.now();
    let session = cookie(&parts.headers, COOKIE)
        .and_then(|token| state.accounts().session(token, now).ok().flatten());
    let body = if parts.method == Method::POST {
        let signing_in = parts.uri.path() == "/login";
        // Without a session only the sign-in form is read, and only up to its size.
        if session.is_none() && !signing_in {
            return Redirect::to("/login").into_response();
        }
        let limit = if signing_in { MAX_SIGN_IN_BODY } else { MAX_BODY };
        let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
            let mut response = Problem::bad("The request is too large.").into_response();
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return response;
        };
        let expected = if signing_in {
            cookie(&parts.headers, LOGIN_COOKIE).map(str::to_owned)
        } else {
            session.as_ref().map(|s| s.csrf.clone())
        };
        match (expected, csrf_field(&parts.headers, &bytes)) {
            (Some(expected), Some(sent)) if same_token(&expected, &sent) => {}
            _ => return Problem::Csrf.into_response(),
        }
        Body::from(bytes)
    } else {
        body
    };
    parts.extensions.insert(session);
    next.run(Request::from_parts(parts, body)).await
}

/// The `csrf` field of a form body: URL-encoded, or the part named `csrf` of a multipart body.
fn csrf_field(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if kind.starts_with("multipart/form-data") {
        const NAME: &[u8] = b"name=\"csrf\"\r\n\r\n";
        let at = body.windows(NAME.len()).position(|w| w == NAME)? + NAME.len();
        let value = &body[at..];
        let end = value.windows(2).position(|w| w == b"\r\n")?;
        return String::from_utf8(value[..end].to_vec()).ok();
    }
    form_urlencoded::parse(body).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned())
}

/// A signed-in request: its session and language. Without a live session the page answers
/// with the sign-in page.
pub struct Ctx {
    pub session: Session,
    pub lang: Language,
    /// This page's path and query (for the language switch).
    pub here: String,
}

impl Ctx {
    /// Refuses (403) an action the account's role may not perform.
    pub fn require(&self, action: Action) -> Result<(), Problem> {
        if self.session.account.role.may(action) { Ok(()) } else { Err(Problem::Forbidden) }
    }

    /// Whether the account's role may perform `action` (to show or hide a part of a page).
    pub fn may(&self, action: Action) -> bool {
        self.session.account.role.may(action)
    }

    /// Who the audit log names for this request's changes.
    pub fn operator(&self) -> &str {
        &self.session.account.name
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let session = parts.extensions.get::<Option<Session>>().cloned().flatten();
        match session {
            Some(session) => Ok(Ctx {
                session,
                lang: language(&parts.headers),
                here: parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            }),
            None => Err(Redirect::to("/login").into_response()),
        }
    }
}

/// Why a request was not served. Its answer carries it to [`guard`], which shows it as a page
/// in the request's language.
#[derive(Debug, Clone)]
pub enum Problem {
    /// The role may not do this.
    Forbidden,
    /// A POST without the session's CSRF token.
    Csrf,
    NotFound,
    /// Bad input: a catalogue message (its English text) and the values of its `{}`s.
    Bad(&'static str, Vec<String>),
    /// Something broke on the server; the detail goes to the log, not to the page.
    Internal(String),
}

impl Problem {
    /// Bad input, said by catalogue message `english`.
    pub fn bad(english: &'static str) -> Self {
        Problem::Bad(english, Vec::new())
    }

    /// Bad input, said by catalogue message `english` with its `{}`s filled in order.
    pub fn bad_with(english: &'static str, args: &[&dyn std::fmt::Display]) -> Self {
        Problem::Bad(english, args.iter().map(|a| a.to_string()).collect())
    }

    /// The problem behind an answer that carries none (a route that does not exist, a form
    /// or address the extractors refused).
    fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Problem::NotFound,
            StatusCode::FORBIDDEN => Problem::Forbidden,
            s if s.is_server_error() => Problem::Internal(format!("answer {s} without a page")),
            _ => Problem::bad("This request is not valid: check the form's values and try again."),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Problem::Forbidden | Problem::Csrf => StatusCode::FORBIDDEN,
            Problem::NotFound => StatusCode::NOT_FOUND,
            Problem::Bad(..) => StatusCode::BAD_REQUEST,
            Problem::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the page says, in `lang`.
    pub fn text(&self, lang: Language) -> String {
        match self {
            Problem::Forbidden => tr(lang, "Your role may not do this.").to_owned(),
            Problem::Csrf => tr(
                lang,
                "This form has expired or did not come from the console: reload the page and try again.",
            )
            .to_owned(),
            Problem::NotFound => tr(lang, "There is no such page or record.").to_owned(),
            Problem::Bad(english, args) => {
                let args: Vec<&dyn std::fmt::Display> =
                    args.iter().map(|a| a as &dyn std::fmt::Display).collect();
                trf(lang, english, &args)
            }
            Problem::Internal(_) => tr(lang, "The server failed; see its log.").to_owned(),
        }
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError::*;
        match err {
            UnknownResident(_) | UnknownTemplate(_) | UnknownCard(_) | UnknownPass(_) => {
                Problem::NotFound
            }
            DuplicateResident(number) => {
                Problem::bad_with("Resident number {} is taken.", &[&number])
            }
            CardTaken => Problem::bad("This card is already registered."),
            NoConsent(number) => {
                Problem::bad_with("Resident {} has no face consent on record.", &[&number])
            }
            Refused(refusal) => super::refusals::problem(&refusal),
            Invalid(detail) => Problem::bad_with("The register refused this value: {}", &[&detail]),
            Pin(refusal) => super::refusals::pin_problem(&refusal),
            other => Problem::Internal(other.to_string()),
        }
    }
}

impl From<super::accounts::AccountError> for Problem {
    fn from(err: super::accounts::AccountError) -> Self {
        Problem::Internal(err.to_string())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        if let Problem::Internal(detail) = &self {
            tracing::error!("console: {detail}");
        }
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KEY_LEN, SiteKey};
    use tower::ServiceExt;

    /// A router of one page that fails with `detail`, behind the guard.
    fn failing(detail: &'static str) -> axum::Router {
        let store = crate::store::Store::in_memory(&SiteKey::from_bytes([7; KEY_LEN])).unwrap();
        let accounts = super::super::accounts::ConsoleDb::in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let site_db = crate::site::site_db::SiteDb::create(&dir.path().join("site.db")).unwrap();
        let state = super::super::Console::new(
            store,
            accounts,
            site_db,
            crate::config::Config::default(),
            std::sync::Arc::new(|| 1_780_000_000),
        );
        axum::Router::new()
            .route(
                "/fail",
                axum::routing::get(move || async move { Problem::Internal(detail.into()) }),
            )
            .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
            .with_state(state)
    }

    #[tokio::test]
    async fn a_server_failure_is_a_500_page_in_the_requests_language_without_its_detail() {
        for (accept, says) in
            [("zh-CN,zh", "服务器出错，请查看其日志。"), ("en-GB", "The server failed")]
        {
            let request = Request::get("/fail")
                .header(header::ACCEPT_LANGUAGE, accept)
                .body(Body::empty())
                .unwrap();
            let response = failing("disk full at /srv").oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert!(response.headers().contains_key("content-security-policy"));
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            let body = String::from_utf8(body.to_vec()).unwrap();
            assert!(body.contains(says), "{body}");
            assert!(!body.contains("disk full"), "the detail goes to the log only: {body}");
        }
    }
}
