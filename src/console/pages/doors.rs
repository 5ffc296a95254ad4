//! The doors of the site: online or offline, last seen, replica lag, outbox depth, alarms, the
//! last selftest and the keypad's own lock against guessing, as each door last reported ([`crate::site::status::door_statuses`]), and
//! for managers a remote unlock with a required reason ([`crate::site::commands`]): audited
//! with the account's name and the reason, carried out by the door within
//! [`UNLOCK_VALID_SECS`] or not at all, its outcome shown here once the door reported it.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::AppState;
use crate::console::guard::{Ctx, Problem};
use crate::console::i18n::{tr, trf};
use crate::console::layout::{csrf, notice, page};
use crate::console::roles::Action;
use crate::dates::format_time;
use crate::language::Language;
use crate::site::DoorId;
use crate::site::commands::{self, CommandError, MAX_REASON_CHARS, UNLOCK_VALID_SECS, short};
use crate::site::site_db::SiteDbError;
use crate::site::status::door_statuses_at;

/// Commands shown per door.
const RECENT: usize = 3;

#[derive(Deserialize)]
pub struct Note {
    note: Option<String>,
}

fn time(at: Option<i64>) -> String {
    at.map(format_time).unwrap_or_else(|| "–".into())
}

fn count(value: Option<u64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_else(|| "–".into())
}

/// A command's state in words.
fn outcome(lang: Language, outcome: Option<&str>, sent: bool) -> &'static str {
    match outcome {
        Some("opened") => tr(lang, "opened by the door"),
        Some("expired") => tr(lang, "arrived too late: the door stayed locked"),
        Some(_) => tr(lang, "expired before it was sent: the door stayed locked"),
        None if sent => tr(lang, "sent, no report from the door yet"),
        None => tr(lang, "waiting for the site controller"),
    }
}

/// An alarm's name ([`crate::site::outbox::DoorAlarms::names`]) in the page's language.
fn alarm_name(lang: Language, name: &str) -> &'static str {
    match name {
        "held open" => tr(lang, "held open"),
        "forced" => tr(lang, "forced open"),
        _ => tr(lang, "fire: unlocked"),
    }
}

pub(super) fn site_db_problem(err: SiteDbError) -> Problem {
    match err {
        SiteDbError::UnknownDoor(_) => Problem::NotFound,
        other => Problem::Internal(other.to_string()),
    }
}

pub async fn list(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(note): Query<Note>,
) -> Result<Markup, Problem> {
    ctx.require(Action::ViewDoors)?;
    let lang = ctx.lang;
    let site_db = state.site_db();
    let doors = door_statuses_at(&site_db, state.now()).map_err(site_db_problem)?;
    let unlock = ctx.may(Action::RemoteUnlock);
    let sent = (note.note.as_deref() == Some("unlock_sent")).then(|| {
        trf(
            lang,
            "The unlock is on its way: the door opens once if it gets it within {} seconds.",
            &[&UNLOCK_VALID_SECS],
        )
    });
    let mut rows = Vec::new();
    for door in &doors {
        let mut recent = site_db.recent_commands(&door.door, RECENT).map_err(site_db_problem)?;
        recent.retain(|c| c.command.kind == commands::CommandKind::Unlock);
        rows.push((door, recent));
    }
    let body = html! {
        (notice(sent.as_deref()))
        @if doors.is_empty() { p { (tr(lang, "No door on this site yet: add one with `facegate site door add`.")) } }
        @for (door, recent) in &rows {
            section.door aria-labelledby={ "door-" (door.door) } {
                h2 id={ "door-" (door.door) } {
                    (door.door) " · "
                    @if door.online { span.ok { (tr(lang, "online")) } }
                    @else { span.error { (tr(lang, "offline")) } }
                }
                dl {
                    dt { (tr(lang, "Last seen")) } dd { (time(door.last_seen)) }
                    dt { (tr(lang, "Replica revision")) } dd { (count(door.replica_revision)) }
                    dt { (tr(lang, "Behind the site (revisions)")) } dd { (count(door.lag)) }
                    dt { (tr(lang, "Waiting to be sent (outbox)")) } dd { (count(door.outbox_depth)) }
                    dt { (tr(lang, "Alarms now")) }
                    dd {
                        @let names = door.alarms_now.names();
                        @if names.is_empty() { (tr(lang, "none")) }
                        @else { strong.error { @for (i, name) in names.iter().enumerate() {
                            @if i > 0 { ", " } (alarm_name(lang, name))
                        } } }
                    }
                    dt { (tr(lang, "Alarms in the last 24 hours")) } dd { (door.alarms) }
                    dt { (tr(lang, "Keypad locked against guessing (unknown numbers and PINs)")) }
                    dd { @match door.keypad_locked_until {
                        Some(until) => strong.error { (trf(lang, "until {}", &[&format_time(until)])) },
                        None => (tr(lang, "no")),
                    } }
                    dt { (tr(lang, "Last selftest")) }
                    dd { @match door.last_selftest {
                        Some(t) if t.ok => { (format_time(t.at)) " · " (tr(lang, "every part passed")) }
                        Some(t) => { (format_time(t.at)) " · " strong.error { (tr(lang, "some parts failed")) } }
                        None => { "–" }
                    } }
                }
                @if !recent.is_empty() {
                    h3 { (tr(lang, "Remote unlocks")) }
                    ul { @for c in recent {
                        li { (format_time(c.command.issued_at)) " · " (c.operator) " · " (short(&c.command.id)) " · "
                            (outcome(lang, c.outcome.as_deref(), c.sent_at.is_some())) }
                    } }
                }
                @if unlock {
                    form.stack method="post" action={ "/doors/" (door.door) "/unlock" } {
                        (csrf(&ctx))
                        label for={ "reason-" (door.door) } { (tr(lang, "Reason (kept in the audit log)")) }
                        input id={ "reason-" (door.door) } name="reason" required maxlength=(MAX_REASON_CHARS);
                        button.danger type="submit" { (tr(lang, "Unlock once")) }
                    }
                }
            }
        }
    };
    Ok(page(&ctx, tr(lang, "Doors"), body))
}

#[derive(Deserialize)]
pub struct UnlockForm {
    #[serde(default)]
    reason: String,
}

/// A manager's remote unlock: refused without a reason, audited, queued for `site run`.
pub async fn unlock(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(door): Path<String>,
    Form(form): Form<UnlockForm>,
) -> Result<Response, Problem> {
    ctx.require(Action::RemoteUnlock)?;
    let door: DoorId = door.parse().map_err(|_| Problem::NotFound)?;
    let now = state.now();
    let site_db = state.site_db();
    let mut register = state.register();
    match commands::remote_unlock(&site_db, &mut register, &door, &form.reason, ctx.operator(), now)
    {
        Ok(_) => Ok(Redirect::to("/doors?note=unlock_sent").into_response()),
        Err(CommandError::NoReason) => Err(Problem::bad("A remote unlock needs a reason.")),
        Err(CommandError::LongReason) => {
            Err(Problem::bad_with("The reason is longer than {} characters.", &[&MAX_REASON_CHARS]))
        }
        Err(CommandError::SiteDb(err)) => Err(site_db_problem(err)),
        Err(CommandError::Store(err)) => Err(err.into()),
        Err(err @ CommandError::Random(_)) => Err(Problem::Internal(err.to_string())),
    }
}
