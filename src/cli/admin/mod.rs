//! `facegate admin …`: what a property manager runs.

mod credentials;
mod face;
mod key;
mod resident;

use crate::config::Config;
use crate::keys::custody::KeyStore;
use crate::language::Language;
use crate::store::consent::notice;
use crate::store::{Store, unix_now};
use crate::templates::{MatchingConfig, expected_fmr};

use super::table::print_json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Who is doing this (recorded in the audit log).
    #[arg(long, global = true, default_value = "manager")]
    operator: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Residents: add, list, show, edit, remove.
    #[command(subcommand)]
    Resident(resident::Args),
    /// Enrol a resident's face from photos (consent first).
    Enrol(face::EnrolArgs),
    /// Record or withdraw a resident's consent to face recognition.
    #[command(subcommand)]
    Consent(face::ConsentArgs),
    /// Delete a face template.
    #[command(subcommand)]
    Template(face::TemplateArgs),
    /// Set or reset a resident's PIN.
    #[command(subcommand)]
    Pin(credentials::PinArgs),
    /// Register, revoke or list a resident's cards.
    #[command(subcommand)]
    Card(credentials::CardArgs),
    /// Lift a PIN lockout.
    Unlock(credentials::UnlockArgs),
    /// Apply the retention rules now (the gate also does this daily).
    Purge {
        #[arg(long)]
        json: bool,
    },
    /// Replace the site key; every template is re-keyed, nobody re-enrols. With
    /// `--credentials`, replace the credential root instead: PINs and cards move to the new
    /// root lazily, each on its next use or re-issue, and the old root works until then.
    RotateKey {
        #[arg(long)]
        credentials: bool,
    },
    /// The passphrase-protected key backup: export, import.
    #[command(subcommand)]
    Key(key::Args),
    /// How close enrolled residents are to each other, and the expected false-accept rate.
    Calibrate {
        #[arg(long)]
        json: bool,
    },
    /// Print the notice and consent text residents read before face enrolment.
    Notice {
        #[arg(long, default_value = "zh")]
        lang: Language,
    },
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    let operator = args.operator.as_str();
    match args.command {
        Command::Resident(a) => resident::run(a, config, operator),
        Command::Enrol(a) => face::enrol(a, config, operator),
        Command::Consent(a) => face::consent(a, config, operator),
        Command::Template(a) => face::template(a, config, operator),
        Command::Pin(a) => credentials::pin(a, config, operator),
        Command::Card(a) => credentials::card(a, config, operator),
        Command::Unlock(a) => credentials::unlock(a, config, operator),
        Command::Purge { json } => {
            let report = Store::open(&config.store)?.purge(&config.retention, unix_now())?;
            if json {
                return print_json(&report);
            }
            println!(
                "deleted {} unused template(s), {} moved-out resident(s), {} old access event(s)",
                report.unused_templates, report.moved_out_residents, report.access_events
            );
            Ok(())
        }
        Command::RotateKey { credentials: false } => rotate_key(config),
        Command::RotateKey { credentials: true } => rotate_credentials(config),
        Command::Key(a) => key::run(a, config),
        Command::Calibrate { json } => calibrate(config, json),
        Command::Notice { lang } => {
            print!("{}", notice(lang, &config.notice_terms()));
            Ok(())
        }
    }
}

/// The new key goes to `<key file>.new` first (owned by the old key file's owner, the service
/// user, even when this runs as root), the database is re-keyed in one transaction, then the
/// new file replaces the old one. If the process dies in between, opening the store finds the
/// `.new` file and keeps whichever key the database was written with. A running gate notices
/// the new key id in the database before its next write and reloads its keys.
fn rotate_key(config: &Config) -> anyhow::Result<()> {
    let mut store = Store::open(&config.store)?;
    let custody = config.store.custody();
    let new_key = custody.load()?.rotated()?;
    let pending = custody.stage(&new_key)?;
    let count = store.rotate_key(&new_key, unix_now())?;
    pending.replace(&custody)?;
    println!(
        "site key replaced; {count} template(s) re-keyed. Export a new backup now (`facegate admin key export FILE`)."
    );
    if config.store.key_store != KeyStore::File {
        println!("restart the gate (`systemctl restart facegate`) so systemd hands it the new key");
    }
    Ok(())
}

/// Like [`rotate_key`], for the credential root (see [`crate::manage::rotate_credential_root`]).
fn rotate_credentials(config: &Config) -> anyhow::Result<()> {
    crate::manage::rotate_credential_root(&config.store, unix_now())?;
    println!(
        "credential root replaced. Export a new backup now (`facegate admin key export FILE`)."
    );
    println!("restart the gate (`systemctl restart facegate`) so that it reads the new key");
    println!("{}", root_status_line(&Store::open(&config.store)?)?);
    Ok(())
}

/// How many PINs and cards still use the previous credential root.
fn root_status_line(store: &Store) -> anyhow::Result<String> {
    let s = store.credential_root_status()?;
    Ok(format!(
        "credential root: {} of {} PIN(s) and {} of {} card(s) still on the previous root (each moves on its next use)",
        s.pins_on_previous_root, s.pins, s.cards_on_previous_root, s.cards
    ))
}

fn calibrate(config: &Config, json: bool) -> anyhow::Result<()> {
    let store = Store::open(&config.store)?;
    let (residents, pairs) = store.closest_pairs()?;
    let matching = &config.matching;
    let (threshold, margin) = (matching.threshold_for(residents), matching.margin);
    let fmr = expected_fmr(threshold);
    let fpir = MatchingConfig::stranger_rate(residents, threshold);
    let number =
        |id: i64| store.resident_by_id(id).map(|r| r.number).unwrap_or_else(|_| format!("#{id}"));
    let top: Vec<(String, String, f32)> =
        pairs.iter().take(10).map(|&(a, b, s)| (number(a), number(b), s)).collect();
    let close: Vec<&(String, String, f32)> =
        top.iter().filter(|p| p.2 >= threshold - margin).collect();
    if json {
        return print_json(&serde_json::json!({
            "residents": residents, "threshold": threshold, "threshold_floor": matching.threshold,
            "stranger_acceptance": matching.stranger_acceptance, "expected_fmr": fmr,
            "expected_fpir": fpir, "highest_impostor_scores": top, "too_close": close.len(),
            "credential_root": store.credential_root_status()?,
        }));
    }
    println!("{}", root_status_line(&store)?);
    println!(
        "{residents} enrolled residents: 1:N threshold {threshold:.3} (floor {:.3}, margin {margin:.2}) for a stranger acceptance of {:.1e} per attempt",
        matching.threshold, matching.stranger_acceptance
    );
    println!(
        "expected false match per comparison ≈ {fmr:.1e}; a stranger matching somebody ≈ {fpir:.1e} per attempt"
    );
    println!("highest scores between different residents:");
    for (a, b, s) in &top {
        println!("  {a:>12} ~ {b:<12} {s:.3}");
    }
    for (a, b, s) in close {
        println!(
            "warning: residents {a} and {b} score {s:.3}, near the threshold: the gate may mix them up; suggest PIN or card + face for them"
        );
    }
    Ok(())
}
