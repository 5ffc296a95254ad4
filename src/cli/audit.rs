//! `facegate audit list|verify|export`.

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
    /// Check the HMAC chains; exits non-zero and names the first broken row if tampered.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Every row as JSON lines on stdout, for archiving.
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
        Args::Verify { json } => {
            let result = store.verify_audit()?;
            if json {
                print_json(&result)?;
            } else if result.first_broken.is_none() {
                println!("audit log intact: {} rows verified", result.rows);
            }
            if let Some(id) = result.first_broken {
                anyhow::bail!("audit log tampered with: row {id} does not verify");
            }
        }
        Args::Export => {
            for entry in store.audit_entries(None)? {
                println!("{}", serde_json::to_string(&entry)?);
            }
        }
    }
    Ok(())
}
