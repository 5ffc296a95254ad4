//! `facegate init`: makes the database and the site key file (mode 0600); never overwrites.

use crate::config::Config;
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do nothing when the database and the key file both exist (the service's first start).
    /// One without the other is still an error: a new key would make the templates useless.
    #[arg(long)]
    if_missing: bool,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    let store = &config.store;
    if args.if_missing && store.database.exists() && store.key_file.exists() {
        return Ok(());
    }
    Store::init(store)?;
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
