//! `facegate init`: makes the database and the site key file (mode 0600, sealed by systemd for
//! the `tpm2` and `systemd-host` key stores); never overwrites.

use crate::config::Config;
use crate::keys::custody::KeyStore;
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do nothing when the database and the key file both exist (the service's first start).
    /// One without the other is still an error: a new key would make the templates useless.
    #[arg(long)]
    if_missing: bool,
    /// How to keep the key file (default: `[store] key_store`); the config must say the same.
    #[arg(long, value_enum)]
    key_store: Option<KeyStore>,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    let store = &config.store;
    if let Some(chosen) = args.key_store
        && chosen != store.key_store
    {
        anyhow::bail!(
            "--key-store {} differs from `[store] key_store` in the config ({}): set `key_store = \"{}\"` under [store] first, so the gate reads the key the way it is kept",
            chosen.as_str(),
            store.key_store.as_str(),
            chosen.as_str()
        );
    }
    if args.if_missing && store.database.exists() && store.key_file.exists() {
        return Ok(());
    }
    Store::init(store)?;
    give_to_the_service_user(store, &[])?;
    println!(
        "created database {} and site key {} (key store: {})",
        store.database.display(),
        store.key_file.display(),
        store.key_store.as_str()
    );
    println!(
        "now make a passphrase-protected backup of the key and keep it apart from the gate: `facegate admin key export FILE` (without the key no template, PIN or card can be used)"
    );
    Ok(())
}

/// Run as root (a sealed key store needs root to seal), the new database (and its WAL and
/// shared-memory files if any), a plain key file and the files in `also` go to the owner of the
/// database's folder (the service's `StateDirectory`), so the services can use them.
pub(super) fn give_to_the_service_user(
    store: &crate::store::StoreConfig,
    also: &[&std::path::Path],
) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let folder = store.database.parent().filter(|p| !p.as_os_str().is_empty());
    let owner = std::fs::metadata(folder.unwrap_or(std::path::Path::new(".")))?;
    let mut files = vec![store.database.clone()];
    for suffix in ["-wal", "-shm"] {
        let mut name = store.database.clone().into_os_string();
        name.push(suffix);
        files.push(name.into());
    }
    if store.key_store == KeyStore::File {
        files.push(store.key_file.clone());
    }
    files.extend(also.iter().map(|path| path.to_path_buf()));
    for file in files.iter().filter(|file| file.exists()) {
        std::os::unix::fs::chown(file, Some(owner.uid()), Some(owner.gid()))?;
    }
    Ok(())
}
