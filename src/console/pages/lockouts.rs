//! A resident's PIN lockouts on their page ([`crate::site::lockouts`]): each door where the
//! resident is locked out now (until when, after how many wrong PINs), with a lift for that door
//! or one for every such door, and the register's own lockout (wrong PINs checked against the
//! register itself). A lift at a door is a command the door carries out when it gets it.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::doors::site_db_problem;
use crate::console::AppState;
use crate::console::guard::{Ctx, Problem};
use crate::console::i18n::{tr, trf};
use crate::console::layout::csrf;
use crate::console::roles::Action;
use crate::credentials::lockout::resident_key;
use crate::dates::format_time;
use crate::manage::{self, Lockout};
use crate::site::DoorId;
use crate::site::commands::CommandError;
use crate::site::lockouts::{self, LIFT_VALID_SECS};
use crate::site::site_db::SiteDb;
use crate::store::{Resident, Store};

/// The lockouts' part of the resident's page.
pub fn section(
    ctx: &Ctx,
    site_db: &SiteDb,
    store: &Store,
    r: &Resident,
    now: i64,
) -> Result<Markup, Problem> {
    let lang = ctx.lang;
    let at_doors = lockouts::of_resident(site_db, r.id, now).map_err(site_db_problem)?;
    let own = store.lockout(&resident_key(&r.number))?;
    let lift = format!("/residents/{}/lockout/doors", r.number);
    Ok(html! {
        h2 { (tr(lang, "PIN lockouts")) }
        p.muted { (trf(lang, "Wrong PINs lock the resident's PIN at the door where they were typed; the doors report their lockouts here. A lift is sent to the door, which clears the lockout if it gets the lift within {} s.", &[&LIFT_VALID_SECS])) }
        @if at_doors.is_empty() {
            p { (tr(lang, "Not locked out at any door.")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (tr(lang, "Door")) }
                    th scope="col" { (tr(lang, "Locked until")) }
                    th scope="col" { (tr(lang, "Wrong PINs")) }
                    th scope="col" { span.skip { (tr(lang, "Lift")) } }
                } }
                tbody { @for l in &at_doors { tr {
                    td { (l.door) } td { (format_time(l.locked_until)) } td { (l.failures) }
                    td { form method="post" action=(lift) {
                        (csrf(ctx)) input type="hidden" name="door" value=(l.door);
                        button type="submit" { (trf(lang, "Lift at {}", &[&l.door])) }
                    } }
                } } }
            }
            form.inline method="post" action=(lift) {
                (csrf(ctx)) button type="submit" { (tr(lang, "Lift at every door")) }
            }
        }
        h3 { (tr(lang, "The register's own lockout")) }
        @if own.locked_until.is_some_and(|until| until > now) {
            p { (trf(lang, "Locked until {} after {} wrong PINs.", &[&format_time(own.locked_until.unwrap_or_default()), &own.failures])) }
        } @else {
            p { (trf(lang, "Not locked ({} recent wrong PINs).", &[&own.failures])) }
        }
        form.inline method="post" action={ "/residents/" (r.number) "/lockout/lift" } {
            (csrf(ctx)) button type="submit" { (tr(lang, "Lift the lockout")) }
        }
    })
}

fn back(number: &str, note: &str) -> Response {
    Redirect::to(&format!("/residents/{number}?note={note}")).into_response()
}

#[derive(Deserialize)]
pub struct LiftForm {
    /// One door; empty or absent: every door where the resident is locked out.
    #[serde(default)]
    door: String,
}

/// Sends a lift to one door or to every door where the resident is locked out.
pub async fn lift_at_doors(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(number): Path<String>,
    Form(form): Form<LiftForm>,
) -> Result<Response, Problem> {
    ctx.require(Action::LiftLockouts)?;
    let door = match form.door.trim() {
        "" => None,
        door => Some(door.parse::<DoorId>().map_err(|_| Problem::NotFound)?),
    };
    let now = state.now();
    let site_db = state.site_db();
    let mut register = state.register();
    let operator = ctx.operator();
    match lockouts::request_lift(&site_db, &mut register, &number, door.as_ref(), operator, now) {
        Ok(sent) if sent.is_empty() => Ok(back(&number, "no_door_lockout")),
        Ok(_) => Ok(back(&number, "lift_sent")),
        Err(CommandError::SiteDb(err)) => Err(site_db_problem(err)),
        Err(CommandError::Store(err)) => Err(err.into()),
        Err(err) => Err(Problem::Internal(err.to_string())),
    }
}

/// Lifts the register's own lockout of the resident.
pub async fn lift_own(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> Result<Response, Problem> {
    ctx.require(Action::LiftLockouts)?;
    let now = state.now();
    let mut store = state.register();
    let lifted = manage::lift_lockout(&mut store, Lockout::Resident(&number), now, ctx.operator())?;
    Ok(back(&number, if lifted { "lifted" } else { "no_lockout" }))
}
