//! `facegate admin …`: what a property manager runs.

mod credentials;
mod face;
mod key;
mod resident;
mod visitor;

pub(super) use key::read_passphrase;

use crate::config::Config;
use crate::keys::custody::KeyStore;
use crate::language::Language;
use crate::store::consent::notice;
use crate::store::{Store, unix_now};

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
    /// Enrol a resident's face from photos (consent first), or book an enrolment at a door.
    Enrol(face::EnrolArgs),
    /// Record or withdraw a resident's consent to face recognition.
    #[command(subcommand)]
    Consent(face::ConsentArgs),
    /// Delete a face template.
    #[command(subcommand)]
    Template(face::TemplateArgs),
    /// Set a resident's PIN, or issue a one-time code to reset it at a door.
    #[command(subcommand)]
    Pin(credentials::PinArgs),
    /// Visitor passes and courier codes: add, list, revoke.
    #[command(subcommand)]
    Visitor(visitor::Args),
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
        Command::Visitor(a) => visitor::run(a, config, operator),
        Command::Card(a) => credentials::card(a, config, operator),
        Command::Unlock(a) => credentials::unlock(a, config, operator),
        Command::Purge { json } => {
            let report = Store::open(&config.store)?.purge(&config.retention, unix_now())?;
            if json {
                return print_json(&report);
            }
            println!(
                "deleted {} unused template(s), {} moved-out resident(s), {} old access event(s), {} expired visitor pass(es), {} expired reset code(s) and booking(s)",
                report.unused_templates,
                report.moved_out_residents,
                report.access_events,
                report.visitor_passes,
                report.codes_and_bookings
            );
            Ok(())
        }
        Command::RotateKey { credentials: false } => rotate_key(config),
        Command::RotateKey { credentials: true } => rotate_credentials(config),
        Command::Key(a) => key::run(a, config, operator),
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
    if config.store.key_store != KeyStore::File {
        println!("restart the gate (`systemctl restart facegate`) so systemd hands it the new key");
    }
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
    let c = crate::manage::calibration(&store, &config.matching)?;
    let close: Vec<&(String, String, f32)> =
        c.highest.iter().filter(|p| p.2 >= c.threshold - c.margin).collect();
    if json {
        return print_json(&serde_json::json!({
            "residents": c.residents, "threshold": c.threshold,
            "threshold_floor": c.threshold_floor, "stranger_acceptance": c.stranger_acceptance,
            "expected_fmr": c.expected_fmr, "expected_fpir": c.expected_fpir,
            "highest_impostor_scores": c.highest, "too_close": close.len(),
            "credential_root": store.credential_root_status()?,
        }));
    }
    let (threshold, margin, fmr) = (c.threshold, c.margin, c.expected_fmr);
    println!("{}", root_status_line(&store)?);
    println!(
        "{} enrolled residents: 1:N threshold {threshold:.3} (floor {:.3}, margin {margin:.2}) for a stranger acceptance of {:.1e} per attempt",
        c.residents, c.threshold_floor, c.stranger_acceptance
    );
    println!(
        "expected false match per comparison ≈ {fmr:.1e}; a stranger matching somebody ≈ {:.1e} per attempt",
        c.expected_fpir
    );
    println!("highest scores between different residents:");
    for (a, b, s) in &c.highest {
        println!("  {a:>12} ~ {b:<12} {s:.3}");
    }
    for (a, b, s) in close {
        println!(
            "warning: residents {a} and {b} score {s:.3}, near the threshold: the gate may mix them up; suggest PIN or card + face for them"
        );
    }
    Ok(())
}
