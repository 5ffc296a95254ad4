//! The register's encrypted backup: a consistent copy of `register.db` in an age file under a
//! passphrase (the format of the key backup, [`crate::keys::backup`]). The site key is not in
//! it: a restore needs the site's key file (or its own backup) as well.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::keys::backup;
use crate::store::{Store, StoreConfig};

/// The register, copied and sealed under `passphrase`.
pub fn seal_register(store: &Store, passphrase: &str) -> anyhow::Result<Vec<u8>> {
    Ok(backup::seal(&store.snapshot()?, passphrase)?)
}

/// Puts a backup in place of the register at `register` (with the controller stopped): the
/// backup must open with `passphrase`, be a register of this site key with an intact audit log;
/// the register it replaces is kept as `register.db.before-restore`. Returns that path.
pub fn restore_register(
    register: &StoreConfig,
    sealed: &[u8],
    passphrase: &str,
) -> anyhow::Result<PathBuf> {
    let plain = backup::open(sealed, passphrase)?;
    let incoming = register.database.with_extension("restoring");
    std::fs::write(&incoming, &plain[..])
        .with_context(|| format!("cannot write {}", incoming.display()))?;
    let checked =
        check(&incoming, register).context("the backup is not an intact register of this site key");
    if let Err(err) = checked {
        let _ = std::fs::remove_file(&incoming);
        return Err(err);
    }
    let kept = register.database.with_extension("db.before-restore");
    if register.database.exists() {
        Store::open(register)?.checkpoint()?;
        std::fs::rename(&register.database, &kept)?;
    }
    std::fs::rename(&incoming, &register.database)?;
    Ok(kept)
}

fn check(incoming: &Path, register: &StoreConfig) -> anyhow::Result<()> {
    let config = StoreConfig { database: incoming.to_owned(), ..register.clone() };
    let store = Store::open(&config)?;
    let verification = store.verify_audit()?;
    if !verification.intact() {
        bail!("its audit log does not verify: {}", verification.findings().join("; "));
    }
    store.checkpoint()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewResident;

    const PASSPHRASE: &str = "a passphrase of the office";

    #[test]
    fn a_sealed_register_restores_in_place_keeping_the_one_it_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::in_dir(dir.path(), "register.db");
        let mut store = Store::init(&config).unwrap();
        let new =
            NewResident { number: "1201".into(), name: "Li Wei".into(), ..Default::default() };
        store.add_resident(&new, 1, "wang").unwrap();
        let sealed = seal_register(&store, PASSPHRASE).unwrap();
        assert!(sealed.starts_with(b"age-encryption.org/v1\n-> scrypt "));
        assert!(!sealed.windows(6).any(|w| w == b"Li Wei"));
        store.remove_resident("1201", 2, "wang").unwrap();
        drop(store);
        let err = restore_register(&config, &sealed, "not the passphrase").unwrap_err();
        assert!(format!("{err:#}").contains("wrong passphrase"), "{err:#}");
        let kept = restore_register(&config, &sealed, PASSPHRASE).unwrap();
        assert_eq!(Store::open(&config).unwrap().resident("1201").unwrap().name, "Li Wei");
        let before = StoreConfig { database: kept, ..config.clone() };
        assert!(Store::open(&before).unwrap().find_resident("1201").unwrap().is_none());

        let other = tempfile::tempdir().unwrap();
        let foreign = StoreConfig {
            database: other.path().join("register.db"),
            key_file: other.path().join("site.key"),
            ..StoreConfig::default()
        };
        let sealed_elsewhere = seal_register(&Store::init(&foreign).unwrap(), PASSPHRASE).unwrap();
        let err = restore_register(&config, &sealed_elsewhere, PASSPHRASE).unwrap_err();
        assert!(format!("{err:#}").contains("not an intact register of this site key"), "{err:#}");
        assert_eq!(Store::open(&config).unwrap().resident("1201").unwrap().name, "Li Wei");
    }
}
