//! A resident's page: details (edit, move-out date, suspend, remove), consent records and face
//! data (delete), cards (add by number or by a tap at a door, revoke) and the PIN lockouts at
//! the doors and in the register (lift: [`super::lockouts`]). Each part shows only to a role
//! that may use it; each change goes through [`crate::manage`] or [`crate::site`].

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::residents::{ResidentForm, fields, status_name};
use crate::console::AppState;
use crate::console::guard::{Ctx, Problem};
use crate::console::i18n::{tr, trf};
use crate::console::layout::{csrf, notice, page};
use crate::console::roles::Action;
use crate::credentials::{CardNumberError, CardUid};
use crate::dates::format_time;
use crate::language::Language;
use crate::manage;
use crate::store::ResidentStatus;
use crate::store::pin_resets::RESET_CODE_SECONDS;

#[derive(Deserialize)]
pub struct Note {
    note: Option<String>,
}

/// The notice after a change, by its code in `?note=`.
fn note_text(lang: Language, code: &str) -> Option<&'static str> {
    Some(match code {
        "added" => tr(lang, "The resident was added."),
        "saved" => tr(lang, "The changes were saved."),
        "face_deleted" => tr(
            lang,
            "Face data deleted: the consent is withdrawn and the register's templates are gone. Connected doors delete theirs within seconds, a door cut off from the site when it reconnects.",
        ),
        "card_added" => tr(lang, "The card was added."),
        "card_revoked" => tr(
            lang,
            "The card was revoked: connected doors refuse it within seconds, a door cut off from the site once it reconnects.",
        ),
        "lifted" => tr(lang, "The lockout was lifted."),
        "booked" => tr(
            lang,
            "The enrolment is booked: the resident starts it at the door with their PIN or card.",
        ),
        "no_lockout" => tr(lang, "There was no lockout."),
        "lift_sent" => tr(
            lang,
            "The lift was sent: the resident's PIN works at the door as soon as the door has it.",
        ),
        "no_door_lockout" => tr(lang, "No door has a lockout of this resident now."),
        _ => return None,
    })
}

fn back(number: &str, note: &str) -> Response {
    Redirect::to(&format!("/residents/{number}?note={note}")).into_response()
}

fn time(at: Option<i64>) -> String {
    at.map(format_time).unwrap_or_else(|| "–".into())
}

pub async fn show(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(number): Path<String>,
    Query(note): Query<Note>,
) -> Result<Markup, Problem> {
    ctx.require(Action::FindResidents)?;
    let note = note.note.as_deref().and_then(|c| note_text(ctx.lang, c));
    resident_page(&ctx, &state, &number, note, None)
}

