//! CSV import and export of residents. An upload (UTF-8 or GB18030) is checked row by row and
//! shown as a preview; nothing is written until the manager confirms, and then every good row
//! is added in one transaction. The export is audited.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use axum::Form;
use axum::extract::{Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::guard::{Ctx, Problem};
use crate::console::i18n::{tr, trf};
use crate::console::layout::{csrf, page};
use crate::console::roles::Action;
use crate::console::sessions::random_token;
use crate::console::{AppState, spreadsheet};
use crate::dates::{format_time, parse_date};
use crate::manage;
use crate::store::residents::check_new;
use crate::store::{AuditKind, Chain, NewResident, Store};

/// The columns of the CSV, in this order, with this header line.
pub const COLUMNS: [&str; 6] =
    ["number", "name", "unit", "valid_from", "valid_until", "birth_year"];
/// A preview waits this long for its confirmation.
const PENDING_SECONDS: i64 = 30 * 60;

/// A checked upload waiting for its confirmation.
pub struct PendingImport {
    account: String,
    rows: Vec<NewResident>,
    made_at: i64,
}

/// Previews by id.
pub type Pending = Mutex<HashMap<String, PendingImport>>;

/// One row of an upload: its line number and the resident, or why not.
pub struct CheckedRow {
    pub line: usize,
    pub outcome: Result<NewResident, Problem>,
}

/// The text of an upload: UTF-8 (a byte-order mark is dropped), else GB18030.
pub fn decode(bytes: &[u8]) -> Result<String, Problem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| text.into_owned())
        .ok_or_else(|| Problem::bad("The file is neither UTF-8 nor GB18030 text."))
}

/// The refusal of an upload that cannot be read as a CSV file.
fn unreadable() -> Problem {
    Problem::bad("The file cannot be read as CSV text.")
}

/// Checks every row of a CSV against the rules of the register and against `store`.
pub fn check(text: &str, store: &Store) -> Result<Vec<CheckedRow>, Problem> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|_| unreadable())?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    if header != COLUMNS {
        return Err(Problem::bad_with("The first line must be `{}`.", &[&COLUMNS.join(",")]));
    }
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let outcome = record.map_err(|_| unreadable()).and_then(|record| {
            let field = |i: usize| spreadsheet::from_safe(record.get(i).unwrap_or("").trim());
            if record.len() != COLUMNS.len() {
                return Err(Problem::bad_with(
                    "{} fields, expected {}.",
                    &[&record.len(), &COLUMNS.len()],
                ));
            }
            let date = |text: &str| {
                (!text.is_empty())
                    .then(|| {
                        parse_date(text).map_err(|_| {
                            Problem::bad_with("{} is not a date (YYYY-MM-DD).", &[&text])
                        })
                    })
                    .transpose()
            };
            let year = field(5);
            let new = NewResident {
                number: field(0).to_owned(),
                name: field(1).to_owned(),
                unit: field(2).to_owned(),
                valid_from: date(field(3))?,
                valid_until: date(field(4))?,
                birth_year: (!year.is_empty())
                    .then(|| {
                        year.parse().map_err(|_| {
                            Problem::bad_with("The birth year {} is not a year.", &[&year])
                        })
                    })
                    .transpose()?,
            };
            check_new(&new)?;
            if !seen.insert(new.number.clone()) {
                return Err(Problem::bad_with(
                    "Number {} appears twice in the file.",
                    &[&new.number],
                ));
            }
            if store.find_resident(&new.number)?.is_some() {
                return Err(Problem::bad_with("Resident number {} is taken.", &[&new.number]));
            }
            Ok(new)
        });
        rows.push(CheckedRow { line, outcome });
    }
    Ok(rows)
}

pub async fn form(ctx: Ctx) -> Result<Markup, Problem> {
    ctx.require(Action::RegisterExport)?;
    let lang = ctx.lang;
    let body = html! {
        h2 { (tr(lang, "Import residents from CSV")) }
        p { (trf(lang, "The first line must be `{}`; dates are YYYY-MM-DD. UTF-8 and GB18030 files are read. You see every row before anything is written.", &[&COLUMNS.join(",")])) }
        form.stack method="post" action="/import" enctype="multipart/form-data" {
            (csrf(&ctx))
            label for="file" { (tr(lang, "CSV file")) }
            input id="file" name="file" type="file" accept=".csv,text/csv" required;
            button type="submit" { (tr(lang, "Check the file")) }
        }
        h2 { (tr(lang, "Export")) }
        p { a href="/export/residents.csv" { (tr(lang, "Download all residents as CSV")) } }
    };
    Ok(page(&ctx, tr(lang, "Import and export"), body))
}

