//! The `facegate` command line: one file per verb, each with its `Args` and `run`.

mod admin;
mod audit;
mod bench;
mod bench_site;
mod console;
mod door_bench;
mod eval;
mod eval_pad;
mod gate_bench;
mod init;
mod join;
mod run;
mod selftest;
mod site;
mod table;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// Door-access gate: face (opt-in), PIN or card.
#[derive(Debug, Parser)]
#[command(name = "facegate", version, about)]
pub struct Cli {
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Configuration file (TOML); defaults apply when absent.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Folder with the model files and their manifest (overrides the config).
    #[arg(long, global = true)]
    pub models: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gate (`--sim` on a PC; `--headless --script FILE` for scenarios).
    Run(run::Args),
    /// Bring-up check: open every configured part and report what works.
    Selftest(selftest::Args),
    /// Create the database and the site key file.
    Init(init::Args),
    /// Property management: residents, enrolment, consent, retention, keys.
    Admin(admin::Args),
    /// The audit log: list, verify, export.
    #[command(subcommand)]
    Audit(audit::Args),
    /// Measure face recognition accuracy on a folder of labelled photos.
    Eval(eval::Args),
    /// Measure presentation-attack detection (APCER, BPCER) on live and attack photos.
    EvalPad(eval_pad::Args),
    /// Measure speed.
    #[command(subcommand)]
    Bench(bench::Args),
    /// Site mode, on the site controller: the register, the doors, the publisher.
    Site(site::Args),
    /// Make this gate a door of a site, from its one-time join bundle.
    Join(join::JoinArgs),
    /// Keep this door's replica in sync with its site and send its outbox (the sync agent).
    Sync(join::SyncArgs),
    /// The managers' web console on the site controller: serve, accounts.
    #[command(subcommand)]
    Console(console::Args),
}

/// Runs one verb.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(models) = cli.models {
        config.paths.models = models;
    }
    match cli.command {
        Command::Run(args) => run::run(args, &config),
        Command::Selftest(args) => selftest::run(args, &config),
        Command::Init(args) => init::run(args, &config),
        Command::Admin(args) => admin::run(args, &config),
        Command::Audit(args) => audit::run(args, &config),
        Command::Eval(args) => eval::run(args, &config),
        Command::EvalPad(args) => eval_pad::run(args, &config),
        Command::Bench(args) => bench::run(args, &config),
        Command::Site(args) => site::run(args),
        Command::Join(args) => join::join_site(args, &config),
        Command::Sync(args) => join::sync(args, &config),
        Command::Console(args) => console::run(args, &config),
    }
}

/// Logs go to stderr; they never carry biometric data, PINs or card numbers.
pub fn init_logging(verbose: u8) {
    use tracing_subscriber::prelude::*;
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    // tract warns on every load that it was tested up to opset 18 (the models are opset 21 and
    // are checked against ONNX Runtime in the tests): only its errors are shown by default.
    let quiet_engine = if verbose >= 2 { level } else { tracing::Level::ERROR };
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(level)
        .with_target("tract_onnx", quiet_engine);
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();
}
