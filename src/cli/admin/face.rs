//! `facegate admin enrol`, `admin enrol book`, `admin consent grant|withdraw`,
//! `admin template delete`.

use std::path::PathBuf;

use crate::config::Config;
use crate::dates::format_time;
use crate::language::Language;
use crate::manage;
use crate::store::{ConsentGrant, Store, unix_now};
use crate::vision::FacePipeline;

#[derive(Debug, clap::Args)]
#[command(subcommand_negates_reqs = true)]
pub struct EnrolArgs {
    #[command(subcommand)]
    command: Option<EnrolCommand>,
    /// The resident's number.
    #[arg(long, required = true)]
    resident: Option<String>,
    /// Photos of the resident (3–5 good ones; each must pass the quality gate).
    #[arg(long, num_args = 1.., required = true)]
    images: Vec<PathBuf>,
    /// The resident has read the notice (`admin notice`) and consents now: record it first, in
    /// the same transaction as the enrolment.
    #[arg(long)]
    consent: bool,
    /// For a minor: the parent or guardian who consents.
    #[arg(long)]
    guardian: Option<String>,
    /// Language of the notice the resident read.
    #[arg(long, default_value = "zh")]
    lang: Language,
    /// Enrol even though the face already matches another resident (the manager has checked
    /// that they are different people, e.g. twins).
    #[arg(long)]
    allow_duplicate: bool,
}

#[derive(Debug, clap::Subcommand)]
enum EnrolCommand {
    /// Book a face enrolment at a door: there the resident starts it with their own PIN or
    /// card (no admin), reads the notice, consents, and the frames are captured live.
    Book {
        number: String,
        /// The door it is booked at (in site mode); without it, any door.
        #[arg(long)]
        door: Option<String>,
        /// How long the booking stays open (at most 7 days).
        #[arg(long, default_value_t = 30)]
        minutes: i64,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ConsentArgs {
    /// Record that the resident consents to face recognition (after reading the notice).
    Grant {
        number: String,
        #[arg(long)]
        guardian: Option<String>,
        #[arg(long, default_value = "zh")]
        lang: Language,
    },
    /// Withdraw consent: the resident's face data is deleted at once.
    Withdraw { number: String },
}

#[derive(Debug, clap::Subcommand)]
pub enum TemplateArgs {
    /// Delete one template (see `admin resident show`).
    Delete { id: i64 },
}

pub fn enrol(args: EnrolArgs, config: &Config, operator: &str) -> anyhow::Result<()> {
    let mut store = Store::open(&config.store)?;
    if let Some(EnrolCommand::Book { number, door, minutes }) = args.command {
        let now = unix_now();
        let until = now.saturating_add(minutes.saturating_mul(60));
        let id =
            manage::book_enrolment(&mut store, &number, door.as_deref(), until, now, operator)?;
        println!(
            "enrolment booking {id} for resident {number} at {} until {} UTC",
            door.as_deref().unwrap_or("any door"),
            format_time(until)
        );
        return Ok(());
    }
    let resident = args.resident.as_deref().unwrap_or_default();
    store.resident(resident)?; // fail before loading models
    let mut pipeline = FacePipeline::load(&config.paths.models, &config.vision)?;
    let mut good = Vec::new();
    for path in &args.images {
        match pipeline.embed_image_file(path) {
            Ok(embedding) => good.push(embedding),
            Err(err) => eprintln!("{}: not used: {err}", path.display()),
        }
    }
    anyhow::ensure!(
        !good.is_empty(),
        "none of the {} photos has one clear, frontal, large enough face",
        args.images.len()
    );
    let fused = manage::fuse_same_face(&good, config.matching.threshold)?;
    let consent = args
        .consent
        .then(|| ConsentGrant::read(args.lang, &config.notice_terms(), operator, args.guardian))
        .transpose()?;
    let id = manage::enrol_face(
        &mut store,
        resident,
        &fused,
        consent.as_ref(),
        config.consent.minor_age,
        (!args.allow_duplicate).then_some(config.matching.threshold),
        unix_now(),
    )?;
    println!(
        "enrolled resident {resident} as template {id}, fused from {} of {} photos",
        good.len(),
        args.images.len()
    );
    Ok(())
}

pub fn consent(args: ConsentArgs, config: &Config, operator: &str) -> anyhow::Result<()> {
    let mut store = Store::open(&config.store)?;
    match args {
        ConsentArgs::Grant { number, guardian, lang } => {
            let grant = ConsentGrant::read(lang, &config.notice_terms(), operator, guardian)?;
            manage::record_consent(&mut store, &number, &grant, unix_now())?;
            println!("consent recorded for resident {number}");
        }
        ConsentArgs::Withdraw { number } => {
            let deleted = manage::delete_face_data(&mut store, &number, unix_now(), operator)?;
            println!("consent withdrawn for resident {number}: {deleted} template(s) deleted");
        }
    }
    Ok(())
}

pub fn template(args: TemplateArgs, config: &Config, operator: &str) -> anyhow::Result<()> {
    let mut store = Store::open(&config.store)?;
    match args {
        TemplateArgs::Delete { id } => {
            store.delete_template(id, unix_now(), operator)?;
            println!("template {id} deleted");
        }
    }
    Ok(())
}
