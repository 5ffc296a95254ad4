//! `facegate admin enrol`, `admin consent grant|withdraw`, `admin template delete`.

use std::path::PathBuf;

use crate::config::Config;
use crate::language::Language;
use crate::manage;
use crate::store::{ConsentGrant, Store, unix_now};
use crate::vision::{Embedding, FacePipeline};

#[derive(Debug, clap::Args)]
pub struct EnrolArgs {
    /// The resident's number.
    #[arg(long)]
    resident: String,
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
    store.resident(&args.resident)?; // fail before loading models
    let mut pipeline = FacePipeline::load(&config.paths.models, &config.vision)?;
    let mut good = Vec::new();
    for path in &args.images {
        match pipeline.embed_image_file(path) {
            Ok(embedding) => good.push(embedding),
            Err(err) => eprintln!("{}: not used: {err}", path.display()),
        }
    }
    let fused = Embedding::mean(&good).ok_or_else(|| {
        anyhow::anyhow!(
            "none of the {} photos has one clear, frontal, large enough face",
            args.images.len()
        )
    })?;
    let consent = args
        .consent
        .then(|| ConsentGrant::read(args.lang, &config.notice_terms(), operator, args.guardian))
        .transpose()?;
    let id = manage::enrol_face(
        &mut store,
        &args.resident,
        &fused,
        consent.as_ref(),
        config.consent.minor_age,
        unix_now(),
    )?;
    println!(
        "enrolled resident {} as template {id}, fused from {} of {} photos",
        args.resident,
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
