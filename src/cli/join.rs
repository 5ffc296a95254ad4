//! `facegate join BUNDLE` and `facegate sync`: a door of a site. `join` opens the one-time
//! bundle (passphrase on standard input or a prompt), creates the door's database and key
//! (as `[store]` says), writes the broker login to `[site] login` with the broker's addresses
//! resolved now, gives these files to the service user when run as root, and writes the sync
//! agent's network drop-in (those addresses, the only ones `facegate sync` may reach; `join
//! --resolve-again` renews both after the broker moved); `sync` runs the agent that keeps the
//! door's replica and sends its outbox.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::admin::read_passphrase;
use super::init::give_to_the_service_user;
use crate::config::Config;
use crate::site::broker::{SYNC_NETWORK_DROPIN, sync_network_dropin};
use crate::site::join::{join, read_login, resolve_again};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct JoinArgs {
    /// The join bundle from `facegate site door add`.
    #[arg(required_unless_present = "resolve_again")]
    bundle: Option<PathBuf>,
    /// After the broker moved to another address: resolve its host name again, store the new
    /// addresses in the login and write the network drop-in again (no bundle).
    #[arg(long, conflicts_with = "bundle")]
    resolve_again: bool,
    /// Where to write the sync agent's network drop-in (its unit reaches only the addresses
    /// listed there).
    #[arg(long, default_value = SYNC_NETWORK_DROPIN)]
    network_dropin: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {}

pub fn join_site(args: JoinArgs, config: &Config) -> anyhow::Result<()> {
    let dropin = &args.network_dropin;
    let Some(bundle) = args.bundle else {
        let addresses = resolve_again(&config.site.login)?;
        give_to_the_service_user(&config.store, &[&config.site.login])?;
        write_dropin(dropin, &addresses)?;
        println!("the broker's addresses are now {addresses:?}: {}", dropin.display());
        println!(
            "restart the sync agent: `systemctl daemon-reload && systemctl restart facegate-sync`"
        );
        return Ok(());
    };
    let sealed =
        std::fs::read(&bundle).with_context(|| format!("cannot read {}", bundle.display()))?;
    let passphrase = read_passphrase(false)?;
    let login = join(&sealed, &passphrase, &config.store, &config.site.login)?;
    give_to_the_service_user(&config.store, &[&config.site.login])?;
    write_dropin(dropin, &login.broker.addresses).with_context(|| {
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

/// Writes the sync agent's network drop-in for the broker's `addresses`.
fn write_dropin(dropin: &Path, addresses: &[IpAddr]) -> anyhow::Result<()> {
    let text = sync_network_dropin(addresses);
    let dir = dropin.parent().filter(|dir| !dir.as_os_str().is_empty());
    dir.map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(dropin, text))
        .with_context(|| format!("cannot write {}", dropin.display()))
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
