//! `facegate admin key export|import FILE`: the passphrase-protected backup of the site key.
//! The passphrase comes from standard input (a line) or, on a terminal, a prompt without echo;
//! never from an argument (arguments end up in shell history and process lists).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::keys::backup;
use crate::store::{AuditKind, Chain, Store, unix_now};

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Write a passphrase-protected backup of the key (an age file) to FILE; keep it apart
    /// from the gate.
    Export { file: PathBuf },
    /// Restore the key from a backup: the key file must not exist yet, and the key must fit
    /// the database (when there is one).
    Import { file: PathBuf },
}

/// Both write an admin audit row naming `operator` (the backup can invert every template).
pub fn run(args: Args, config: &Config, operator: &str) -> anyhow::Result<()> {
    let audit = |store: &mut Store, kind, file: &std::path::Path| {
        let detail = format!("{} by {operator}", file.display());
        store.audit(Chain::Admin, unix_now(), kind, "site", &detail)
    };
    match args {
        Args::Export { file } => {
            let mut store = Store::open(&config.store)?; // finishes an interrupted key rotation
            let key = config.store.custody().load()?;
            let passphrase = read_passphrase(true)?;
            let sealed = backup::export(&key, &passphrase)?;
            let mut out =
                std::fs::OpenOptions::new().write(true).create_new(true).open(&file).with_context(
                    || format!("cannot create {} (it must not exist)", file.display()),
                )?;
            out.write_all(&sealed).and_then(|()| out.sync_all())?;
            audit(&mut store, AuditKind::KeyExported, &file)?;
            println!(
                "key backup written to {}: keep it and its passphrase apart from the gate",
                file.display()
            );
        }
        Args::Import { file } => {
            let sealed =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let passphrase = read_passphrase(false)?;
            let key = backup::import(&sealed, &passphrase)?;
            if config.store.database.exists() {
                let store = Store::open_with_key(&config.store.database, &key)?;
                if store.verify_audit()?.first_broken.is_some() {
                    anyhow::bail!(
                        "the key in {} does not fit database {}: its audit chain does not verify with it",
                        file.display(),
                        config.store.database.display()
                    );
                }
            }
            config.store.custody().create(&key)?;
            if config.store.database.exists() {
                audit(&mut Store::open(&config.store)?, AuditKind::KeyImported, &file)?;
            }
            println!(
                "key restored to {} (key store: {})",
                config.store.key_file.display(),
                config.store.key_store.as_str()
            );
        }
    }
    Ok(())
}

/// One line from standard input; on a terminal a prompt with echo off (twice when `confirm`).
pub(crate) fn read_passphrase(confirm: bool) -> anyhow::Result<Zeroizing<String>> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return read_line(&stdin);
    }
    let _echo_off = EchoOff::new()?;
    eprint!("backup passphrase: ");
    let first = read_line(&stdin)?;
    eprintln!();
    if confirm {
        eprint!("again: ");
        let again = read_line(&stdin)?;
        eprintln!();
        anyhow::ensure!(*first == *again, "the two passphrases differ");
    }
    Ok(first)
}

fn read_line(stdin: &std::io::Stdin) -> anyhow::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    stdin.lock().read_line(&mut line)?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    anyhow::ensure!(!trimmed.is_empty(), "no passphrase on standard input");
    Ok(trimmed)
}

/// Turns the terminal's echo off until dropped.
struct EchoOff(libc::termios);

impl EchoOff {
    fn new() -> anyhow::Result<Self> {
        // SAFETY: termios is plain data; tcgetattr fills it for fd 0, a terminal (checked).
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(0, &mut saved) } != 0 {
            anyhow::bail!("cannot read the terminal settings: {}", std::io::Error::last_os_error());
        }
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: as above; `quiet` is a valid termios derived from the current one.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &quiet) } != 0 {
            anyhow::bail!("cannot turn echo off: {}", std::io::Error::last_os_error());
        }
        Ok(Self(saved))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `new` on the same terminal.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.0) };
    }
}
