//! The broker's configuration rendered from the site controller's directory: the `[server]`
//! section of `site.toml` (listen address, store dir, limits, TLS, the file to write), the
//! controller's login and every door in `site.db` (bcrypt hashes only). `facegate site
//! broker-config` prints or writes it; `site door add` and `site door remove` write it again
//! when `[server] config_file` is set, so a removed door loses its broker login with the next
//! reload of nats-server (`systemctl reload nats-server` or `nats-server --signal reload`).
//! Without `tls_cert` and `tls_key` it listens on loopback only.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::broker::{self, BrokerSettings, PasswordHash, TlsFiles};
use super::controller::SiteDir;
use super::site_db::SiteDb;
use super::{SiteError, join::write_private};

/// `[server]` in `site.toml`: the broker this site runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Where `site door add` / `site door remove` write the configuration (e.g.
    /// `/etc/nats-server.conf`); unset: only `site broker-config` renders it.
    pub config_file: Option<PathBuf>,
    #[serde(default = "default_server_name")]
    pub server_name: String,
    #[serde(default = "default_listen")]
    pub listen: String,
    /// JetStream's store dir (nats-server 2.9 reloads only a file that sets it).
    pub store_dir: PathBuf,
    #[serde(default = "default_max_memory")]
    pub max_memory_store: u64,
    #[serde(default = "default_max_file")]
    pub max_file_store: u64,
    /// TLS certificate chain and key (PEM); both or neither.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

fn default_server_name() -> String {
    "broker-1".into()
}

fn default_listen() -> String {
    "0.0.0.0:4222".into()
}

fn default_max_memory() -> u64 {
    256 << 20
}

fn default_max_file() -> u64 {
    4 << 30
}

/// How to apply a written configuration.
pub const RELOAD_HINT: &str =
    "reload the broker: `systemctl reload nats-server` (or `nats-server --signal reload`)";

/// The configuration text for this site: its server section, the controller's user and one user
/// per door in `site.db`.
pub fn render(dir: &SiteDir) -> Result<String, SiteError> {
    let settings = dir.settings()?;
    let server = settings.server.as_ref().ok_or_else(|| {
        SiteError::Invalid(format!(
            "{} has no [server] section (config_file, store_dir, listen, ...)",
            dir.settings_path().display()
        ))
    })?;
    let tls = match (&server.tls_cert, &server.tls_key) {
        (Some(cert_file), Some(key_file)) => {
            Some(TlsFiles { cert_file: cert_file.clone(), key_file: key_file.clone() })
        }
        (None, None) => None,
        _ => return Err(SiteError::Invalid("[server] needs both tls_cert and tls_key".into())),
    };
    if tls.is_none() {
        super::link::check_plain_listener(&server.listen)?;
    }
    let broker_settings = BrokerSettings {
        server_name: server.server_name.clone(),
        listen: server.listen.clone(),
        mqtt_listen: None,
        store_dir: Some(server.store_dir.clone()),
        max_memory_store: server.max_memory_store,
        max_file_store: server.max_file_store,
        tls,
    };
    let site = &settings.site;
    let password = settings.broker.password.as_deref().ok_or_else(|| {
        SiteError::Invalid("site.toml has no broker password for the controller".into())
    })?;
    let bad = |e: broker::BrokerError| SiteError::Invalid(e.to_string());
    let mut users = vec![broker::site_user(site, &PasswordHash::of(password).map_err(bad)?)];
    for door in SiteDb::open(&dir.site_db_path())?.doors()? {
        let hash = PasswordHash::parse(&door.password_hash).map_err(bad)?;
        users.push(broker::door_user(site, &door.door, &hash));
    }
    Ok(broker::render_server_config(&broker_settings, &users))
}

/// Writes the configuration to `path` (mode 0600, replacing it).
pub fn write(dir: &SiteDir, path: &Path) -> Result<(), SiteError> {
    let text = render(dir)?;
    let tmp = path.with_extension("facegate-new");
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, text.as_bytes())?;
    std::fs::rename(&tmp, path)
        .map_err(|e| SiteError::Invalid(format!("cannot replace {}: {e}", path.display())))
}

/// Writes the configuration where `[server] config_file` says; the path, or `None` when no
/// file is configured.
pub fn write_configured(dir: &SiteDir) -> Result<Option<PathBuf>, SiteError> {
    let Some(path) = dir.settings()?.server.and_then(|s| s.config_file) else { return Ok(None) };
    write(dir, &path)?;
    Ok(Some(path))
}
