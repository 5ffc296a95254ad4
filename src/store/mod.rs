//! The resident database (SQLite): residents, consent, protected templates, credentials,
//! visitor passes, PIN-reset codes, enrolment bookings and the tamper-evident audit log.
//!
//! Opened with WAL, `synchronous=FULL` and `secure_delete=ON`: a committed write survives power
//! loss, a crash never leaves half a write, and deleted rows are overwritten in the file.
//! Deleting face data also checkpoints the WAL, so the deleted bytes leave the disk at once.

pub mod admin_pins;
pub mod audit;
mod audit_file;
mod audit_head;
pub mod bookings;
pub mod consent;
pub mod credentials;
pub mod door_audit;
mod door_commands;
mod door_health;
pub mod faces;
mod key_state;
mod lockouts;
pub mod pin_resets;
pub mod refusal;
mod register_fields;
pub mod register_restore;
pub mod replica;
pub mod residents;
pub mod retention;
mod row_mac;
mod schema;
mod search_index;
mod site_intake;
pub mod visitors;

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::credentials::PinError;
use crate::keys::custody::{Custody, KeyStore};
use crate::keys::{Key, KeyError, Purpose, SiteKey};
use crate::templates::TemplateKey;
use register_fields::FieldKey;

pub use audit::{AuditEntry, AuditKind, Chain};
pub use audit_file::ExportLine;
pub use bookings::{Booking, BookingDone};
pub use consent::{ConsentConfig, ConsentGrant, ConsentRecord, ConsentStatistics};
pub use credentials::CredentialRootStatus;
pub use door_audit::DoorAudit;
pub use door_commands::DueCommand;
pub use faces::StoredTemplate;
pub use register_restore::AccessReapplied;
pub use replica::{ReplicaEntry, ReplicaState};
pub use residents::{NewResident, Resident, ResidentStatus};
pub use retention::{PurgeReport, RetentionConfig, RetentionConfigError};
pub use row_mac::{Rejected, RejectedWhy};
pub use visitors::{NewVisitorPass, PassRefusal, PassUse, VisitorPass, VisitorPassRecord};

/// `[store]`: where the data lives.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The SQLite database.
    pub database: PathBuf,
    /// The site key file: keep it off the database's medium where possible.
    pub key_file: PathBuf,
    /// How the key file is kept: `tpm2`, `systemd-host` (sealed by systemd) or `file`.
    pub key_store: KeyStore,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            database: PathBuf::from("facegate.db"),
            key_file: PathBuf::from("site.key"),
            key_store: KeyStore::File,
        }
    }
}

impl StoreConfig {
    /// The key file under its key store.
    pub fn custody(&self) -> Custody {
        Custody::new(self.key_store, &self.key_file)
    }

    /// A test's store: `database` and a plain `site.key` in `dir`.
    #[cfg(test)]
    pub fn in_dir(dir: &std::path::Path, database: &str) -> Self {
        Self { database: dir.join(database), key_file: dir.join("site.key"), ..Self::default() }
    }
}

