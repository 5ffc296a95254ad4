//! `facegate admin visitor add|list|revoke`: visitor passes and courier codes.

use crate::config::Config;
use crate::manage;
use crate::site::ids::DoorId;
use crate::store::{NewVisitorPass, Store, unix_now};

use super::super::table::{cell_time, format_time, print_json, print_table};

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Issue a pass from now on; its code is printed once (typed at the door, or shown to the
    /// camera as a QR code holding only the code).
    Add {
        /// What you will recognise it by in the list (never shown at the door).
        #[arg(long, default_value = "")]
        label: String,
        /// A courier code for this delivery company.
        #[arg(long)]
        courier: Option<String>,
        /// How long it stays valid (at most 31 days).
        #[arg(long, default_value_t = 24)]
        hours: i64,
        /// How many times it opens the door.
        #[arg(long, default_value_t = 1)]
        entries: u32,
        /// A door it opens (site mode; repeat for more). Without one it opens this gate.
        #[arg(long = "door")]
        doors: Vec<DoorId>,
    },
    /// The passes not yet expired.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a pass: it opens nothing from now on.
    Revoke { id: i64 },
}

pub fn run(args: Args, config: &Config, operator: &str) -> anyhow::Result<()> {
    let mut store = Store::open(&config.store)?;
    let now = unix_now();
    match args {
        Args::Add { label, courier, hours, entries, doors } => {
            let valid_until = now.saturating_add(hours.saturating_mul(3_600));
            let new = NewVisitorPass {
                label,
                company: courier,
                valid_from: now,
                valid_until,
                entries,
                doors,
            };
            let issued = manage::create_visitor_pass(&mut store, &new, now, operator)?;
            println!(
                "visitor pass {}: code {} (shown once), {entries} entr{}, until {} UTC",
                issued.id,
                issued.code,
                if entries == 1 { "y" } else { "ies" },
                format_time(valid_until)
            );
        }
        Args::List { json } => {
            let passes = manage::visitor_passes(&store, now)?;
            if json {
                return print_json(&passes);
            }
            let rows: Vec<Vec<String>> = passes
                .iter()
                .map(|p| {
                    let doors: Vec<&str> = p.doors.iter().map(DoorId::as_str).collect();
                    vec![
                        p.id.to_string(),
                        p.label.clone(),
                        p.company.clone().unwrap_or_default(),
                        format!("{}/{}", p.entries_left, p.entries),
                        if doors.is_empty() { "this gate".into() } else { doors.join(",") },
                        format_time(p.valid_until),
                        cell_time(p.revoked_at),
                    ]
                })
                .collect();
            print_table(&["pass", "label", "courier", "left", "doors", "until", "revoked"], &rows);
        }
        Args::Revoke { id } => {
            manage::revoke_visitor_pass(&mut store, id, now, operator)?;
            println!("visitor pass {id} revoked");
        }
    }
    Ok(())
}
