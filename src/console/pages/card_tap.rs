//! A resident's new card by a tap at a chosen door ([`crate::site::card_tap`]): the form on the
//! resident's page, the request, and a waiting page that reloads itself every few seconds
//! (no JavaScript) until the card arrived, belonged to someone already, or the time ran out.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::doors::site_db_problem;
use crate::console::AppState;
use crate::console::guard::{Ctx, Problem};
use crate::console::i18n::{tr, trf};
use crate::console::layout::{csrf, page};
use crate::console::roles::Action;
use crate::dates::format_time;
use crate::site::DoorId;
use crate::site::card_tap::{self, TAP_WINDOW_SECS, TapState};
use crate::site::commands::CommandError;

/// How often the waiting page reloads itself, in seconds.
const RELOAD_SECS: u32 = 2;

/// The form on the resident's page: "add by a tap at door [select]" (nothing without doors).
pub fn form(ctx: &Ctx, state: &AppState, number: &str) -> Result<Markup, Problem> {
    let lang = ctx.lang;
    let doors = state.site_db().doors().map_err(site_db_problem)?;
    Ok(html! {
        @if !doors.is_empty() {
            form.inline method="post" action={ "/residents/" (number) "/cards/tap" } {
                (csrf(ctx))
                div {
                    label for="tap-door" { (tr(lang, "Or add by a tap at door")) }
                    select id="tap-door" name="door" {
                        @for d in &doors { option value=(d.door) { (d.door) } }
                    }
                }
                button type="submit" { (trf(lang, "Wait {} s for the card there", &[&TAP_WINDOW_SECS])) }
            }
        }
    })
}

#[derive(Deserialize)]
pub struct TapForm {
    door: String,
}

/// Asks the door for the resident's next card tapped, then shows the waiting page.
pub async fn request(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(number): Path<String>,
    Form(form): Form<TapForm>,
) -> Result<Response, Problem> {
    ctx.require(Action::ManageCards)?;
    let door: DoorId = form.door.trim().parse().map_err(|_| Problem::NotFound)?;
    let now = state.now();
    let site_db = state.site_db();
    let mut register = state.register();
    match card_tap::request(&site_db, &mut register, &door, &number, ctx.operator(), now) {
        Ok(command) => {
            let to = format!("/residents/{number}/cards/tap/{}", command.id);
            Ok(Redirect::to(&to).into_response())
        }
        Err(CommandError::SiteDb(err)) => Err(site_db_problem(err)),
        Err(CommandError::Store(err)) => Err(err.into()),
        Err(err) => Err(Problem::Internal(err.to_string())),
    }
}

/// Where the request stands: waiting (the page reloads itself), added, taken or timed out.
pub async fn waiting(
    ctx: Ctx,
    State(state): State<AppState>,
    Path((number, id)): Path<(String, String)>,
) -> Result<Markup, Problem> {
    ctx.require(Action::ManageCards)?;
    let lang = ctx.lang;
    let found = card_tap::tap_request(&state.site_db(), &id, state.now());
    let tap = found.map_err(site_db_problem)?.filter(|t| t.resident == number);
    let tap = tap.ok_or(Problem::NotFound)?;
    let door = tap.door.to_string();
    let body = html! {
        @match tap.state {
            TapState::Waiting { until } => {
                meta http-equiv="refresh" content=(RELOAD_SECS);
                p.notice role="status" { (trf(lang, "Waiting for the card at door {}: the person taps it on the reader there before {}.", &[&door, &format_time(until)])) }
            }
            TapState::Added => p.notice role="status" { (trf(lang, "The card tapped at door {} was added: it opens every door once the doors have it.", &[&door])) },
            TapState::Taken => p.error role="alert" { (tr(lang, "The card tapped belongs to someone already: nothing was added.")) },
            TapState::TimedOut => p.error role="alert" { (tr(lang, "The time ran out without a card: nothing was added.")) },
            TapState::NoAnswer => p.error role="alert" { (trf(lang, "Door {} has not answered: it may be offline. A card tapped there in time is added when the door is back, and this page then says so.", &[&door])) },
        }
        p { a href={ "/residents/" (number) } { (trf(lang, "Back to resident {}", &[&number])) } }
    };
    Ok(page(&ctx, tr(lang, "A card by a tap"), body))
}
