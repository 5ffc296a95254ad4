//! `facegate audit list|verify|export`.

use anyhow::Context;

use crate::config::Config;
use crate::store::Store;

use super::table::{format_time, parse_date, print_json, print_table};

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Show audit rows (oldest first).
    List {
        /// Only rows since this date (YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Check the HMAC chains, the checkpoints, the head and id continuity; exits non-zero and
    /// names what is wrong if tampered.
    Verify {
        #[arg(long)]
        json: bool,
        /// Verify an export (from `audit export`) instead of the database's log.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Every row with its MAC, the checkpoints and the head as JSON lines on stdout, for
    /// archiving (`audit verify --file` checks such a copy later).
    Export,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    let store = Store::open(&config.store)?;
    match args {
        Args::List { since, json } => {
            let since = since.as_deref().map(parse_date).transpose()?;
            let entries = store.audit_entries(since)?;
            if json {
                return print_json(&entries);
            }
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.id.to_string(),
                        format_time(e.at),
                        e.chain.clone(),
                        e.kind.clone(),
                        e.subject.clone(),
                        e.detail.clone(),
                    ]
                })
                .collect();
            print_table(&["id", "time (UTC)", "chain", "event", "subject", "detail"], &rows);
        }
        Args::Verify { json, file } => {
            let result = match &file {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    store.verify_audit_export(&text)?
                }
                None => store.verify_audit()?,
            };
            if json {
                print_json(&result)?;
            } else if result.intact() {
                println!("audit log intact: {} rows verified", result.rows);
            }
            if !result.intact() {
                anyhow::bail!("audit log tampered with: {}", result.findings().join("; "));
            }
        }
        Args::Export => {
            for line in store.export_audit()? {
                println!("{}", serde_json::to_string(&line)?);
            }
        }
    }
    Ok(())
}
