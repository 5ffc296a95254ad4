//! `facegate admin resident add|list|show|edit|remove`.

use crate::config::Config;
use crate::manage;
use crate::store::{NewResident, Resident, ResidentStatus, Store, unix_now};

use super::super::table::{cell_time, parse_date, print_json, print_table};

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Add a resident.
    Add {
        /// Resident number, typed on the keypad (1–12 digits).
        number: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        unit: String,
        #[command(flatten)]
        fields: Fields,
    },
    /// List residents, or those whose number, name or unit contains `--search TEXT`.
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one resident, their consent and templates.
    Show {
        number: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a resident's details.
    Edit {
        number: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        status: Option<ResidentStatus>,
        /// Require this resident's PIN after their card (true/false).
        #[arg(long)]
        require_card_pin: Option<bool>,
        #[command(flatten)]
        fields: Fields,
    },
    /// Delete a resident and all their data (audit rows stay, pseudonymous).
    Remove { number: String },
}

/// Optional fields shared by add and edit.
#[derive(Debug, clap::Args)]
pub struct Fields {
    /// Access starts (YYYY-MM-DD).
    #[arg(long)]
    valid_from: Option<String>,
    /// Access ends, e.g. the move-out date (YYYY-MM-DD).
    #[arg(long)]
    valid_until: Option<String>,
    /// Birth year (minors need a guardian's consent for face enrolment).
    #[arg(long)]
    birth_year: Option<i32>,
}

impl Fields {
    fn into_new(self, number: String, name: String, unit: String) -> anyhow::Result<NewResident> {
        Ok(NewResident {
            number,
            name,
            unit,
            valid_from: self.valid_from.as_deref().map(parse_date).transpose()?,
            valid_until: self.valid_until.as_deref().map(parse_date).transpose()?,
            birth_year: self.birth_year,
        })
    }
}

pub fn run(args: Args, config: &Config, operator: &str) -> anyhow::Result<()> {
    let mut store = Store::open(&config.store)?;
    let now = unix_now();
    match args {
        Args::Add { number, name, unit, fields } => {
            let new = fields.into_new(number, name, unit)?;
            let resident = manage::add_resident(&mut store, &new, now, operator)?;
            println!("added resident {} ({})", resident.number, resident.unit);
        }
        Args::List { search, json } => {
            let residents = match search {
                Some(text) => store.search_residents(&text)?,
                None => store.residents()?,
            };
            if json {
                return print_json(&residents);
            }
            let rows: Vec<Vec<String>> = residents.iter().map(row).collect();
            print_table(
                &["number", "name", "unit", "status", "valid from", "valid until", "face"],
                &rows,
            );
        }
        Args::Show { number, json } => {
            let resident = store.resident(&number)?;
            let consent = store.consent(&number)?;
            let templates = store.templates_of(&number)?;
            if json {
                return print_json(
                    &serde_json::json!({ "resident": resident, "consent": consent, "templates": templates }),
                );
            }
            print_table(
                &["number", "name", "unit", "status", "valid from", "valid until", "face"],
                &[row(&resident)],
            );
            match consent {
                Some(c) => println!(
                    "\nface consent: given {} (notice version {}, recorded by {}{})",
                    cell_time(Some(c.granted_at)),
                    c.text_version,
                    c.operator,
                    c.guardian.map(|g| format!(", guardian {g}")).unwrap_or_default()
                ),
                None => println!("\nface consent: none (PIN and card only)"),
            }
            for t in templates {
                println!(
                    "template {}: enrolled {}, last used {}",
                    t.id,
                    cell_time(Some(t.created_at)),
                    cell_time(t.last_used_at)
                );
            }
        }
        Args::Edit { number, name, unit, status, require_card_pin, fields } => {
            let edit = fields.into_new(
                number.clone(),
                name.unwrap_or_default(),
                unit.unwrap_or_default(),
            )?;
            manage::edit_resident(&mut store, &number, &edit, status, now, operator)?;
            if let Some(required) = require_card_pin {
                manage::set_require_card_pin(&mut store, &number, required, now, operator)?;
            }
            println!("updated resident {number}");
        }
        Args::Remove { number } => {
            manage::remove_resident(&mut store, &number, now, operator)?;
            println!("removed resident {number} and all their data");
        }
    }
    Ok(())
}

fn row(r: &Resident) -> Vec<String> {
    let status = r.status.as_str();
    vec![
        r.number.clone(),
        r.name.clone(),
        r.unit.clone(),
        status.into(),
        cell_time(r.valid_from),
        cell_time(r.valid_until),
        if r.templates > 0 { format!("{} template(s)", r.templates) } else { "-".into() },
    ]
}
