//! `facegate join BUNDLE` and `facegate sync`: a door of a site. `join` opens the one-time
//! bundle (passphrase on standard input or a prompt), creates the door's database and key
//! (as `[store]` says) and writes the broker login to `[site] login`; `sync` runs the agent
//! that keeps the door's replica and sends its outbox.

use std::path::PathBuf;

use anyhow::Context;

use super::admin::read_passphrase;
use crate::config::Config;
use crate::site::join::{join, read_login};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct JoinArgs {
    /// The join bundle from `facegate site door add`.
    bundle: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {}

pub fn join_site(args: JoinArgs, config: &Config) -> anyhow::Result<()> {
    let sealed = std::fs::read(&args.bundle)
        .with_context(|| format!("cannot read {}", args.bundle.display()))?;
    let passphrase = read_passphrase(false)?;
    let login = join(&sealed, &passphrase, &config.store, &config.site.login)?;
    println!(
        "this gate is now door {} of site {}: database {}, key {} (key store: {}), broker login {}",
        login.door,
        login.site,
        config.store.database.display(),
        config.store.key_file.display(),
        config.store.key_store.as_str(),
        config.site.login.display()
    );
    println!(
        "start the sync agent (`systemctl enable --now facegate-sync`), then delete the bundle"
    );
    Ok(())
}

pub fn sync(_args: SyncArgs, config: &Config) -> anyhow::Result<()> {
    let login = read_login(&config.site.login)?;
    let mut store = Store::open(&config.store)?;
    super::site::runtime()?.block_on(async {
        tokio::select! {
            result = crate::site::sync::run(&mut store, &login) => result.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
