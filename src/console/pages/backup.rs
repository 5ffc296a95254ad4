//! The register's encrypted backup as a download (restored with `facegate console restore`,
//! the controller stopped).

use axum::Form;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::console::AppState;
use crate::console::backup::seal_register;
use crate::console::guard::{Ctx, Problem};
use crate::console::i18n::{tr, trf};
use crate::console::layout::{csrf, page};
use crate::console::roles::Action;
use crate::keys::backup::MIN_PASSPHRASE_CHARS;
use crate::store::{AuditKind, Chain};

pub async fn form(ctx: Ctx) -> Result<Markup, Problem> {
    ctx.require(Action::RegisterExport)?;
    let lang = ctx.lang;
    let body = html! {
        p { (trf(lang, "The backup is the whole register (residents, consent records, protected templates, cards, the audit log), encrypted under a passphrase of at least {} characters in the same format as the key backup. It does not hold the site key: keep the key backup as well.", &[&MIN_PASSPHRASE_CHARS])) }
        form.stack method="post" action="/backup" {
            (csrf(&ctx))
            label for="passphrase" { (tr(lang, "Passphrase")) }
            input id="passphrase" name="passphrase" type="password" autocomplete="new-password" required minlength=(MIN_PASSPHRASE_CHARS);
            label for="again" { (tr(lang, "The passphrase again")) }
            input id="again" name="again" type="password" autocomplete="new-password" required;
            button type="submit" { (tr(lang, "Download the encrypted backup")) }
        }
        p.muted { (tr(lang, "To restore, stop the site controller and run `facegate console restore FILE --dir DIR` with the passphrase on stdin; the register it replaces is kept beside it.")) }
    };
    Ok(page(&ctx, tr(lang, "Backup"), body))
}

#[derive(Deserialize)]
pub struct Passphrase {
    passphrase: String,
    again: String,
}

pub async fn download(
    ctx: Ctx,
    State(state): State<AppState>,
    Form(form): Form<Passphrase>,
) -> Result<Response, Problem> {
    ctx.require(Action::RegisterExport)?;
    let (passphrase, again) = (Zeroizing::new(form.passphrase), Zeroizing::new(form.again));
    if passphrase != again {
        return Err(Problem::bad("The two passphrases differ."));
    }
    let now = state.now();
    let mut store = state.register();
    let sealed = seal_register(&store, &passphrase)
        .map_err(|e| Problem::bad_with("The backup was refused: {}", &[&format!("{e:#}")]))?;
    let detail = format!("encrypted backup by {}", ctx.operator());
    store.audit(Chain::Admin, now, AuditKind::RegisterExported, "site", &detail)?;
    let disposition = "attachment; filename=\"register.db.age\"";
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        sealed,
    )
        .into_response())
}
