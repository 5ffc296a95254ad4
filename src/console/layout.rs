//! The page shell every console page shares: the header with the account, the navigation its
//! role may use, the language switch and the sign-out form; one CSS file, no JavaScript.

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, html};

use super::guard::Ctx;
use super::i18n::{code, tr};
use super::roles::Action;
use crate::language::Language;

/// The console's only style sheet (served at `/console.css`).
pub const CSS: &str = include_str!("console.css");

/// A hidden CSRF field for a form of this session.
pub fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.session.csrf); }
}

/// A full page for a signed-in account.
pub fn page(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let lang = ctx.lang;
    let links = [
        (Action::FindResidents, "/residents", tr(lang, "Residents")),
        (Action::VisitorPasses, "/visitors", tr(lang, "Visitor passes")),
        (Action::ViewDoors, "/doors", tr(lang, "Doors")),
        (Action::ReadAudit, "/audit", tr(lang, "Audit log")),
        (Action::RegisterExport, "/import", tr(lang, "Import and export")),
        (Action::Reports, "/reports", tr(lang, "Reports")),
        (Action::RegisterExport, "/backup", tr(lang, "Backup")),
    ];
    html! {
        (DOCTYPE)
        html lang=(code(lang)) {
            (head(title))
            body {
                a.skip href="#main" { (tr(lang, "Skip to content")) }
                header {
                    span.brand { "facegate" }
                    nav aria-label=(tr(lang, "Main")) {
                        ul {
                            @for (action, href, label) in links {
                                @if ctx.may(action) { li { a href=(href) { (label) } } }
                            }
                        }
                    }
                    div.account {
                        span { (ctx.session.account.name) " · " (role_name(lang, ctx)) }
                        (language_switch(lang, &ctx.here))
                        form method="post" action="/logout" {
                            (csrf(ctx))
                            button type="submit" { (tr(lang, "Sign out")) }
                        }
                    }
                }
                main id="main" { h1 { (title) } (body) }
            }
        }
    }
}

fn role_name(lang: Language, ctx: &Ctx) -> &'static str {
    use super::roles::Role::*;
    match ctx.session.account.role {
        Manager => tr(lang, "manager"),
        Caretaker => tr(lang, "caretaker"),
        Auditor => tr(lang, "auditor"),
    }
}

/// A link to the same page in the other language (a cookie, no change on the server).
pub fn language_switch(lang: Language, here: &str) -> Markup {
    let back: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
    html! {
        @match lang {
            Language::Zh => a href={ "/lang/en?back=" (back) } lang="en" { "English" },
            Language::En => a href={ "/lang/zh?back=" (back) } lang="zh" { "中文" },
        }
    }
}

/// `<head>` with the title and the style sheet.
pub fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · facegate" }
            link rel="stylesheet" href="/console.css";
        }
    }
}

/// A short page for a refused or failed request, in the request's language (it links home).
pub fn problem_page(lang: Language, status: StatusCode, text: &str) -> Markup {
    let title = match status {
        StatusCode::NOT_FOUND => tr(lang, "Not found"),
        StatusCode::FORBIDDEN => tr(lang, "Refused"),
        s if s.is_server_error() => tr(lang, "Server error"),
        _ => tr(lang, "Bad request"),
    };
    html! {
        (DOCTYPE)
        html lang=(code(lang)) {
            (head(title))
            body {
                main id="main" {
                    h1 { (title) " (" (status.as_u16()) ")" }
                    p.error role="alert" { (text) }
                    p { a href="/" { (tr(lang, "Back to the console")) } }
                }
            }
        }
    }
}

/// A notice after a change, shown at the top of the page it led to.
pub fn notice(text: Option<&str>) -> Markup {
    html! { @if let Some(text) = text { p.notice role="status" { (text) } } }
}
