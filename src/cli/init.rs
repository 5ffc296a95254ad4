//! `facegate init`: makes the database and the site key file (mode 0600); never overwrites.

use crate::config::Config;
use crate::store::Store;

pub fn run(config: &Config) -> anyhow::Result<()> {
    Store::init(&config.store)?;
    println!(
        "created database {} and site key {}",
        config.store.database.display(),
        config.store.key_file.display()
    );
    println!(
        "keep a copy of the key file somewhere safe and apart from the database: without it no template can be used"
    );
    Ok(())
}
