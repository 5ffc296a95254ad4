//! The site controller (`facegate site run`): its directory, and the publisher, the consumer
//! and the sender of door commands running together, reconnecting by themselves.
//!
//! The directory holds `site.toml` (site id, broker login, `greet_by_name`), `register.db` (a
//! normal facegate store with the full register), `site.key` (the key doors get in their join
//! bundle) and `site.db` (see [`super::site_db`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use zeroize::Zeroizing;

use super::broker::PasswordHash;
use super::broker_config::ServerSection;
use super::connect::{BrokerLogin, create_bucket, jetstream};
use super::join::{make_bundle, new_password, write_private};
use super::site_db::SiteDb;
use super::{
    DoorId, SiteError, SiteId, bucket_identity, commands, consumer, door_log, publish,
    restore_guard, site_inbox_prefix,
};
use crate::keys::custody::KeyStore;
use crate::store::{RetentionConfig, Store, StoreConfig, StoreError};

/// `site.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSettings {
    pub site: SiteId,
    /// The controller's own broker login (user `site-<site>`).
    pub broker: BrokerLogin,
    /// Doors greet residents by a display name, of those who agreed only.
    #[serde(default)]
    pub greet_by_name: bool,
    /// Residents younger than this need a guardian's consent (as `[consent] minor_age`).
    #[serde(default = "default_minor_age")]
    pub minor_age: i32,
    /// Door messages received longer ago than this leave `site.db` (their audit rows stay in the
    /// register, under its own retention; see [`super::door_log`]).
    #[serde(default = "default_door_message_days")]
    pub door_message_days: i64,
    /// The register's retention (as a door's `[retention]`: the doors' consent notices state
    /// theirs, so keep both the same). The controller applies it at start and every hour; what
    /// it deletes leaves the doors with the next publication. The console's reports use it too.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// The broker this site runs on, for its rendered configuration ([`super::broker_config`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerSection>,
}

fn default_minor_age() -> i32 {
    crate::store::ConsentConfig::default().minor_age
}

fn default_door_message_days() -> i64 {
    crate::store::RetentionConfig::default().access_log_days
}

/// A site controller's directory.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteDir(pub PathBuf);

impl SiteDir {
    pub fn settings_path(&self) -> PathBuf {
        self.0.join("site.toml")
    }

    pub fn site_db_path(&self) -> PathBuf {
        self.0.join("site.db")
    }

    /// The register: a normal store under the site key.
    pub fn register(&self) -> StoreConfig {
        StoreConfig {
            database: self.0.join("register.db"),
            key_file: self.0.join("site.key"),
            key_store: KeyStore::File,
        }
    }

    /// [`SiteDir::init_with_ca`] without a site CA: for a broker on loopback.
    pub fn init(&self, site: SiteId, broker_url: &str) -> Result<SiteSettings, SiteError> {
        self.init_with_ca(site, broker_url, None)
    }

    /// Creates the directory's register, site key, `site.db` and `site.toml` (with a new broker
    /// password for the controller's user and the site CA, PEM, that doors get in their join
    /// bundle); refuses to overwrite any of them, and a broker link that would not be encrypted
    /// off loopback or has no CA ([`super::link::servers_and_tls`]).
    pub fn init_with_ca(
        &self,
        site: SiteId,
        broker_url: &str,
        ca: Option<String>,
    ) -> Result<SiteSettings, SiteError> {
        let broker = BrokerLogin {
            url: broker_url.to_owned(),
            user: Some(format!("site-{site}")),
            password: None,
            ca,
            addresses: Vec::new(),
        };
        super::link::servers_and_tls(&broker)?;
        std::fs::create_dir_all(&self.0)
            .map_err(|e| SiteError::Invalid(format!("cannot create {}: {e}", self.0.display())))?;
        if self.settings_path().exists() || self.site_db_path().exists() {
            return Err(SiteError::Invalid(format!("{} holds a site already", self.0.display())));
        }
        Store::init(&self.register())?;
        SiteDb::create(&self.site_db_path())?;
        let settings = SiteSettings {
            broker: BrokerLogin { password: Some(new_password()?.to_string()), ..broker },
            site,
            greet_by_name: false,
            minor_age: default_minor_age(),
            door_message_days: default_door_message_days(),
            retention: RetentionConfig::default(),
            server: None,
        };
        let text = toml::to_string(&settings).map_err(|e| SiteError::Invalid(e.to_string()))?;
        write_private(&self.settings_path(), text.as_bytes())?;
        Ok(settings)
    }

