//! Visitor passes: the open ones (revoke), and a form that issues one (the code and its QR code
//! are shown once, on the page that answers the form, never in a link).

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::AppState;
use crate::console::guard::{Ctx, Problem};
use crate::console::i18n::{tr, trf};
use crate::console::layout::{csrf, page};
use crate::console::qr;
use crate::console::roles::Action;
use crate::dates::format_time;
use crate::manage;
use crate::site::ids::DoorId;
use crate::store::NewVisitorPass;

/// The list and the form, with the code of a pass just issued.
fn visitors_page(
    ctx: &Ctx,
    state: &AppState,
    issued: Option<(String, i64)>,
) -> Result<Markup, Problem> {
    let lang = ctx.lang;
    let passes = manage::visitor_passes(&state.register(), state.now())?;
    let body = html! {
        @if let Some((code, until)) = &issued {
            div.notice.issued role="status" {
                p { (tr(lang, "The visitor's code (shown only now): give it to the visitor, who types it after tapping Visitor at the door, or shows this QR code to the door's camera.")) }
                p.code { strong { (code) } }
                (qr::svg(code, tr(lang, "QR code of the visitor's code")))
                p { (trf(lang, "Valid until {}.", &[&format_time(*until)])) }
                p.muted { (tr(lang, "Print this page to hand the code over on paper: only the code and its QR code are printed.")) }
            }
        }
        h2 { (tr(lang, "Issue a pass")) }
        form.stack method="post" action="/visitors" {
            (csrf(ctx))
            label for="label" { (tr(lang, "Label (seen by managers only)")) }
            input id="label" name="label" required;
            label for="company" { (tr(lang, "Delivery company (for a courier code)")) }
            input id="company" name="company";
            label for="hours" { (tr(lang, "Valid for (hours, from now)")) }
            input id="hours" name="hours" inputmode="numeric" value="24" required;
            label for="entries" { (tr(lang, "Entries")) }
            input id="entries" name="entries" inputmode="numeric" value="1" required;
            label for="doors" { (tr(lang, "Doors (ids, separated by commas; a single-entry pass opens one door)")) }
            input id="doors" name="doors" required;
            button type="submit" { (tr(lang, "Issue the pass")) }
        }
        h2 { (tr(lang, "Open passes")) }
        @if passes.is_empty() { p { (tr(lang, "No open pass.")) } }
        @else {
            table {
                thead { tr {
                    th scope="col" { (tr(lang, "Label")) } th scope="col" { (tr(lang, "Valid until")) }
                    th scope="col" { (tr(lang, "Entries left")) } th scope="col" { (tr(lang, "Doors")) }
                    th scope="col" { (tr(lang, "Status")) }
                } }
                tbody { @for p in &passes { tr {
                    td { (p.label) @if let Some(c) = &p.company { br; span.courier { (trf(lang, "Courier code of {}", &[c])) } } }
                    td { (format_time(p.valid_until)) }
                    td { (p.entries_left) " / " (p.entries) }
                    td { (p.doors.iter().map(DoorId::as_str).collect::<Vec<_>>().join(", ")) }
                    td {
                        @if p.revoked_at.is_some() { (tr(lang, "revoked")) }
                        @else {
                            form method="post" action={ "/visitors/" (p.id) "/revoke" } {
                                (csrf(ctx)) button.danger type="submit" { (tr(lang, "Revoke")) }
                            }
                        }
                    }
                } } }
            }
        }
    };
    Ok(page(ctx, tr(lang, "Visitor passes"), body))
}

pub async fn list(ctx: Ctx, State(state): State<AppState>) -> Result<Markup, Problem> {
    ctx.require(Action::VisitorPasses)?;
    visitors_page(&ctx, &state, None)
}

#[derive(Deserialize)]
pub struct NewPass {
    label: String,
    #[serde(default)]
    company: String,
    hours: String,
    entries: String,
    doors: String,
}

pub async fn create(
    ctx: Ctx,
    State(state): State<AppState>,
    Form(form): Form<NewPass>,
) -> Result<Markup, Problem> {
    ctx.require(Action::VisitorPasses)?;
    let number = |text: &str| text.trim().parse::<u32>().ok().filter(|&n| n > 0);
    let hours = number(&form.hours)
        .ok_or_else(|| Problem::bad("The hours must be a whole number above 0."))?;
    let entries = number(&form.entries)
        .ok_or_else(|| Problem::bad("The entries must be a whole number above 0."))?;
    let doors = form
        .doors
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<DoorId>().map_err(|_| Problem::bad_with("{} is not a door id.", &[&d])))
        .collect::<Result<Vec<_>, _>>()?;
    let now = state.now();
    let company = form.company.trim();
    let new = NewVisitorPass {
        label: form.label.trim().to_owned(),
        company: (!company.is_empty()).then(|| company.to_owned()),
        valid_from: now,
        valid_until: now + i64::from(hours) * 3_600,
        entries,
        doors,
    };
    let issued = manage::create_visitor_pass(&mut state.register(), &new, now, ctx.operator())?;
    visitors_page(&ctx, &state, Some((issued.code, new.valid_until)))
}

pub async fn revoke(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    ctx.require(Action::VisitorPasses)?;
    let now = state.now();
    manage::revoke_visitor_pass(&mut state.register(), id, now, ctx.operator())?;
    Ok(Redirect::to("/visitors").into_response())
}