/// What can go wrong with the database; variants are the cases callers act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path} does not exist: run `facegate init`")]
    Missing { path: PathBuf },
    #[error("database {path} already exists: refusing to overwrite it")]
    Exists { path: PathBuf },
    #[error(
        "database {path} is empty (never initialised, or truncated): restore it from a backup, \
         or move it away and run `facegate init`"
    )]
    Empty { path: PathBuf },
    #[error("cannot open database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("database {path} is damaged or not a facegate database: {source}")]
    Corrupt { path: PathBuf, source: rusqlite::Error },
    #[error("database {path} has schema version {found}, newer than this facegate ({supported})")]
    TooNew { path: PathBuf, found: i64, supported: i64 },
    #[error(
        "database {path} holds schema objects facegate did not make ({}): someone changed it; remove them or restore a backup",
        objects.join(", ")
    )]
    UnknownSchema { path: PathBuf, objects: Vec<String> },
    #[error("the site key was rotated by another process and no key file here fits the database")]
    KeyRotated,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "the change is saved, but another process kept the database busy, so deleted bytes may \
         stay in its file until the next deletion or checkpoint succeeds"
    )]
    CheckpointBusy,
    #[error("no resident {0}")]
    UnknownResident(String),
    #[error("resident number {0} is taken")]
    DuplicateResident(String),
    #[error("no template {0}")]
    UnknownTemplate(i64),
    #[error("resident {0} has no face consent on record: record consent first")]
    NoConsent(String),
    #[error("resident {0} is a minor: face enrolment needs a guardian's consent")]
    GuardianConsentRequired(String),
    #[error("this card is already registered")]
    CardTaken,
    #[error("no active card {0}")]
    UnknownCard(i64),
    #[error("no visitor pass {0} that can be revoked")]
    UnknownPass(i64),
    #[error("another visitor pass has this code")]
    CodeTaken,
    #[error(transparent)]
    Pin(#[from] PinError),
    #[error(transparent)]
    Retention(#[from] RetentionConfigError),
    #[error(
        "face enrolment is refused until `[consent] controller` and `contact` are set in the config: the notice must tell residents who runs the gate and how to reach them"
    )]
    NoticeIncomplete,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Refused(#[from] refusal::Refusal),
    #[error(
        "{} PIN(s) and {} card(s) are still on the previous credential root and would stop working: \
         wait until they are used, or re-issue them, then rotate again",
        .0.pins_on_previous_root, .0.cards_on_previous_root
    )]
    CredentialRotationPending(credentials::CredentialRootStatus),
    #[error("the new key file's previous credential root is not this database's current one")]
    CredentialRootMismatch,
    #[error(
        "this face already matches resident#{resident} (score {score:.3}): nothing was stored; \
         if the manager is sure they are different people, enrol with --allow-duplicate"
    )]
    FaceAlreadyEnrolled { resident: i64, score: f32 },
    #[error("database error: {0}")]
    Query(#[from] rusqlite::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The open database and the keys its rows need.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The key this store was opened with, to follow a rotation (see
    /// [`Store::follow_rotation`]); none for a store opened with a key in hand.
    custody: Option<Custody>,
    template_key: TemplateKey,
    audit_key: Key,
    /// The PIN peppers and card-index keys, current and previous.
    credentials: credentials::CredentialKeys,
    /// The key of the row MACs (see [`row_mac`]).
    row_key: Key,
    fields: FieldKey,
    /// Rejected rows already audited by this process.
    reported: RefCell<HashSet<Rejected>>,
    /// Rejected rows the gate has not shown yet.
    alarms: RefCell<Vec<Rejected>>,
}

impl Store {
    /// Creates a new database and site key file; refuses to overwrite either.
    pub fn init(config: &StoreConfig) -> Result<Store> {
        Self::create_with_key(config, &SiteKey::generate()?)
    }

    /// Creates a new database and key file with a given key (a door joining its site);
    /// refuses to overwrite either.
    pub fn create_with_key(config: &StoreConfig, key: &SiteKey) -> Result<Store> {
        if config.database.exists() {
            return Err(StoreError::Exists { path: config.database.clone() });
        }
        config.custody().create(key)?;
        let conn = Connection::open(&config.database)
            .map_err(|source| StoreError::Open { path: config.database.clone(), source })?;
        Self::ready(conn, &config.database, key)
    }

    /// Opens an existing database with the site key file, finishing a key rotation that was
    /// interrupted between the database commit and the key file rename: the `.new` file is kept
    /// when the database committed to it, else removed.
    pub fn open(config: &StoreConfig) -> Result<Store> {
        let custody = config.custody();
        let key = custody.load()?;
        let mut store = Self::open_with_key(&config.database, &key)?;
        let pending = custody.pending();
        if pending.path().exists() {
            let new_key = pending.load()?;
            if key_state::is_on(&store.conn, &new_key)? {
                pending.replace(&custody)?;
                store.use_keys(&new_key);
            } else {
                pending.remove()?;
            }
        }
        store.custody = Some(custody);
        Ok(store)
    }

    /// Picks up a key rotation another process (`admin rotate-key`, with or without
    /// `--credentials`) committed: when the database is no longer on this store's keys, they are
    /// reloaded from the new key file (or its `.new` file, between the commit and the rename).
    /// Returns whether keys changed; the caller reloads its gallery then. A gate handed its key
    /// by systemd finds only the old key: [`StoreError::KeyRotated`], and systemd restarts it
    /// with the new one.
    pub fn follow_rotation(&mut self) -> Result<bool> {
        if key_state::is_on_keys(&self.conn, &self.audit_key, self.credentials.current_id())? {
            return Ok(false);
        }
        let custody = self.custody.clone().ok_or(StoreError::KeyRotated)?;
        for candidate in [custody.pending(), custody] {
            let Ok(key) = candidate.load() else { continue };
            if key_state::is_on(&self.conn, &key)? {
                self.use_keys(&key);
                return Ok(true);
            }
        }
        Err(StoreError::KeyRotated)
    }

    /// Every key this store works with, derived from `key`.
    fn use_keys(&mut self, key: &SiteKey) {
        self.template_key = TemplateKey::from_site(key);
        self.audit_key = key.derive(Purpose::AuditChain);
        self.fields = FieldKey::from_site(key);
        self.row_key = key.derive(Purpose::RowMac);
        self.credentials = credentials::CredentialKeys::new(key);
    }

