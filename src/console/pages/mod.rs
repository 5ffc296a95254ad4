//! The console's pages, one module each, and the routes to them.

pub mod audit;
pub mod backup;
pub mod card_tap;
pub mod doors;
pub mod import;
pub mod lockouts;
pub mod login;
pub mod reports;
pub mod resident;
pub mod residents;
pub mod visitors;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::guard::{Ctx, LANG_COOKIE, Problem, set_cookie};
use super::roles::{Action, Role};
use super::{AppState, layout};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/console.css", get(css))
        .route("/lang/{lang}", get(language))
        .route("/login", get(login::form).post(login::sign_in))
        .route("/logout", post(login::sign_out))
        .route("/residents", get(residents::list).post(residents::add))
        .route("/residents/new", get(residents::new_form))
        .route("/residents/{number}", get(resident::show))
        .route("/residents/{number}/edit", post(resident::edit))
        .route("/residents/{number}/remove", post(resident::remove))
        .route("/residents/{number}/face/delete", post(resident::delete_face))
        .route("/residents/{number}/cards", post(resident::add_card))
        .route("/residents/{number}/cards/{id}/revoke", post(resident::revoke_card))
        .route("/residents/{number}/cards/tap", post(card_tap::request))
        .route("/residents/{number}/cards/tap/{id}", get(card_tap::waiting))
        .route("/residents/{number}/lockout/lift", post(lockouts::lift_own))
        .route("/residents/{number}/lockout/doors", post(lockouts::lift_at_doors))
        .route("/residents/{number}/pin/reset", post(resident::reset_pin))
        .route("/residents/{number}/enrolment", post(resident::book_enrolment))
        .route("/audit", get(audit::list))
        .route("/audit/verify", get(audit::verify))
        .route("/audit/export.csv", get(audit::export_csv))
        .route("/audit/export.jsonl", get(audit::export_jsonl))
        .route("/import", get(import::form).post(import::preview))
        .route("/import/confirm", post(import::confirm))
        .route("/export/residents.csv", get(import::export))
        .route("/reports", get(reports::show))
        .route("/backup", get(backup::form).post(backup::download))
        .route("/visitors", get(visitors::list).post(visitors::create))
        .route("/visitors/{id}/revoke", post(visitors::revoke))
        .route("/doors", get(doors::list))
        .route("/doors/{door}/unlock", post(doors::unlock))
        .fallback(not_found)
}

/// Any other address: the guard shows it as a page in the request's language.
async fn not_found() -> Problem {
    Problem::NotFound
}

/// The first page a role may use.
async fn home(ctx: Ctx) -> Redirect {
    match ctx.session.account.role {
        Role::Auditor => Redirect::to("/audit"),
        _ if ctx.may(Action::FindResidents) => Redirect::to("/residents"),
        _ => Redirect::to("/audit"),
    }
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], layout::CSS).into_response()
}

#[derive(serde::Deserialize)]
struct Back {
    back: Option<String>,
}

/// Switches the language cookie and goes back to the page it was chosen on (a path of this
/// site only).
async fn language(Path(lang): Path<String>, Query(back): Query<Back>) -> Response {
    let lang = if lang == "en" { "en" } else { "zh" };
    let back = back.back.filter(|b| is_local_path(b)).unwrap_or_else(|| "/".to_owned());
    let cookie = set_cookie(LANG_COOKIE, lang, Some(365 * 86_400));
    ([(header::SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}

/// A path of this site: `/`, or `/` and segments of letters, digits, `.`, `_`, `-`, `%`, then
/// perhaps a query of the same and `=&+~`. Nothing a browser could read as another host
/// (`//`, `\`, a tab or newline it strips, a scheme).
fn is_local_path(back: &str) -> bool {
    let (path, query) = back.split_once('?').unwrap_or((back, ""));
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '%');
    let Some(segments) = path.strip_prefix('/') else { return false };
    let path_ok =
        segments.is_empty() || segments.split('/').all(|s| !s.is_empty() && s.chars().all(plain));
    path_ok && query.chars().all(|c| plain(c) || matches!(c, '=' | '&' | '+' | '~'))
}