/// The resident's page, with a notice, or with a PIN-reset code just issued (shown once).
fn resident_page(
    ctx: &Ctx,
    state: &AppState,
    number: &str,
    note: Option<&str>,
    reset_code: Option<&str>,
) -> Result<Markup, Problem> {
    let lang = ctx.lang;
    let now = state.now();
    // Before the register is locked: the order is `site.db`, then the register.
    let tap_form = super::card_tap::form(ctx, state, number)?;
    let site_db = state.site_db();
    let store = state.register();
    let r = store.resident(number)?;
    let lockouts = ctx
        .may(Action::LiftLockouts)
        .then(|| super::lockouts::section(ctx, &site_db, &store, &r, now))
        .transpose()?;
    drop(site_db);
    let body = html! {
        (notice(note))
        @if let Some(code) = reset_code {
            div.notice role="status" {
                p { (tr(lang, "The PIN-reset code (shown only now): give it to the resident, who types it at a door with their number and then chooses a new PIN. Managers never learn residents' PINs.")) }
                p.code { strong { (code) } }
                p { (trf(lang, "It works once, until {}.", &[&format_time(now + RESET_CODE_SECONDS)])) }
            }
        }
        dl {
            dt { (tr(lang, "Number")) } dd { (r.number) }
            dt { (tr(lang, "Name")) } dd { (r.name) }
            dt { (tr(lang, "Unit")) } dd { (r.unit) }
            dt { (tr(lang, "Status")) } dd { (status_name(lang, r.status)) }
            dt { (tr(lang, "Valid from")) } dd { (time(r.valid_from)) }
            dt { (tr(lang, "Move-out date")) } dd { (time(r.valid_until)) }
        }
        @if ctx.may(Action::EditResidents) {
            h2 { (tr(lang, "PIN")) }
            form.inline method="post" action={ "/residents/" (r.number) "/pin/reset" } {
                (csrf(ctx)) button type="submit" { (tr(lang, "Issue a one-time PIN-reset code")) }
            }
            h2 { (tr(lang, "Edit")) }
            form.stack method="post" action={ "/residents/" (r.number) "/edit" } {
                (csrf(ctx))
                (fields(lang, Some(&r)))
                label for="status" { (tr(lang, "Status")) }
                select id="status" name="status" {
                    @for s in [ResidentStatus::Active, ResidentStatus::Suspended] {
                        option value=(s.as_str()) selected[s == r.status] { (status_name(lang, s)) }
                    }
                }
                button type="submit" { (tr(lang, "Save")) }
            }
        }
        @if ctx.may(Action::FaceData) {
            h2 { (tr(lang, "Face recognition")) }
            @match store.consent(number)? {
                Some(c) => p { (trf(lang, "Consent given {} (notice version {}, text SHA-256 {}), recorded by {}.", &[&format_time(c.granted_at), &c.text_version, &c.text_sha256, &c.operator])) @if let Some(g) = &c.guardian { " " (trf(lang, "Guardian: {}.", &[g])) } },
                None => p { (tr(lang, "No consent on record: this resident uses PIN and card only.")) },
            }
            @let templates = store.templates_of(number)?;
            @if templates.is_empty() {
                p { (tr(lang, "No face data.")) }
            } @else {
                table {
                    thead { tr { th scope="col" { (tr(lang, "Template")) } th scope="col" { (tr(lang, "Enrolled")) } th scope="col" { (tr(lang, "Last used")) } } }
                    tbody { @for t in &templates { tr { td { (t.id) } td { (format_time(t.created_at)) } td { (time(t.last_used_at)) } } } }
                }
                form.inline method="post" action={ "/residents/" (r.number) "/face/delete" } {
                    (csrf(ctx))
                    button.danger type="submit" { (tr(lang, "Delete face data (withdraws consent)")) }
                }
            }
            h3 { (tr(lang, "Book an enrolment at a door")) }
            @let booked: Vec<_> = manage::bookings(&store, now)?.into_iter().filter(|b| b.resident_id == r.id).collect();
            @for b in &booked {
                p { (trf(lang, "Booked at {} until {}.", &[&b.door.as_ref().map_or_else(|| tr(lang, "any door").to_owned(), |d| d.to_string()), &format_time(b.until)])) }
            }
            form.inline method="post" action={ "/residents/" (r.number) "/enrolment" } {
                (csrf(ctx))
                div { label for="door" { (tr(lang, "Door id (empty: any door)")) } input id="door" name="door"; }
                div { label for="minutes" { (tr(lang, "Within (minutes)")) } input id="minutes" name="minutes" inputmode="numeric" value="30" required; }
                button type="submit" { (tr(lang, "Book")) }
            }
            p.muted { (tr(lang, "Faces are enrolled only at a door: book an enrolment, the resident reads the notice there and the camera captures live frames. The console never takes a photo upload, because a photo cannot show that the person is present and consenting, and an uploaded file could be anyone's.")) }
        }
        @if ctx.may(Action::ManageCards) {
            h2 { (tr(lang, "Cards")) }
            @let cards = store.cards_of(number)?;
            @let active: Vec<_> = cards.iter().filter(|c| c.revoked_at.is_none()).collect();
            @if active.is_empty() { p { (tr(lang, "No active card.")) } }
            @else {
                table {
                    thead { tr { th scope="col" { (tr(lang, "Label")) } th scope="col" { (tr(lang, "Added")) } th scope="col" { span.skip { (tr(lang, "Revoke")) } } } }
                    tbody { @for c in active { tr {
                        td { (c.label) } td { (format_time(c.created_at)) }
                        td { form method="post" action={ "/residents/" (r.number) "/cards/" (c.id) "/revoke" } {
                            (csrf(ctx)) button.danger type="submit" { (tr(lang, "Revoke")) }
                        } }
                    } } }
                }
            }
            form.inline method="post" action={ "/residents/" (r.number) "/cards" } {
                (csrf(ctx))
                div { label for="card" { (tr(lang, "Card number (as printed on the card)")) } input id="card" name="card" required autocomplete="off"; }
                div { label for="label" { (tr(lang, "Label")) } input id="label" name="label"; }
                button type="submit" { (tr(lang, "Add a card")) }
            }
            (tap_form)
        }
        @if let Some(lockouts) = lockouts { (lockouts) }
        @if ctx.may(Action::EditResidents) {
            h2 { (tr(lang, "Remove")) }
            form.inline method="post" action={ "/residents/" (r.number) "/remove" } {
                (csrf(ctx))
                div {
                    label for="confirm" { (tr(lang, "Type the resident's number to confirm")) }
                    input id="confirm" name="confirm" required autocomplete="off";
                }
                button.danger type="submit" { (tr(lang, "Remove the resident and all their data")) }
            }
        }
    };
    Ok(page(ctx, &trf(lang, "Resident {}", &[&r.number]), body))
}