pub async fn preview(
    ctx: Ctx,
    State(state): State<AppState>,
    mut multipart: Multipart,
) -> Result<Markup, Problem> {
    ctx.require(Action::RegisterExport)?;
    let lang = ctx.lang;
    let mut upload = None;
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        if field.name() == Some("file") {
            upload = Some(field.bytes().await.map_err(|_| unreadable())?);
        }
    }
    let upload = upload.ok_or_else(|| Problem::bad("No file was sent."))?;
    let text = decode(&upload)?;
    let rows = check(&text, &state.register())?;
    let good: Vec<NewResident> =
        rows.iter().filter_map(|r| r.outcome.as_ref().ok().cloned()).collect();
    let bad: Vec<&CheckedRow> = rows.iter().filter(|r| r.outcome.is_err()).collect();
    let id = random_token();
    let now = state.now();
    {
        let mut pending = state.imports.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|_, p| p.made_at + PENDING_SECONDS > now);
        let account = ctx.operator().to_owned();
        pending.insert(id.clone(), PendingImport { account, rows: good.clone(), made_at: now });
    }
    let body = html! {
        p role="status" { (trf(lang, "{} rows can be added; {} rows have errors and will be left out. Nothing is written until you confirm.", &[&good.len(), &bad.len()])) }
        @if !bad.is_empty() {
            h2 { (tr(lang, "Rows with errors")) }
            table.errors {
                thead { tr { th scope="col" { (tr(lang, "Line")) } th scope="col" { (tr(lang, "Error")) } } }
                tbody { @for row in &bad { tr { td { (row.line) } td.bad { (row.outcome.as_ref().err().map(|e| e.text(lang)).unwrap_or_default()) } } } }
            }
        }
        @if !good.is_empty() {
            form.inline method="post" action="/import/confirm" {
                (csrf(&ctx))
                input type="hidden" name="import" value=(id);
                button type="submit" { (trf(lang, "Add {} residents", &[&good.len()])) }
            }
            h2 { (tr(lang, "Rows to add")) }
            table {
                thead { tr { th scope="col" { (tr(lang, "Number")) } th scope="col" { (tr(lang, "Name")) } th scope="col" { (tr(lang, "Unit")) } } }
                tbody { @for r in good.iter().take(100) { tr { td { (r.number) } td { (r.name) } td { (r.unit) } } } }
            }
            @if good.len() > 100 { p.muted { (trf(lang, "and {} more", &[&(good.len() - 100)])) } }
        }
    };
    Ok(page(&ctx, tr(lang, "Import preview"), body))
}

#[derive(Deserialize)]
pub struct Confirmation {
    import: String,
}

pub async fn confirm(
    ctx: Ctx,
    State(state): State<AppState>,
    Form(form): Form<Confirmation>,
) -> Result<Markup, Problem> {
    ctx.require(Action::RegisterExport)?;
    let lang = ctx.lang;
    let pending = state.imports.lock().unwrap_or_else(|p| p.into_inner()).remove(&form.import);
    let Some(pending) = pending.filter(|p| p.account == ctx.operator()) else {
        return Err(Problem::bad("This preview has expired: upload the file again."));
    };
    let now = state.now();
    let added =
        manage::import_residents(&mut state.register(), &pending.rows, now, ctx.operator())?;
    let body = html! {
        p.notice role="status" { (trf(lang, "{} residents were added.", &[&added])) }
        p { a href="/residents" { (tr(lang, "Residents")) } }
    };
    Ok(page(&ctx, tr(lang, "Import done"), body))
}

/// Every resident as CSV in the import's columns (plus status), audited.
pub async fn export(ctx: Ctx, State(state): State<AppState>) -> Result<Response, Problem> {
    ctx.require(Action::RegisterExport)?;
    let now = state.now();
    let mut store = state.register();
    let residents = store.residents()?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Problem::Internal(e.to_string());
    let mut header = COLUMNS.to_vec();
    header.push("status");
    out.write_record(&header).map_err(fail)?;
    let date = |at: Option<i64>| at.map(|a| format_time(a)[..10].to_owned()).unwrap_or_default();
    for r in &residents {
        let year = r.birth_year.map(|y| y.to_string()).unwrap_or_default();
        let record = [
            &r.number,
            &r.name,
            &r.unit,
            &date(r.valid_from),
            &date(r.valid_until),
            &year,
            r.status.as_str(),
        ];
        out.write_record(record.map(|cell| spreadsheet::safe(cell).into_owned())).map_err(fail)?;
    }
    let bytes = out.into_inner().map_err(|e| Problem::Internal(e.to_string()))?;
    let detail = format!("{} residents by {}", residents.len(), ctx.operator());
    store.audit(Chain::Admin, now, AuditKind::RegisterExported, "site", &detail)?;
    let disposition = "attachment; filename=\"residents.csv\"";
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
