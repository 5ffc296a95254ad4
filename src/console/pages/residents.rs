//! The residents list (searched, paged) and the form that adds one.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::AppState;
use crate::console::guard::{Ctx, Problem};
use crate::console::i18n::{tr, trf};
use crate::console::layout::{csrf, page};
use crate::console::roles::Action;
use crate::dates::{format_time, parse_date};
use crate::language::Language;
use crate::manage;
use crate::store::{NewResident, Resident, ResidentStatus};

/// Residents on one page of the list.
pub const PAGE_SIZE: usize = 50;

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: usize,
}

pub async fn list(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Markup, Problem> {
    ctx.require(Action::FindResidents)?;
    let lang = ctx.lang;
    let offset = (query.page.checked_mul(PAGE_SIZE))
        .filter(|offset| i64::try_from(*offset).is_ok())
        .ok_or_else(|| Problem::bad_with("There is no page {}.", &[&query.page]))?;
    let (residents, total) = {
        let store = state.register();
        if query.q.trim().is_empty() {
            store.residents_page(offset, PAGE_SIZE)?
        } else {
            store.search_residents_page(query.q.trim(), offset, PAGE_SIZE)?
        }
    };
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let link = |page: usize| {
        let q: String = form_urlencoded::byte_serialize(query.q.as_bytes()).collect();
        format!("/residents?q={q}&page={page}")
    };
    let body = html! {
        form.inline method="get" action="/residents" role="search" {
            div {
                label for="q" { (tr(lang, "Search by number, name or unit")) }
                input id="q" name="q" type="search" value=(query.q);
            }
            button type="submit" { (tr(lang, "Search")) }
            @if ctx.may(Action::EditResidents) {
                a href="/residents/new" { (tr(lang, "Add a resident")) }
            }
        }
        p.muted { (trf(lang, "{} residents", &[&total])) }
        table.residents {
            thead { tr {
                th scope="col" { (tr(lang, "Number")) }
                th scope="col" { (tr(lang, "Name")) }
                th scope="col" { (tr(lang, "Unit")) }
                th scope="col" { (tr(lang, "Status")) }
                th scope="col" { (tr(lang, "Valid until")) }
                @if ctx.may(Action::FaceData) { th scope="col" { (tr(lang, "Face")) } }
            } }
            tbody {
                @for r in &residents { (row(&ctx, r)) }
            }
        }
        nav.pager aria-label=(tr(lang, "Pages")) {
            @if query.page > 0 { a href=(link(query.page - 1)) rel="prev" { (tr(lang, "Previous page")) } }
            span { (trf(lang, "Page {} of {}", &[&(query.page + 1), &pages])) }
            @if query.page + 1 < pages { a href=(link(query.page + 1)) rel="next" { (tr(lang, "Next page")) } }
        }
    };
    Ok(page(&ctx, tr(lang, "Residents"), body))
}

fn row(ctx: &Ctx, r: &Resident) -> Markup {
    let lang = ctx.lang;
    html! {
        tr {
            td { a href={ "/residents/" (r.number) } { (r.number) } }
            td { (r.name) }
            td { (r.unit) }
            td { (status_name(lang, r.status)) }
            td { (r.valid_until.map(format_time).unwrap_or_default()) }
            @if ctx.may(Action::FaceData) {
                td { @if r.templates > 0 { (tr(lang, "enrolled")) } @else { "–" } }
            }
        }
    }
}

/// A status in words.
pub fn status_name(lang: Language, status: ResidentStatus) -> &'static str {
    match status {
        ResidentStatus::Active => tr(lang, "active"),
        ResidentStatus::Suspended => tr(lang, "suspended"),
    }
}

pub async fn new_form(ctx: Ctx) -> Result<Markup, Problem> {
    ctx.require(Action::EditResidents)?;
    let lang = ctx.lang;
    let body = html! {
        form.stack method="post" action="/residents" {
            (csrf(&ctx))
            (fields(lang, None))
            button type="submit" { (tr(lang, "Add")) }
        }
    };
    Ok(page(&ctx, tr(lang, "Add a resident"), body))
}

/// The resident form's fields, filled from `resident` when editing.
pub fn fields(lang: Language, resident: Option<&Resident>) -> Markup {
    let date = |at: Option<i64>| at.map(|a| format_time(a)[..10].to_owned()).unwrap_or_default();
    html! {
        @if resident.is_none() {
            label for="number" { (tr(lang, "Number (typed on the keypad, 1 to 12 digits)")) }
            input id="number" name="number" required inputmode="numeric" pattern="[0-9]{1,12}";
        }
        label for="name" { (tr(lang, "Name")) }
        input id="name" name="name" required[resident.is_none()] value=[resident.map(|r| &r.name)];
        label for="unit" { (tr(lang, "Unit")) }
        input id="unit" name="unit" value=[resident.map(|r| &r.unit)];
        label for="valid_from" { (tr(lang, "Valid from (YYYY-MM-DD)")) }
        input id="valid_from" name="valid_from" type="date" value=(date(resident.and_then(|r| r.valid_from)));
        label for="valid_until" { (tr(lang, "Move-out date (YYYY-MM-DD)")) }
        input id="valid_until" name="valid_until" type="date" value=(date(resident.and_then(|r| r.valid_until)));
        label for="birth_year" { (tr(lang, "Birth year (minors need a guardian's consent for face enrolment)")) }
        input id="birth_year" name="birth_year" inputmode="numeric" value=[resident.and_then(|r| r.birth_year)];
    }
}

/// The resident form as posted.
#[derive(Deserialize)]
pub struct ResidentForm {
    #[serde(default)]
    pub number: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub valid_from: String,
    #[serde(default)]
    pub valid_until: String,
    #[serde(default)]
    pub birth_year: String,
    #[serde(default)]
    pub status: String,
}

impl ResidentForm {
    /// The fields as a [`NewResident`]; a bad date or year is a clear error.
    pub fn to_new(&self) -> Result<NewResident, Problem> {
        let date = |text: &str| {
            let text = text.trim();
            (!text.is_empty())
                .then(|| {
                    parse_date(text)
                        .map_err(|_| Problem::bad_with("{} is not a date (YYYY-MM-DD).", &[&text]))
                })
                .transpose()
        };
        let year = self.birth_year.trim();
        let birth_year = (!year.is_empty())
            .then(|| {
                year.parse()
                    .map_err(|_| Problem::bad_with("The birth year {} is not a year.", &[&year]))
            })
            .transpose()?;
        Ok(NewResident {
            number: self.number.trim().to_owned(),
            name: self.name.trim().to_owned(),
            unit: self.unit.trim().to_owned(),
            valid_from: date(&self.valid_from)?,
            valid_until: date(&self.valid_until)?,
            birth_year,
        })
    }
}

pub async fn add(
    ctx: Ctx,
    State(state): State<AppState>,
    Form(form): Form<ResidentForm>,
) -> Result<Response, Problem> {
    ctx.require(Action::EditResidents)?;
    let new = form.to_new()?;
    let now = state.now();
    let added = manage::add_resident(&mut state.register(), &new, now, ctx.operator())?;
    Ok(Redirect::to(&format!("/residents/{}?note=added", added.number)).into_response())
}
