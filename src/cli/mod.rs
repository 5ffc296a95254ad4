//! The `facegate` command line: one file per verb, each with its `Args` and `run`.

use clap::{Parser, Subcommand};

/// Door-access gate: face (opt-in), PIN or card.
#[derive(Debug, Parser)]
#[command(name = "facegate", version, about)]
pub struct Cli {
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Configuration file (TOML); defaults apply when absent.
    #[arg(long, global = true)]
    pub config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {}

/// Runs one verb.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {}
}

/// Logs go to stderr; they never carry biometric data, PINs or card numbers.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::stderr).init();
}