    /// Adds a door: its row in `site.db` with its broker password's bcrypt hash, and its
    /// one-time join bundle (the key file, the broker URL doors use, the door's login) under a
    /// one-time passphrase. Returns the bundle and the passphrase.
    pub fn add_door(
        &self,
        door: &DoorId,
        broker_url: Option<&str>,
    ) -> Result<(Vec<u8>, Zeroizing<String>), SiteError> {
        let settings = self.settings()?;
        let key = self.register().custody().load().map_err(StoreError::Key)?;
        let password = new_password()?;
        let hash = PasswordHash::of(&password).map_err(|e| SiteError::Invalid(e.to_string()))?;
        let login = BrokerLogin {
            url: broker_url.unwrap_or(&settings.broker.url).to_owned(),
            user: Some(format!("door-{}-{door}", settings.site)),
            password: Some(password.to_string()),
            ca: settings.broker.ca.clone(),
            addresses: Vec::new(),
        };
        super::link::servers_and_tls(&login)?;
        let site_db = SiteDb::open(&self.site_db_path())?;
        site_db.add_door(door, hash.as_str(), crate::store::unix_now())?;
        make_bundle(&key, &settings.site, door, login)
    }

    pub fn settings(&self) -> Result<SiteSettings, SiteError> {
        let path = self.settings_path();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| SiteError::Invalid(format!("cannot read {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| SiteError::Invalid(format!("{}: {e}", path.display())))
    }
}

/// The running site controller.
pub struct SiteController {
    dir: SiteDir,
    settings: SiteSettings,
}

impl SiteController {
    pub fn open(dir: &Path) -> Result<SiteController, SiteError> {
        let dir = SiteDir(dir.to_owned());
        let settings = dir.settings()?;
        Ok(SiteController { dir, settings })
    }

    pub fn settings(&self) -> &SiteSettings {
        &self.settings
    }

    /// Publishes and consumes until the process ends; a broker failure is retried. Holds the
    /// site's lock while it runs, and first applies again what a register restore would undo
    /// ([`restore_guard`]).
    pub async fn run(&self) -> Result<(), SiteError> {
        let _lock = restore_guard::lock(&self.dir.0)?;
        let mut register = Store::open(&self.dir.register())?;
        let site_db = SiteDb::open(&self.dir.site_db_path())?;
        restore_guard::reapply(&mut register, &site_db, crate::store::unix_now())?;
        drop((register, site_db));
        let client = self.settings.broker.connect(&site_inbox_prefix(&self.settings.site)).await?;
        let js = jetstream(client);
        loop {
            if let Err(err) = self.session(&js).await {
                tracing::warn!(%err, "site controller: retrying");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// One session: the publisher, the consumer (each with its own connection to the register,
    /// so the consumer's commits move the publisher's `data_version`) and the sender of door
    /// commands.
    async fn session(&self, js: &async_nats::jetstream::Context) -> Result<(), SiteError> {
        let site = &self.settings.site;
        let kv = create_bucket(js, site).await?;
        let mut publisher_register = Store::open(&self.dir.register())?;
        let mut publisher_db = SiteDb::open(&self.dir.site_db_path())?;
        bucket_identity::adopt(&mut publisher_db, &kv).await?;
        let mut consumer_register = Store::open(&self.dir.register())?;
        let mut consumer_db = SiteDb::open(&self.dir.site_db_path())?;
        let greet = self.settings.greet_by_name;
        let publisher = publish_on_change(&mut publisher_register, &mut publisher_db, &kv, greet);
        let minor_age = self.settings.minor_age;
        let consumer =
            consumer::consume(js, site, &mut consumer_register, &mut consumer_db, minor_age);
        let mut commands_db = SiteDb::open(&self.dir.site_db_path())?;
        let commands = commands::send_pending(&mut commands_db, &kv);
        let hourly = housekeeping_hourly(&self.dir, &self.settings);
        tokio::try_join!(publisher, consumer, commands, hourly).map(|_: ((), (), (), ())| ())
    }
}

/// [`housekeeping`] at the start and every hour.
async fn housekeeping_hourly(dir: &SiteDir, settings: &SiteSettings) -> Result<(), SiteError> {
    loop {
        housekeeping(dir, settings, crate::store::unix_now())?;
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// The controller's hourly work at `now`: the register's retention (unused templates,
/// moved-out residents, old access events, expired passes, codes and bookings; the publisher
/// then takes the deletions to the doors) and `site.db`'s door messages older than
/// `door_message_days`.
pub fn housekeeping(dir: &SiteDir, settings: &SiteSettings, now: i64) -> Result<(), SiteError> {
    let days = settings.door_message_days;
    if days < 1 {
        return Err(SiteError::Invalid(format!(
            "door_message_days must be at least 1, got {days}"
        )));
    }
    let mut register = Store::open(&dir.register())?;
    let purged = register.purge(&settings.retention, now)?;
    if purged != Default::default() {
        tracing::info!(?purged, "the register's retention ran");
    }
    let mut site_db = SiteDb::open(&dir.site_db_path())?;
    let pruned = door_log::prune(&mut register, &mut site_db, now - days * 86_400)?;
    if pruned > 0 {
        tracing::info!(pruned, "door messages past door_message_days left site.db");
    }
    Ok(())
}

/// Publishes whenever the register's `data_version` moved (another connection committed), then
/// marks a new bucket complete; ends with an error once a second check finds the bucket made
/// anew, so the next session puts everything again ([`bucket_identity`]).
async fn publish_on_change(
    register: &mut Store,
    site_db: &mut SiteDb,
    kv: &async_nats::jetstream::kv::Store,
    greet_by_name: bool,
) -> Result<(), SiteError> {
    let mut seen = None;
    let bucket = site_db.bucket()?;
    let mut checked = std::time::Instant::now();
    loop {
        let version = register.data_version()?;
        if seen != Some(version) {
            restore_guard::remember(register, site_db)?;
            publish::publish(register, site_db, kv, greet_by_name).await?;
            bucket_identity::mark_complete(site_db, kv).await?;
            seen = Some(version);
        }
        if checked.elapsed() >= Duration::from_secs(1) {
            if Some(bucket_identity::bucket_state(kv).await?.created) != bucket {
                return Err(SiteError::Invalid("the site's bucket was made anew".into()));
            }
            checked = std::time::Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewResident;

    #[test]
    fn housekeeping_applies_the_registers_retention() {
        let dir = tempfile::tempdir().unwrap();
        let site_dir = SiteDir(dir.path().join("site"));
        let mut settings = site_dir.init("oak".parse().unwrap(), "nats://127.0.0.1:4222").unwrap();
        let now = 1_800_000_000;
        let mut register = Store::open(&site_dir.register()).unwrap();
        for (number, until) in [("1201", now - 86_400), ("1202", now + 86_400)] {
            let new = NewResident {
                number: number.into(),
                name: "n".into(),
                valid_until: Some(until),
                ..Default::default()
            };
            register.add_resident(&new, now - 10 * 86_400, "wang").unwrap();
        }
        housekeeping(&site_dir, &settings, now).unwrap();
        assert!(register.resident("1201").is_err(), "moved out a day ago: deleted");
        assert!(register.resident("1202").is_ok(), "still living there");
        settings.door_message_days = 0;
        assert!(housekeeping(&site_dir, &settings, now).is_err());
    }
}
