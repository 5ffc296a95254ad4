//! A register restored from a backup does not bring back what the site removed since.
//!
//! `site.db` (which a restore of `register.db` leaves alone) remembers:
//! - every resident id the publisher tombstoned (`r.<id>` deleted from the bucket), written in
//!   the same transaction that records the delete;
//! - each resident's last face withdrawal (`faces_withdrawn_at`), and the id counters of the
//!   register's residents, visitor passes and bookings, both read from the register before
//!   every publish;
//! - the access state, also before every publish: revoked cards (by keyed index), visitor
//!   passes revoked or used (entries left), each resident's status and dates, and each PIN
//!   hash with its time ([`Store::remember_access`]).
//!
//! When the controller starts, before it publishes, it applies them to the register again:
//! a tombstoned resident still in the register is removed, consents given before a
//! remembered withdrawal are withdrawn (their templates deleted), each audited; the id
//! counters are raised to what they were, so no id a door has seen is handed out again; and
//! the access state is set back ([`Store::reapply_access`]), so a lost card, a used pass or a
//! suspended resident opens nothing again. What was *added* since the backup (a resident, a
//! card, a consent) is not in the backup and leaves the doors: a restore loses additions,
//! never revocations.
//!
//! A restore replaces `register.db` only while nothing writes to it: `facegate site run` holds
//! an exclusive lock on `site.lock` in the site's directory for as long as it runs, `facegate
//! console serve` one on `console.lock` (the two run side by side, so each has its own), and
//! the restore takes both or refuses.

use std::fs::File;
use std::path::Path;

use rusqlite::{Transaction, params};

use super::SiteError;
use super::site_db::{Result as DbResult, SiteDb};
use crate::store::{AccessReapplied, Store};

/// `site.db`'s tables of what a restore must not undo (made with the others when it opens).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS removed_residents (
    resident_id INTEGER PRIMARY KEY           -- tombstoned at the doors: never published again
);
CREATE TABLE IF NOT EXISTS faces_withdrawn (
    resident_id INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL              -- consents given at or before it stay withdrawn
);
CREATE TABLE IF NOT EXISTS id_counters (
    name TEXT PRIMARY KEY,                    -- a table of the register
    seq  INTEGER NOT NULL                     -- the highest id it ever handed out
);
CREATE TABLE IF NOT EXISTS revoked_cards (
    card_index BLOB PRIMARY KEY,              -- the register's keyed index, never the number
    at         INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pass_limits (
    pass_id      INTEGER PRIMARY KEY,
    revoked_at   INTEGER,
    entries_left INTEGER NOT NULL             -- only ever lowered
);
CREATE TABLE IF NOT EXISTS resident_access (
    resident_id INTEGER PRIMARY KEY,
    status      TEXT NOT NULL,
    valid_from  INTEGER,
    valid_until INTEGER
);
CREATE TABLE IF NOT EXISTS pin_hashes (
    resident_id     INTEGER PRIMARY KEY,
    phc             TEXT NOT NULL,            -- argon2id with the site key's pepper
    updated_at      INTEGER NOT NULL,
    credential_root BLOB,
    mac             BLOB
);
";

/// The controller's lock file in the site's directory.
pub const LOCK_FILE: &str = "site.lock";
/// The console's lock file in the site's directory.
pub const CONSOLE_LOCK_FILE: &str = "console.lock";

/// Takes the site's lock: held by a running controller. Refuses if another holds it.
pub fn lock(dir: &Path) -> Result<File, SiteError> {
    take(dir, LOCK_FILE, "the site controller")
}

/// Takes the console's lock: held by a running `console serve`. Refuses if another holds it.
pub fn lock_console(dir: &Path) -> Result<File, SiteError> {
    take(dir, CONSOLE_LOCK_FILE, "the console")
}

/// Takes both locks, for a restore: refuses while the controller or the console runs.
pub fn lock_for_restore(dir: &Path) -> Result<[File; 2], SiteError> {
    Ok([lock(dir)?, lock_console(dir)?])
}

/// Takes the exclusive lock on `name` in `dir`; `holder` is who runs when it is held.
fn take(dir: &Path, name: &str, holder: &str) -> Result<File, SiteError> {
    let path = dir.join(name);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| SiteError::Invalid(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(SiteError::Invalid(format!(
            "{holder} is running ({} is locked): stop it first",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(SiteError::Invalid(format!("cannot lock {}: {e}", path.display())))
        }
    }
}

/// In the transaction that records a bucket delete: a resident's key is remembered.
pub(super) fn note_delete(tx: &Transaction, key: &str) -> rusqlite::Result<()> {
    if let Some(id) = key.strip_prefix("r.").and_then(|id| id.parse::<i64>().ok()) {
        tx.execute("INSERT OR IGNORE INTO removed_residents (resident_id) VALUES (?1)", [id])?;
    }
    Ok(())
}

/// Remembers the register's face withdrawals, id counters and access state (before each
/// publish).
pub fn remember(register: &mut Store, site_db: &SiteDb) -> Result<(), SiteError> {
    let withdrawn = register.faces_withdrawn()?;
    let counters = register.id_counters()?;
    site_db.remember(&withdrawn, &counters)?;
    register.remember_access(&site_db.path()?)?;
    Ok(())
}

/// What [`reapply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reapplied {
    pub residents_removed: usize,
    pub templates_deleted: usize,
    pub counters_raised: usize,
    pub access: AccessReapplied,
}

/// Applies what the site remembers to the register again (at the controller's start).
pub fn reapply(register: &mut Store, site_db: &SiteDb, now: i64) -> Result<Reapplied, SiteError> {
    let mut done = Reapplied::default();
    for id in site_db.removed_residents()? {
        done.residents_removed += usize::from(register.remove_resident_again(id, now)?);
    }
    for (resident, at) in site_db.faces_withdrawn()? {
        done.templates_deleted += register.withdraw_faces_again(resident, at, now)?;
    }
    done.counters_raised = register.raise_id_counters(&site_db.id_counters()?)?;
    done.access = register.reapply_access(&site_db.path()?, now)?;
    if done != Reapplied::default() {
        tracing::warn!(
            ?done,
            "the register held what the site had removed (a restore?): removed again"
        );
    }
    Ok(done)
}

impl SiteDb {
    fn remember(&self, withdrawn: &[(i64, i64)], counters: &[(String, i64)]) -> DbResult<()> {
        let tx = Transaction::new_unchecked(self.conn(), rusqlite::TransactionBehavior::Immediate)?;
        for (resident, at) in withdrawn {
            tx.execute(
                "INSERT INTO faces_withdrawn (resident_id, at) VALUES (?1, ?2)
                 ON CONFLICT(resident_id) DO UPDATE SET at = MAX(at, excluded.at)",
                params![resident, at],
            )?;
        }
        for (name, seq) in counters {
            tx.execute(
                "INSERT INTO id_counters (name, seq) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET seq = MAX(seq, excluded.seq)",
                params![name, seq],
            )?;
        }
        Ok(tx.commit()?)
    }

    fn removed_residents(&self) -> DbResult<Vec<i64>> {
        let mut stmt = self.conn().prepare("SELECT resident_id FROM removed_residents")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn faces_withdrawn(&self) -> DbResult<Vec<(i64, i64)>> {
        let mut stmt = self.conn().prepare("SELECT resident_id, at FROM faces_withdrawn")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn id_counters(&self) -> DbResult<Vec<(String, i64)>> {
        let mut stmt = self.conn().prepare("SELECT name, seq FROM id_counters")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
