//! `facegate console serve|account add|passwd|remove|restore`: the managers' web console on the site controller's
//! directory (see [`crate::console`]).

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::console::accounts::ConsoleDb;
use crate::console::roles::Role;
use crate::console::{Console, SiteFiles, tls};
use crate::site::site_db::SiteDb;
use crate::store::{Store, unix_now};

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Serve the console over HTTPS.
    Serve {
        /// The site controller's directory (register.db, site.key, site.db, console.db).
        #[arg(long)]
        dir: PathBuf,
        /// Address and port to listen on, e.g. 0.0.0.0:8443 for the office network.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// A PEM certificate (chain) to use instead of the self-signed one made on first start.
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
        /// The PEM private key of `--cert`.
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// Host names the self-signed certificate is made for (besides localhost and the
        /// listening address).
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
    /// Console accounts.
    #[command(subcommand)]
    Account(AccountArgs),
    /// Put an encrypted register backup (from the console's Backup page) in place of the
    /// register, with the site controller and the console stopped; the passphrase is read
    /// from stdin.
    Restore {
        file: PathBuf,
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum AccountArgs {
    /// Add an account; its password (12 to 1024 characters) is read from stdin.
    Add {
        name: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Give an account a new password (read from stdin); its sessions end.
    Passwd {
        name: String,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Remove an account; its sessions end at once.
    Remove {
        name: String,
        #[arg(long)]
        dir: PathBuf,
    },
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    match args {
        Args::Serve { dir, listen, cert, key, hosts } => {
            let _lock = crate::site::restore_guard::lock_console(&dir)?;
            let mut files = SiteFiles::in_dir(&dir);
            if let (Some(cert), Some(key)) = (cert, key) {
                (files.certificate, files.private_key) = (cert, key);
            } else {
                let mut names = vec!["localhost".to_owned(), listen.ip().to_string()];
                names.extend(hosts);
                if tls::ensure_certificate(&files.certificate, &files.private_key, &names)? {
                    println!("made a self-signed certificate {}", files.certificate.display());
                }
            }
            println!(
                "certificate SHA-256 fingerprint {}: check that your browser shows the same before you trust it",
                tls::fingerprint(&files.certificate)?
            );
            let register = Store::open(&files.register)?;
            let accounts = ConsoleDb::open(&files.console_db)?;
            let site_db = SiteDb::open(&files.site_db)?;
            // The reports preview the purge `site run` applies: site.toml's retention.
            let mut config = config.clone();
            config.retention = crate::site::controller::SiteDir(dir.clone()).settings()?.retention;
            let state = Console::new(register, accounts, site_db, config, Arc::new(unix_now));
            tokio::runtime::Runtime::new()?.block_on(async {
                let tcp = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                println!("console at https://{}/", tcp.local_addr()?);
                crate::console::serve(state, tcp, &files).await
            })
        }
        Args::Restore { file, dir } => {
            let sealed =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let _locks = crate::site::restore_guard::lock_for_restore(&dir)?;
            let passphrase = read_line("the passphrase")?;
            let register = SiteFiles::in_dir(&dir).register;
            let kept = crate::console::backup::restore_register(&register, &sealed, &passphrase)?;
            println!("register restored; the one it replaced is {}", kept.display());
            Ok(())
        }
        Args::Account(AccountArgs::Add { name, role, dir }) => {
            let db = ConsoleDb::open(&SiteFiles::in_dir(&dir).console_db)?;
            db.add_account(&name, role, &read_line("the password")?, unix_now())?;
            println!("added {} account {name}", role.as_str());
            Ok(())
        }
        Args::Account(AccountArgs::Passwd { name, dir }) => {
            let db = ConsoleDb::open(&SiteFiles::in_dir(&dir).console_db)?;
            db.set_password(&name, &read_line("the password")?)?;
            println!("new password for {name}; its sessions ended");
            Ok(())
        }
        Args::Account(AccountArgs::Remove { name, dir }) => {
            let db = ConsoleDb::open(&SiteFiles::in_dir(&dir).console_db)?;
            db.remove_account(&name)?;
            println!("removed account {name}; its sessions ended");
            Ok(())
        }
    }
}

/// One line of stdin without its line ending.
fn read_line(what: &str) -> anyhow::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line).with_context(|| format!("cannot read {what}"))?;
    let end = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(end);
    Ok(line)
}
