//! `facegate admin pin set|reset`, `admin card add|revoke|list`, `admin unlock` (a resident's
//! PIN, the keypad, the card reader, the face camera).

use std::io::BufRead;

use crate::config::Config;
use crate::credentials::{CardUid, Pin};
use crate::manage::{self, Lockout};
use crate::store::{Store, unix_now};

use super::super::table::{cell_time, print_json, print_table};

#[derive(Debug, clap::Subcommand)]
pub enum PinArgs {
    /// Set or reset a resident's PIN; the PIN is read from standard input, never an argument
    /// (arguments end up in shell history and process lists). The weakest PINs are refused.
    Set {
        number: String,
        /// Set the admin-mode PIN of an admin listed in `[gate] admins` instead (at least six
        /// digits, not their door PIN): with their card it opens admin mode at the gate.
        #[arg(long)]
        admin: bool,
    },
    /// Issue a one-time reset code (printed once, valid for 24 hours): the resident types
    /// their number, the code and a new PIN of their choosing at a door. Nobody else learns
    /// the PIN.
    Reset { number: String },
}

#[derive(Debug, clap::Subcommand)]
pub enum CardArgs {
    /// Register a card: its number (as printed, or `hex:` UID bytes) is read from standard
    /// input, e.g. by tapping it on a keyboard-wedge reader.
    Add {
        number: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Revoke a lost card.
    Revoke { id: i64 },
    /// A resident's cards.
    List {
        number: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct UnlockArgs {
    /// The resident number to unlock.
    number: Option<String>,
    /// Unlock the keypad itself (after a number sweep).
    #[arg(long, conflicts_with_all = ["number", "card_reader", "face_camera"])]
    keypad: bool,
    /// Unlock the card reader (after unknown cards).
    #[arg(long, conflicts_with_all = ["number", "face_camera"])]
    card_reader: bool,
    /// Unlock the face camera (after faces not recognised or not live).
    #[arg(long, conflicts_with = "number")]
    face_camera: bool,
}

fn read_secret_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

pub fn pin(args: PinArgs, config: &Config, operator: &str) -> anyhow::Result<()> {
    let mut store = Store::open(&config.store)?;
    let (number, admin) = match args {
        PinArgs::Set { number, admin } => (number, admin),
        PinArgs::Reset { number } => {
            let code = manage::issue_pin_reset(&mut store, &number, unix_now(), operator)?;
            println!("PIN reset code for resident {number} (shown once, valid 24 hours): {code}");
            return Ok(());
        }
    };
    store.resident(&number)?;
    anyhow::ensure!(
        !admin || config.gate.admins.contains(&number),
        "resident {number} is not listed in [gate] admins"
    );
    let text = zeroize::Zeroizing::new(read_secret_line()?);
    let pin = Pin::parse(&text, &config.pin)?;
    if admin {
        manage::set_admin_pin(&mut store, &config.pin, &number, &pin, unix_now(), operator)?;
        println!("admin PIN set for resident {number}");
    } else {
        manage::set_pin(&mut store, &config.pin, &number, &pin, unix_now(), operator)?;
        println!("PIN set for resident {number}");
    }
    Ok(())
}

pub fn card(args: CardArgs, config: &Config, operator: &str) -> anyhow::Result<()> {
    let mut store = Store::open(&config.store)?;
    match args {
        CardArgs::Add { number, label } => {
            let uid: CardUid = zeroize::Zeroizing::new(read_secret_line()?).parse()?;
            let id = manage::add_card(&mut store, &number, &uid, &label, unix_now(), operator)?;
            println!("card {id} registered for resident {number}");
        }
        CardArgs::Revoke { id } => {
            manage::revoke_card(&mut store, id, unix_now(), operator)?;
            println!("card {id} revoked");
        }
        CardArgs::List { number, json } => {
            let cards = store.cards_of(&number)?;
            if json {
                return print_json(&cards);
            }
            let rows: Vec<Vec<String>> = cards
                .iter()
                .map(|c| {
                    vec![
                        c.id.to_string(),
                        c.label.clone(),
                        cell_time(Some(c.created_at)),
                        cell_time(c.revoked_at),
                    ]
                })
                .collect();
            print_table(&["card", "label", "added", "revoked"], &rows);
        }
    }
    Ok(())
}

pub fn unlock(args: UnlockArgs, config: &Config, operator: &str) -> anyhow::Result<()> {
    let mut store = Store::open(&config.store)?;
    let lockout = match (&args.number, args.keypad, args.card_reader, args.face_camera) {
        (Some(number), false, false, false) => Lockout::Resident(number),
        (None, true, false, false) => Lockout::Keypad,
        (None, false, true, false) => Lockout::CardReader,
        (None, false, false, true) => Lockout::FaceCamera,
        _ => anyhow::bail!("name a resident number, or --keypad, --card-reader or --face-camera"),
    };
    let lifted = manage::lift_lockout(&mut store, lockout, unix_now(), operator)?;
    println!("{}", if lifted { "lockout lifted" } else { "there was no lockout" });
    Ok(())
}