    /// Opens an existing database with a given key. A file at schema version 0 (empty, or
    /// truncated by a bad copy or a full disk) is refused: taken as a new database it would be
    /// published as a register without residents, and every door would delete them all.
    pub(crate) fn open_with_key(path: &Path, key: &SiteKey) -> Result<Store> {
        if !path.exists() {
            return Err(StoreError::Missing { path: path.to_owned() });
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|source| StoreError::Corrupt { path: path.to_owned(), source })?;
        if version == 0 {
            return Err(StoreError::Empty { path: path.to_owned() });
        }
        Self::ready(conn, path, key)
    }

    /// An in-memory database, for tests.
    pub fn in_memory(key: &SiteKey) -> Result<Store> {
        Self::ready(Connection::open_in_memory()?, Path::new(":memory:"), key)
    }

    fn ready(mut conn: Connection, path: &Path, key: &SiteKey) -> Result<Store> {
        let corrupt = |source| StoreError::Corrupt { path: path.to_owned(), source };
        conn.pragma_update(None, "journal_mode", "WAL").map_err(corrupt)?;
        for (name, value) in
            [("synchronous", "FULL"), ("secure_delete", "ON"), ("trusted_schema", "OFF")]
        {
            conn.pragma_update(None, name, value).map_err(corrupt)?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn, path, key)?;
        let objects = schema::unexpected(&conn)?;
        if !objects.is_empty() {
            return Err(StoreError::UnknownSchema { path: path.to_owned(), objects });
        }
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            custody: None,
            template_key: TemplateKey::from_site(key),
            audit_key: key.derive(Purpose::AuditChain),
            credentials: credentials::CredentialKeys::new(key),
            row_key: key.derive(Purpose::RowMac),
            fields: FieldKey::from_site(key),
            reported: RefCell::default(),
            alarms: RefCell::default(),
        };
        store.seal_clear_register()?;
        store.fill_search_filters()?;
        Ok(store)
    }

    /// A number that changes whenever another connection (the CLI, another process) commits
    /// to the database: SQLite's `PRAGMA data_version`, a cheap read with no I/O when nothing
    /// changed. The gate checks it on every turn and reloads what it caches.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn template_key(&self) -> &TemplateKey {
        &self.template_key
    }

    /// Runs `f` in one write transaction (taken at once, so no other process commits between
    /// its reads and its writes): all of it is written, or none.
    pub(crate) fn transaction<T>(
        &mut self,
        f: impl FnOnce(&Transaction) -> Result<T>,
    ) -> Result<T> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// A consistent copy of the whole database file (`VACUUM INTO` a file beside it, read and
    /// removed), for an encrypted backup.
    pub fn snapshot(&self) -> Result<Vec<u8>> {
        let copy = self.path.with_extension("snapshot");
        let _ = std::fs::remove_file(&copy);
        self.conn.execute("VACUUM INTO ?1", [copy.to_string_lossy()])?;
        let bytes = std::fs::read(&copy);
        let _ = std::fs::remove_file(&copy);
        bytes.map_err(|e| StoreError::Invalid(format!("cannot read {}: {e}", copy.display())))
    }

    /// Moves all WAL content into the database and empties the WAL file, so deleted bytes
    /// (already overwritten by `secure_delete`) are gone from disk too. A reader in the middle
    /// of a read (the gate, the console) holds the WAL: the busy timeout waits for it; a
    /// checkpoint still left unfinished after that is an error, never a silent success.
    pub fn checkpoint(&self) -> Result<()> {
        let busy: i64 = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err(StoreError::CheckpointBusy);
        }
        Ok(())
    }

    /// Re-encrypts every template and the register's sealed fields under a new site key in one
    /// transaction (no re-enrolment), then re-chains the audit log under the new audit key. The
    /// caller writes the new key file.
    pub fn rotate_key(&mut self, new_key: &SiteKey, now: i64) -> Result<usize> {
        let new_template_key = TemplateKey::from_site(new_key);
        let new_audit_key = new_key.derive(Purpose::AuditChain);
        let old_template_key = self.template_key.clone();
        let old_audit_key = self.audit_key.clone();
        let (old_fields, new_fields) = (self.fields.clone(), FieldKey::from_site(new_key));
        let (old_row_key, new_row_key) = (self.row_key.clone(), new_key.derive(Purpose::RowMac));
        let count = self.transaction(|tx| {
            let rows = (&old_row_key, &new_row_key);
            let count = faces::rekey_all(tx, &old_template_key, &new_template_key, rows)?;
            row_mac::remac_credentials(tx, &old_row_key, &new_row_key)?;
            register_fields::reseal_all(tx, &old_fields, &new_fields)?;
            audit::rechain(tx, &old_audit_key, &new_audit_key)?;
            audit::append(
                tx,
                &new_audit_key,
                Chain::Admin,
                now,
                AuditKind::KeyRotated,
                "site",
                &format!("{count} templates re-keyed"),
            )?;
            Ok(count)
        })?;
        self.use_keys(new_key);
        self.checkpoint()?;
        Ok(count)
    }
}

