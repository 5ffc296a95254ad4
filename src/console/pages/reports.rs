//! Reports: what the next purge deletes, the site's calibration (expected false-accept rate
//! and the closest pairs of residents), and consent statistics.

use axum::extract::State;
use maud::{Markup, html};

use crate::console::AppState;
use crate::console::guard::{Ctx, Problem};
use crate::console::i18n::{tr, trf};
use crate::console::layout::page;
use crate::console::roles::Action;
use crate::manage;

pub async fn show(ctx: Ctx, State(state): State<AppState>) -> Result<Markup, Problem> {
    ctx.require(Action::Reports)?;
    let lang = ctx.lang;
    let now = state.now();
    let store = state.register();
    let purge = store.purge_preview(&state.config.retention, now)?;
    let calibration = manage::calibration(&store, &state.config.matching)?;
    let consent = store.consent_statistics()?;
    let body = html! {
        h2 { (tr(lang, "Retention: what the next purge deletes")) }
        ul {
            li { (trf(lang, "{} face templates unused for {} days", &[&purge.unused_templates, &state.config.retention.template_unused_days])) }
            li { (trf(lang, "{} residents whose access ended", &[&purge.moved_out_residents])) }
            li { (trf(lang, "{} access events older than {} days", &[&purge.access_events, &state.config.retention.access_log_days])) }
        }
        h2 { (tr(lang, "Calibration")) }
        p { (trf(lang, "{} residents with face data; threshold {}.", &[&calibration.residents, &format!("{:.3}", calibration.threshold)])) }
        p { (trf(lang, "Expected false match per comparison ≈ {}; a stranger matching somebody ≈ {} %.", &[&format!("{:.1e}", calibration.expected_fmr), &format!("{:.2}", calibration.expected_fpir * 100.0)])) }
        @if !calibration.highest.is_empty() {
            table {
                caption { (tr(lang, "Closest pairs of different residents")) }
                thead { tr { th scope="col" { (tr(lang, "Resident")) } th scope="col" { (tr(lang, "Resident")) } th scope="col" { (tr(lang, "Score")) } } }
                tbody { @for (a, b, score) in &calibration.highest {
                    @let close = *score >= calibration.threshold - calibration.margin;
                    tr {
                        td { a href={ "/residents/" (a) } { (a) } } td { a href={ "/residents/" (b) } { (b) } }
                        td.bad[close] { (format!("{score:.3}")) @if close { " " (tr(lang, "near the threshold: suggest PIN or card with face")) } }
                    }
                } }
            }
        }
        h2 { (tr(lang, "Consent")) }
        ul {
            li { (trf(lang, "{} residents, {} consenting to face recognition ({} with a guardian's consent)", &[&consent.residents, &consent.consenting, &consent.with_guardian])) }
            li { (trf(lang, "{} residents with face data", &[&consent.with_face_data])) }
            li { (trf(lang, "{} consents withdrawn", &[&consent.withdrawals])) }
        }
    };
    Ok(page(&ctx, tr(lang, "Reports"), body))
}
