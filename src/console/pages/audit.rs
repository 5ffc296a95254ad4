//! The audit log of the site: filtered by time, door, resident and kind; verified with the
//! first broken row named; exported as CSV or JSON lines, with every row's MAC (the JSON lines
//! are `facegate audit export`'s format, which `audit verify --file` checks).

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::guard::{Ctx, Problem};
use crate::console::i18n::{tr, trf};
use crate::console::layout::page;
use crate::console::roles::Action;
use crate::console::{AppState, spreadsheet};
use crate::dates::{format_time, parse_date};
use crate::store::AuditEntry;
use crate::store::ExportLine;

/// Rows shown at most (newest first); the export has all of them.
pub const SHOWN: usize = 500;

#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    door: String,
    #[serde(default)]
    resident: String,
    #[serde(default)]
    kind: String,
}

impl Filter {
    /// The rows that pass, oldest first. `resident` is a resident number (rows name residents
    /// as `resident#<id>`), taken only from a role that may look residents up: for the auditor
    /// it would link keypad numbers to the log's pseudonyms. `door` is a door id the row names
    /// (`door <id>`, the whole id).
    fn apply(&self, state: &AppState, ctx: &Ctx) -> Result<Vec<AuditEntry>, Problem> {
        let date = |text: &str| {
            let text = text.trim();
            (!text.is_empty())
                .then(|| {
                    parse_date(text)
                        .map_err(|_| Problem::bad_with("{} is not a date (YYYY-MM-DD).", &[&text]))
                })
                .transpose()
        };
        let (from, to) = (date(&self.from)?, date(&self.to)?.map(|t| t + 86_400));
        let store = state.register();
        let subject = match self.resident.trim() {
            "" => None,
            _ if !ctx.may(Action::FindResidents) => None,
            number => Some(store.resident(number)?.subject()),
        };
        let door = self.door.trim();
        let mut rows = store.audit_entries(from)?;
        rows.retain(|e| {
            to.is_none_or(|to| e.at < to)
                && subject.as_ref().is_none_or(|s| &e.subject == s)
                && (self.kind.is_empty() || e.kind == self.kind)
                && (door.is_empty() || e.names_door(door))
        });
        Ok(rows)
    }
}

pub async fn list(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Markup, Problem> {
    ctx.require(Action::ReadAudit)?;
    let lang = ctx.lang;
    let rows = filter.apply(&state, &ctx)?;
    let mut kinds: Vec<String> =
        state.register().audit_entries(None)?.into_iter().map(|e| e.kind).collect();
    kinds.sort();
    kinds.dedup();
    let query = |path: &str| {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("from", &filter.from),
                ("to", &filter.to),
                ("door", &filter.door),
                ("resident", &filter.resident),
                ("kind", &filter.kind),
            ])
            .finish();
        format!("{path}?{q}")
    };
    let body = html! {
        form.inline method="get" action="/audit" {
            div { label for="from" { (tr(lang, "From")) } input id="from" name="from" type="date" value=(filter.from); }
            div { label for="to" { (tr(lang, "To")) } input id="to" name="to" type="date" value=(filter.to); }
            div { label for="door" { (tr(lang, "Door")) } input id="door" name="door" value=(filter.door); }
            @if ctx.may(Action::FindResidents) {
                div { label for="resident" { (tr(lang, "Resident number")) } input id="resident" name="resident" inputmode="numeric" value=(filter.resident); }
            }
            div {
                label for="kind" { (tr(lang, "Kind")) }
                select id="kind" name="kind" {
                    option value="" { (tr(lang, "all")) }
                    @for k in &kinds { option value=(k) selected[*k == filter.kind] { (k) } }
                }
            }
            button type="submit" { (tr(lang, "Filter")) }
        }
        p {
            a href="/audit/verify" { (tr(lang, "Verify the log")) } " · "
            a href=(query("/audit/export.csv")) { (tr(lang, "Export CSV")) } " · "
            a href="/audit/export.jsonl" { (tr(lang, "Export JSON lines (verifiable)")) }
        }
        p.muted { (trf(lang, "{} rows match; the newest {} are shown.", &[&rows.len(), &rows.len().min(SHOWN)])) }
        table {
            thead { tr {
                th scope="col" { "#" } th scope="col" { (tr(lang, "Time (UTC)")) } th scope="col" { (tr(lang, "Kind")) }
                th scope="col" { (tr(lang, "Subject")) } th scope="col" { (tr(lang, "Detail")) }
            } }
            tbody { @for e in rows.iter().rev().take(SHOWN) { tr {
                td { (e.id) } td.nowrap { (format_time(e.at)) } td { (e.kind) } td { (e.subject) } td { (e.detail) }
            } } }
        }
    };
    Ok(page(&ctx, tr(lang, "Audit log"), body))
}

pub async fn verify(ctx: Ctx, State(state): State<AppState>) -> Result<Markup, Problem> {
    ctx.require(Action::ReadAudit)?;
    let lang = ctx.lang;
    let result = state.register().verify_audit()?;
    let body = html! {
        @if result.intact() {
            p.notice role="status" { (trf(lang, "The audit log is intact: {} rows verified.", &[&result.rows])) }
        } @else {
            p.error role="alert" { (tr(lang, "The audit log was tampered with:")) }
            @if let Some(id) = result.first_broken { p { (trf(lang, "The first broken row is row {}.", &[&id])) } }
            ul { @for finding in result.findings() { li { (finding) } } }
        }
        p { a href="/audit" { (tr(lang, "Back to the audit log")) } }
    };
    Ok(page(&ctx, tr(lang, "Audit log verification"), body))
}

fn download(kind: &'static str, name: &'static str, body: Vec<u8>) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    ([(header::CONTENT_TYPE, kind.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The filtered rows as CSV, each with its MAC (hex). A subject or detail a spreadsheet would
/// run as a formula (a door can put any text there) starts with `'`: the MAC is over the text
/// without it ([`spreadsheet::from_safe`]).
pub async fn export_csv(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Response, Problem> {
    ctx.require(Action::ReadAudit)?;
    let wanted: std::collections::HashSet<i64> =
        filter.apply(&state, &ctx)?.iter().map(|e| e.id).collect();
    let lines = state.register().export_audit()?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| Problem::Internal(e.to_string());
    out.write_record(["id", "chain", "time_utc", "at", "kind", "subject", "detail", "mac"])
        .map_err(csv_error)?;
    for line in lines {
        if let ExportLine::Row { entry: e, mac } = line
            && wanted.contains(&e.id)
        {
            let record = [
                e.id.to_string(),
                e.chain,
                format_time(e.at),
                e.at.to_string(),
                e.kind,
                e.subject,
                e.detail,
                hex(&mac),
            ];
            out.write_record(record.iter().map(|cell| spreadsheet::safe(cell).into_owned()))
                .map_err(csv_error)?;
        }
    }
    let bytes = out.into_inner().map_err(|e| Problem::Internal(e.to_string()))?;
    Ok(download("text/csv; charset=utf-8", "audit.csv", bytes))
}

/// The whole log as `facegate audit export` writes it (rows with MACs, checkpoints, head).
pub async fn export_jsonl(ctx: Ctx, State(state): State<AppState>) -> Result<Response, Problem> {
    ctx.require(Action::ReadAudit)?;
    let mut out = Vec::new();
    for line in state.register().export_audit()? {
        let text = serde_json::to_string(&line).map_err(|e| Problem::Internal(e.to_string()))?;
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
    }
    Ok(download("application/x-ndjson", "audit.jsonl", out))
}