/// Brings the schema up to date, one transaction per version. Foreign keys are off meanwhile
/// (a table rebuild must not cascade) and checked before the caller turns them on. Reaching
/// [`schema::ROW_MACS_VERSION`] MACs the rows and the audit log already there.
fn migrate(conn: &mut Connection, path: &Path, key: &SiteKey) -> Result<()> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|source| StoreError::Corrupt { path: path.to_owned(), source })?;
    let supported = schema::MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StoreError::TooNew { path: path.to_owned(), found: version, supported });
    }
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
        let reached = index as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if reached == schema::ROW_MACS_VERSION {
            row_mac::seal_existing(&tx, &key.derive(Purpose::RowMac))?;
            audit_head::seal_existing(&tx, &key.derive(Purpose::AuditChain))?;
        }
        if reached == schema::CREDENTIAL_ROOT_VERSION {
            key_state::record_credential_root(
                &tx,
                credentials::CredentialKeys::new(key).current_id(),
            )?;
        }
        let dangling: bool =
            tx.query_row("SELECT EXISTS(SELECT 1 FROM pragma_foreign_key_check)", [], |r| {
                r.get(0)
            })?;
        if dangling {
            return Err(StoreError::Invalid(format!(
                "migration to version {reached} of {} leaves rows without their resident",
                path.display()
            )));
        }
        tx.pragma_update(None, "user_version", reached)?;
        tx.commit()?;
    }
    Ok(())
}

/// Seconds since the Unix epoch, the store's clock unit.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KEY_LEN;

    #[test]
    fn init_refuses_to_overwrite_and_open_needs_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::in_dir(dir.path(), "gate.db");
        assert!(matches!(Store::open(&config), Err(StoreError::Key(KeyError::Missing { .. }))));
        Store::init(&config).unwrap();
        assert!(matches!(Store::init(&config), Err(StoreError::Exists { .. })));
        Store::open(&config).unwrap();
        std::fs::remove_file(&config.database).unwrap();
        assert!(matches!(Store::open(&config), Err(StoreError::Missing { .. })));
    }

    #[test]
    fn an_empty_database_file_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::in_dir(dir.path(), "gate.db");
        Store::init(&config).unwrap();
        std::fs::write(&config.database, b"").unwrap();
        assert!(matches!(Store::open(&config), Err(StoreError::Empty { .. })));
        assert_eq!(std::fs::metadata(&config.database).unwrap().len(), 0, "nothing was written");
    }

    #[test]
    fn the_row_mac_migration_seals_existing_rows_and_later_edits_are_rejected() {
        let key = SiteKey::from_bytes([5; KEY_LEN]);
        let conn = Connection::open_in_memory().unwrap();
        for sql in &schema::MIGRATIONS[..schema::ROW_MACS_VERSION as usize - 1] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 4;
             INSERT INTO residents (number, name, unit, created_at) VALUES ('1201', 'A', 'u', 0), ('1202', 'B', 'u', 0);
             INSERT INTO pins (resident_id, phc, updated_at) VALUES (1, '$argon2id$v=19$old', 0);
             INSERT INTO cards (resident_id, card_index, created_at) VALUES (1, x'0102', 0);",
        )
        .unwrap();
        let store = Store::ready(conn, Path::new(":memory:"), &key).unwrap();
        assert_eq!(store.pin_hash("1201").unwrap().map(|p| p.0), Some(1));
        assert!(store.take_rejected().is_empty());
        assert!(store.verify_audit().unwrap().intact());
        store.conn.execute("UPDATE pins SET resident_id = 2", []).unwrap();
        assert_eq!(store.pin_hash("1202").unwrap(), None);
        let rejected = store.take_rejected();
        let why = RejectedWhy::FailsIntegrityCheck;
        assert_eq!(rejected, [Rejected { table: "PIN", id: 2, resident: 2, why }]);
        assert!(!rejected[0].to_string().contains("1202"), "resident numbers stay out of alarms");
        assert_eq!(store.pin_hash("1202").unwrap(), None);
        assert!(store.take_rejected().is_empty(), "a row is raised once per process");
        let kinds: Vec<String> =
            store.audit_entries(None).unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["row_rejected"]);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate.db");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let err = Store::open_with_key(&path, &SiteKey::from_bytes([1; KEY_LEN])).err().unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }
}
