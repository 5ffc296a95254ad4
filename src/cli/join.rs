//! `facegate join BUNDLE` and `facegate sync`: a door of a site. `join` opens the one-time
//! bundle (passphrase on standard input or a prompt), creates the door's database and key
//! (as `[store]` says), writes the broker login to `[site] login` and the sync agent's network
//! drop-in (the broker's addresses, the only ones `facegate sync` may reach); `sync` runs the
//! agent that keeps the door's replica and sends its outbox.

use std::path::PathBuf;

use anyhow::Context;

use super::admin::read_passphrase;
use crate::config::Config;
use crate::site::SiteError;
use crate::site::broker::{SYNC_NETWORK_DROPIN, sync_network_dropin};
use crate::site::join::{broker_addresses, join, read_login};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct JoinArgs {
    /// The join bundle from `facegate site door add`.
    bundle: PathBuf,
    /// Where to write the sync agent's network drop-in (its unit reaches only the addresses
    /// listed there).
    #[arg(long, default_value = SYNC_NETWORK_DROPIN)]
    network_dropin: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {}

pub fn join_site(args: JoinArgs, config: &Config) -> anyhow::Result<()> {
    let sealed = std::fs::read(&args.bundle)
        .with_context(|| format!("cannot read {}", args.bundle.display()))?;
    let passphrase = read_passphrase(false)?;
    let login = join(&sealed, &passphrase, &config.store, &config.site.login)?;
    let dropin = &args.network_dropin;
    let written = broker_addresses(&login.broker.url).and_then(|addresses| {
        let text = sync_network_dropin(&addresses);
        let dir = dropin.parent().filter(|dir| !dir.as_os_str().is_empty());
        dir.map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(dropin, text))
            .map_err(|e| SiteError::Invalid(e.to_string()))
    });
    written.with_context(|| {
        format!(
            "the door joined, but its sync agent's network drop-in {} was not written: write it by hand (IPAddressAllow= for each broker address)",
            dropin.display()
        )
    })?;
    println!(
        "this gate is now door {} of site {}: database {}, key {} (key store: {}), broker login {}",
        login.door,
        login.site,
        config.store.database.display(),
        config.store.key_file.display(),
        config.store.key_store.as_str(),
        config.site.login.display()
    );
    println!("the sync agent may reach the broker only: {}", dropin.display());
    println!(
        "start the sync agent (`systemctl daemon-reload && systemctl enable --now facegate-sync`), then delete the bundle"
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
