//! The `facegate` binary: parse arguments, run the verb, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = facegate::cli::Cli::parse();
    facegate::cli::init_logging(cli.verbose);
    match facegate::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("facegate: {err:#}");
            ExitCode::from(2)
        }
    }
}
