//! `facegate site init | door add | door remove | broker-config | status | run`: the site
//! controller's verbs, on its directory (`--dir`, default `/var/lib/facegate-site`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use super::table::{format_time, print_table};
use crate::site::broker_config::{self, RELOAD_HINT};
use crate::site::controller::{SiteController, SiteDir};
use crate::site::site_db::SiteDb;
use crate::site::status::door_statuses;
use crate::site::{DoorId, SiteId};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The site controller's directory (register.db, site.key, site.db, site.toml).
    #[arg(long, default_value = "/var/lib/facegate-site")]
    dir: PathBuf,
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// Create the site: the register, the site key, site.db and site.toml.
    Init {
        /// The site id (a-z, 0-9, '-').
        site: SiteId,
        /// The broker's URL for the controller, e.g. tls://broker.example:4222 (nats:// only
        /// for a broker on this machine).
        #[arg(long)]
        broker: String,
        /// The site CA (PEM) that signed the broker's certificate: the only root the controller
        /// and the doors trust. Needed with tls://.
        #[arg(long)]
        broker_ca: Option<PathBuf>,
    },
    /// Add or remove a door.
    #[command(subcommand)]
    Door(DoorVerb),
    /// Render the broker's configuration from site.toml's [server] and site.db's doors.
    BrokerConfig {
        /// Write it here (replacing the file) instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Each door's last report: online, last seen, replica revision, lag, outbox depth.
    Status,
    /// Run the controller: publish the register to the doors, take in what they send.
    Run,
}

#[derive(Debug, clap::Subcommand)]
enum DoorVerb {
    /// Add a door and write its one-time join bundle (the passphrase is printed once).
    Add {
        door: DoorId,
        /// The broker's URL as the door reaches it (default: the controller's).
        #[arg(long)]
        broker_url: Option<String>,
        /// Where to write the bundle (default: <door>.join); never overwritten.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Remove a door: its messages are refused from now on, its broker user goes with the
    /// configuration written again (when [server] config_file is set) and the broker's reload.
    Remove { door: DoorId },
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = SiteDir(args.dir.clone());
    match args.verb {
        Verb::Init { site, broker, broker_ca } => {
            let ca = broker_ca
                .map(|path| {
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))
                })
                .transpose()?;
            let settings = dir.init_with_ca(site, &broker, ca)?;
            println!(
                "site {} created in {}: register.db, site.key (back it up: `facegate --config <a config with [store] key_file = {}> admin key export FILE`), site.db, site.toml",
                settings.site,
                args.dir.display(),
                dir.register().key_file.display()
            );
        }
        Verb::Door(DoorVerb::Add { door, broker_url, out }) => {
            let out = out.unwrap_or_else(|| PathBuf::from(format!("{door}.join")));
            let (bundle, passphrase) = dir.add_door(&door, broker_url.as_deref())?;
            let mut file =
                std::fs::OpenOptions::new().write(true).create_new(true).open(&out).with_context(
                    || format!("cannot create {} (it must not exist)", out.display()),
                )?;
            file.write_all(&bundle).and_then(|()| file.sync_all())?;
            println!("door {door} added; join bundle written to {}", out.display());
            println!("one-time passphrase (shown only now): {}", *passphrase);
            println!(
                "on the door: `facegate join {}` (type the passphrase), then delete the bundle",
                out.display()
            );
            rewrite_broker_config(&dir)?;
        }
        Verb::Door(DoorVerb::Remove { door }) => {
            SiteDb::open(&dir.site_db_path())?.remove_door(&door, crate::store::unix_now())?;
            println!("door {door} removed: the site refuses its messages from now on");
            rewrite_broker_config(&dir)?;
        }
        Verb::BrokerConfig { out: None } => print!("{}", broker_config::render(&dir)?),
        Verb::BrokerConfig { out: Some(out) } => {
            broker_config::write(&dir, &out)?;
            println!("broker configuration written to {}; {RELOAD_HINT}", out.display());
        }
        Verb::Status => {
            let statuses = door_statuses(&SiteDb::open(&dir.site_db_path())?)?;
            let opt = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
            let header = [
                "door",
                "online",
                "last seen",
                "revision",
                "lag",
                "outbox",
                "alarms 24h",
                "alarms now",
                "selftest",
            ];
            let mut rows = Vec::new();
            for s in statuses {
                rows.push(vec![
                    s.door.to_string(),
                    if s.online { "yes" } else { "no" }.to_owned(),
                    s.last_seen.map_or("never".to_owned(), format_time),
                    opt(s.replica_revision),
                    if s.resyncing { "resyncing".to_owned() } else { opt(s.lag) },
                    opt(s.outbox_depth),
                    s.alarms.to_string(),
                    match s.alarms_now.names() {
                        names if names.is_empty() => "none".to_owned(),
                        names => names.join(", "),
                    },
                    s.last_selftest.map_or("never".to_owned(), |t| {
                        format!("{} {}", format_time(t.at), if t.ok { "ok" } else { "FAILED" })
                    }),
                ]);
            }
            print_table(&header, &rows);
        }
        Verb::Run => {
            let controller = SiteController::open(&args.dir)?;
            runtime()?.block_on(async {
                tokio::select! {
                    result = controller.run() => result.map_err(anyhow::Error::from),
                    _ = tokio::signal::ctrl_c() => Ok(()),
                }
            })?;
        }
    }
    Ok(())
}

/// After a door was added or removed: the broker configuration written again where
/// `[server] config_file` says, or a reminder to do it.
fn rewrite_broker_config(dir: &SiteDir) -> anyhow::Result<()> {
    match broker_config::write_configured(dir)? {
        Some(path) => println!("broker configuration written to {}; {RELOAD_HINT}", path.display()),
        None => println!(
            "no [server] config_file in site.toml: write the broker configuration with `facegate site broker-config --out FILE`, then {RELOAD_HINT}"
        ),
    }
    Ok(())
}

/// The runtime of the site controller and the sync agent: two worker threads.
pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}