pub async fn edit(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(number): Path<String>,
    Form(form): Form<ResidentForm>,
) -> Result<Response, Problem> {
    ctx.require(Action::EditResidents)?;
    let edit = form.to_new()?;
    let status = match form.status.as_str() {
        "" => None,
        s => Some(
            s.parse::<ResidentStatus>().map_err(|_| Problem::bad("Choose active or suspended."))?,
        ),
    };
    let now = state.now();
    manage::edit_resident(&mut state.register(), &number, &edit, status, now, ctx.operator())?;
    Ok(back(&number, "saved"))
}

#[derive(Deserialize)]
pub struct Confirm {
    #[serde(default)]
    confirm: String,
}

pub async fn remove(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(number): Path<String>,
    Form(form): Form<Confirm>,
) -> Result<Response, Problem> {
    ctx.require(Action::EditResidents)?;
    if form.confirm.trim() != number {
        return Err(Problem::bad("Type the resident's number to confirm the removal."));
    }
    let now = state.now();
    manage::remove_resident(&mut state.register(), &number, now, ctx.operator())?;
    Ok(Redirect::to("/residents").into_response())
}

pub async fn delete_face(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> Result<Response, Problem> {
    ctx.require(Action::FaceData)?;
    let now = state.now();
    manage::delete_face_data(&mut state.register(), &number, now, ctx.operator())?;
    Ok(back(&number, "face_deleted"))
}

#[derive(Deserialize)]
pub struct NewCard {
    card: String,
    #[serde(default)]
    label: String,
}

pub async fn add_card(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(number): Path<String>,
    Form(form): Form<NewCard>,
) -> Result<Response, Problem> {
    ctx.require(Action::ManageCards)?;
    let card = Zeroizing::new(form.card);
    let uid: CardUid = card.parse().map_err(|_: CardNumberError| {
        Problem::bad("A card number is 1 to 16 digits, or hex: and the UID bytes.")
    })?;
    let now = state.now();
    manage::add_card(&mut state.register(), &number, &uid, form.label.trim(), now, ctx.operator())?;
    Ok(back(&number, "card_added"))
}

pub async fn revoke_card(
    ctx: Ctx,
    State(state): State<AppState>,
    Path((number, id)): Path<(String, i64)>,
) -> Result<Response, Problem> {
    ctx.require(Action::ManageCards)?;
    let now = state.now();
    let mut store = state.register();
    let resident = store.resident(&number)?;
    if !store.cards_of(&number)?.iter().any(|c| c.id == id && c.resident_id == resident.id) {
        return Err(Problem::NotFound);
    }
    manage::revoke_card(&mut store, id, now, ctx.operator())?;
    Ok(back(&number, "card_revoked"))
}

pub async fn reset_pin(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> Result<Markup, Problem> {
    ctx.require(Action::EditResidents)?;
    let now = state.now();
    let code = manage::issue_pin_reset(&mut state.register(), &number, now, ctx.operator())?;
    let code = Zeroizing::new(code);
    resident_page(&ctx, &state, &number, None, Some(&code))
}

#[derive(Deserialize)]
pub struct NewBooking {
    #[serde(default)]
    door: String,
    minutes: String,
}

pub async fn book_enrolment(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(number): Path<String>,
    Form(form): Form<NewBooking>,
) -> Result<Response, Problem> {
    ctx.require(Action::FaceData)?;
    let minutes: i64 = form
        .minutes
        .trim()
        .parse()
        .ok()
        .filter(|m| (1..=7 * 24 * 60).contains(m))
        .ok_or_else(|| Problem::bad("The minutes must be 1 to 10080."))?;
    let now = state.now();
    let door = Some(form.door.trim()).filter(|d| !d.is_empty());
    let until = now + minutes * 60;
    manage::book_enrolment(&mut state.register(), &number, door, until, now, ctx.operator())?;
    Ok(back(&number, "booked"))
}
