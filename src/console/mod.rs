//! The managers' web console on the site controller: an HTTPS server (axum, rustls) over the
//! site's register (`register.db`, a normal [`Store`]), the site's `site.db` (doors, door
//! commands) and its own `console.db` (accounts, sessions, login back-off). Pages are server-rendered HTML (maud) in Chinese and English,
//! without JavaScript.
//!
//! - [`accounts`], [`sessions`]: who may sign in, and their sessions.
//! - [`roles`]: what each role may do (the one place for access rules).
//! - [`guard`]: the session and CSRF check every request passes.
//! - [`pages`]: one module per page; every change goes through [`crate::manage`].
//! - [`tls`]: the certificate and the TLS listener.
//! - [`qr`]: a visitor pass's QR code, drawn on the page.
//! - [`refusals`]: the register's refusals in the reader's language.

pub mod accounts;
pub mod backup;
pub mod guard;
pub mod i18n;
pub mod layout;
pub mod pages;
pub mod qr;
pub mod refusals;
pub mod roles;
pub mod sessions;
pub mod spreadsheet;
pub mod tls;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;

use crate::config::Config;
use crate::site::site_db::SiteDb;
use crate::store::{Store, StoreConfig};
use accounts::ConsoleDb;

/// The clock the console reads (Unix seconds); tests move it.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The files of a site controller's directory the console uses.
#[derive(Debug, Clone)]
pub struct SiteFiles {
    /// The register (a normal facegate store) and the site key file.
    pub register: StoreConfig,
    /// Accounts, sessions and login back-off.
    pub console_db: PathBuf,
    /// The site controller's `site.db`: the doors and their reports, door commands.
    pub site_db: PathBuf,
    /// The console's TLS certificate and key (PEM).
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

impl SiteFiles {
    /// The files in directory `dir`: `register.db`, `site.key`, `console.db`, `site.db`,
    /// `console.crt`, `console.key`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            register: StoreConfig {
                database: dir.join("register.db"),
                key_file: dir.join("site.key"),
                ..StoreConfig::default()
            },
            console_db: dir.join("console.db"),
            site_db: dir.join("site.db"),
            certificate: dir.join("console.crt"),
            private_key: dir.join("console.key"),
        }
    }
}

/// What every request handler shares.
pub struct Console {
    register: Mutex<Store>,
    accounts: Mutex<ConsoleDb>,
    site_db: Mutex<SiteDb>,
    /// The site's configuration (consent, retention, matching, PIN rules).
    pub config: Config,
    clock: Clock,
    /// CSV imports waiting for confirmation.
    pub imports: pages::import::Pending,
}

/// The shared state of the router.
pub type AppState = Arc<Console>;

impl Console {
    pub fn new(
        register: Store,
        accounts: ConsoleDb,
        site_db: SiteDb,
        config: Config,
        clock: Clock,
    ) -> AppState {
        Arc::new(Self {
            register: Mutex::new(register),
            accounts: Mutex::new(accounts),
            site_db: Mutex::new(site_db),
            config,
            clock,
            imports: Default::default(),
        })
    }

    /// The register; a panic while it was held does not lock the console out.
    pub fn register(&self) -> MutexGuard<'_, Store> {
        self.register.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn accounts(&self) -> MutexGuard<'_, ConsoleDb> {
        self.accounts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `site.db` (the doors' reports, door commands).
    pub fn site_db(&self) -> MutexGuard<'_, SiteDb> {
        self.site_db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }
}

/// Every page and the guard in front of them.
pub fn router(state: AppState) -> Router {
    pages::routes()
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard))
        .with_state(state)
}

/// Serves the console over HTTPS on `tcp` with the certificate and key of `files`, until the
/// process ends.
pub async fn serve(
    state: AppState,
    tcp: tokio::net::TcpListener,
    files: &SiteFiles,
) -> anyhow::Result<()> {
    let tls = tls::server_config(&files.certificate, &files.private_key)?;
    let listener = tls::TlsListener::new(tcp, tls)?;
    let app = router(state).into_make_service_with_connect_info::<guard::Peer>();
    axum::serve(listener, app).await?;
    Ok(())
}
