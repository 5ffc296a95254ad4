//! `site.db`, the site controller's own database beside the register: the doors (their broker
//! password hashes, what they last reported: replica, outbox, alarms now, last selftest, the
//! keypad's lock), what the publisher last put under each bucket
//! key, and every message a door sent, kept once per (door, outbox row id): the site's audit
//! of door events, and what makes redelivery harmless (JetStream's duplicate window is only
//! two minutes; a door offline for days must not rely on it).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::DoorId;
use super::outbox::{DoorState, OutboxKind, Selftest};

/// What can go wrong with `site.db`.
#[derive(Debug, thiserror::Error)]
pub enum SiteDbError {
    #[error("site database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error(
        "site database {0} is missing or empty: restore it with the register, or run `site init` \
         in a new directory"
    )]
    Missing(String),
    #[error("door {0} is already on this site")]
    DoorExists(DoorId),
    #[error("no door {0} on this site")]
    UnknownDoor(DoorId),
    #[error("site database: {0}")]
    Query(#[from] rusqlite::Error),
}

pub type Result<T> = std::result::Result<T, SiteDbError>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS doors (
    id               TEXT PRIMARY KEY,
    password_hash    TEXT NOT NULL,           -- bcrypt, for the broker's configuration
    added_at         INTEGER NOT NULL,
    last_seen        INTEGER,
    replica_revision INTEGER,
    outbox_depth     INTEGER,
    last_contact     INTEGER,
    last_selftest    INTEGER,
    selftest_ok      INTEGER,
    alarms           TEXT,                    -- the door's alarms now (JSON `DoorAlarms`)
    keypad_locked_until INTEGER               -- the keypad's own back-off, by the door's clock
);
CREATE TABLE IF NOT EXISTS published (
    key      TEXT PRIMARY KEY,                -- 'r.<resident id>'
    digest   BLOB NOT NULL,                   -- SHA-256 of the record last put
    revision INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS door_messages (
    door        TEXT NOT NULL,
    outbox_id   INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    detail      TEXT NOT NULL,                -- events and alarms: the door's pseudonymous row
    received_at INTEGER NOT NULL,
    PRIMARY KEY (door, outbox_id)
);
CREATE TABLE IF NOT EXISTS removed_door_messages (
    door        TEXT NOT NULL,                -- a door since removed; the id may be re-used
    outbox_id   INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    removed_at  INTEGER NOT NULL
);
";

/// Adds the columns of a door's alarms, selftest result and keypad lock to a `site.db` made
/// before them.
fn add_report_columns(conn: &Connection) -> rusqlite::Result<()> {
    let has: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM pragma_table_info('doors') WHERE name = 'alarms')",
        [],
        |r| r.get(0),
    )?;
    if !has {
        conn.execute_batch(
            "ALTER TABLE doors ADD COLUMN selftest_ok INTEGER; ALTER TABLE doors ADD COLUMN alarms TEXT;",
        )?;
    }
    let has_keypad: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM pragma_table_info('doors') WHERE name = 'keypad_locked_until')",
        [],
        |r| r.get(0),
    )?;
    if !has_keypad {
        conn.execute_batch("ALTER TABLE doors ADD COLUMN keypad_locked_until INTEGER;")?;
    }
    Ok(())
}

/// A door on the site, as `site.db` knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DoorRow {
    pub door: DoorId,
    pub password_hash: String,
    pub added_at: i64,
    pub last_seen: Option<i64>,
    pub state: Option<DoorState>,
}

/// One message a door sent, as the site keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct DoorMessage {
    pub door: DoorId,
    pub outbox_id: i64,
    pub kind: OutboxKind,
    pub at: i64,
    pub detail: String,
}

/// The open `site.db`.
pub struct SiteDb {
    conn: Connection,
}

impl SiteDb {
    /// Creates `site.db` (at `site init`).
    pub fn create(path: &Path) -> Result<SiteDb> {
        Self::connect(path)
    }

    /// Opens an existing `site.db`. A missing or empty one is refused: made anew, it would not
    /// know the doors (their messages, face withdrawals among them, would be dropped as from
    /// strangers) nor what a register restore must not bring back.
    pub fn open(path: &Path) -> Result<SiteDb> {
        if std::fs::metadata(path).map_or(true, |m| m.len() == 0) {
            return Err(SiteDbError::Missing(path.display().to_string()));
        }
        Self::connect(path)
    }

    fn connect(path: &Path) -> Result<SiteDb> {
        let open = |source| SiteDbError::Open { path: path.display().to_string(), source };
        let conn = Connection::open(path).map_err(open)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(open)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA).map_err(open)?;
        add_report_columns(&conn).map_err(open)?;
        conn.execute_batch(super::commands::SCHEMA).map_err(open)?;
        conn.execute_batch(super::door_log::SCHEMA).map_err(open)?;
        conn.execute_batch(super::restore_guard::SCHEMA).map_err(open)?;
        super::bucket_identity::prepare(&conn).map_err(open)?;
        conn.execute_batch(super::card_tap::SCHEMA).map_err(open)?;
        conn.execute_batch(super::lockouts::SCHEMA).map_err(open)?;
        Ok(SiteDb { conn })
    }

    /// The file's path, for a connection that attaches it ([`crate::site::restore_guard`]).
    pub fn path(&self) -> Result<std::path::PathBuf> {
        match self.conn.path() {
            Some(path) if !path.is_empty() => Ok(path.into()),
            _ => Err(SiteDbError::Missing("(a site.db without a file)".into())),
        }
    }

    /// The connection, for the tables other modules own (`commands`).
    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The connection for a transaction on the tables other modules own (`bucket_identity`).
    pub(super) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Adds a door with its broker password's hash.
    pub fn add_door(&self, door: &DoorId, password_hash: &str, now: i64) -> Result<()> {
        let added = self.conn.execute(
            "INSERT OR IGNORE INTO doors (id, password_hash, added_at) VALUES (?1, ?2, ?3)",
            params![door.as_str(), password_hash, now],
        )?;
        if added == 0 {
            return Err(SiteDbError::DoorExists(door.clone()));
        }
        Ok(())
    }

    /// Removes a door. Its kept messages move to `removed_door_messages` and its floor goes, so
    /// a new door joining under the same id (its outbox ids start from its own clock at join,
    /// which may be behind the old door's) is taken neither for the old one's redeliveries nor
    /// for messages already pruned.
    pub fn remove_door(&mut self, door: &DoorId, now: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        if tx.execute("DELETE FROM doors WHERE id = ?1", [door.as_str()])? == 0 {
            return Err(SiteDbError::UnknownDoor(door.clone()));
        }
        tx.execute(
            "INSERT INTO removed_door_messages (door, outbox_id, kind, at, detail, received_at, removed_at)
             SELECT door, outbox_id, kind, at, detail, received_at, ?2 FROM door_messages WHERE door = ?1",
            params![door.as_str(), now],
        )?;
        tx.execute("DELETE FROM door_messages WHERE door = ?1", [door.as_str()])?;
        tx.execute("DELETE FROM door_message_floors WHERE door = ?1", [door.as_str()])?;
        tx.commit()?;
        Ok(())
    }

    /// Whether this door is on the site (a removed door's messages are refused).
    pub fn has_door(&self, door: &DoorId) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM doors WHERE id = ?1", [door.as_str()], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The doors, by id.
    pub fn doors(&self) -> Result<Vec<DoorRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, password_hash, added_at, last_seen, replica_revision, outbox_depth, last_contact, last_selftest,
                    selftest_ok, alarms, resyncing, keypad_locked_until
             FROM doors ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let id: String = r.get(0)?;
                let revision: Option<i64> = r.get(4)?;
                let state = revision.map(|revision| -> rusqlite::Result<DoorState> {
                    let selftest_at: Option<i64> = r.get(7)?;
                    let selftest_ok: Option<bool> = r.get(8)?;
                    let alarms: Option<String> = r.get(9)?;
                    Ok(DoorState {
                        at: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                        replica_revision: revision as u64,
                        outbox_depth: r.get::<_, Option<i64>>(5)?.unwrap_or(0) as u64,
                        last_contact: r.get(6)?,
                        alarms: alarms
                            .and_then(|text| serde_json::from_str(&text).ok())
                            .unwrap_or_default(),
                        selftest: selftest_at
                            .map(|at| Selftest { at, ok: selftest_ok.unwrap_or(false) }),
                        resyncing: r.get(10)?,
                        keypad_locked_until: r.get(11)?,
                    })
                });
                Ok((id, r.get(1)?, r.get(2)?, r.get(3)?, state.transpose()?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, password_hash, added_at, last_seen, state)| {
                Some(DoorRow { door: id.parse().ok()?, password_hash, added_at, last_seen, state })
            })
            .collect())
    }

    /// Records a door's reported state (a `status` message).
    pub fn door_seen(&self, door: &DoorId, state: &DoorState, now: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE doors SET last_seen = ?2, replica_revision = ?3, outbox_depth = ?4, last_contact = ?5,
             last_selftest = ?6, selftest_ok = ?7, alarms = ?8, resyncing = ?9,
             keypad_locked_until = ?10 WHERE id = ?1",
            params![
                door.as_str(),
                now,
                state.replica_revision as i64,
                state.outbox_depth as i64,
                state.last_contact,
                state.selftest.map(|s| s.at),
                state.selftest.map(|s| s.ok),
                serde_json::to_string(&state.alarms).expect("three booleans serialise"),
                state.resyncing,
                state.keypad_locked_until,
            ],
        )?;
        Ok(())
    }

    /// Whether this door message is already kept, or was and has been pruned since (then it was
    /// applied: redelivery is acked and dropped).
    pub fn has_message(&self, door: &DoorId, outbox_id: i64) -> Result<bool> {
        Ok(self.below_floor(door, outbox_id)?
            || self
                .conn
                .query_row(
                    "SELECT 1 FROM door_messages WHERE door = ?1 AND outbox_id = ?2",
                    params![door.as_str(), outbox_id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
    }

    /// Keeps a door message once; returns whether it was new. The door is also marked seen.
    pub fn keep_message(&self, message: &DoorMessage, now: i64) -> Result<bool> {
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )?;
        let added = tx.execute(
            "INSERT OR IGNORE INTO door_messages (door, outbox_id, kind, at, detail, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                message.door.as_str(),
                message.outbox_id,
                message.kind.as_str(),
                message.at,
                message.detail,
                now
            ],
        )?;
        tx.execute(
            "UPDATE doors SET last_seen = ?2 WHERE id = ?1",
            params![message.door.as_str(), now],
        )?;
        tx.commit()?;
        Ok(added == 1)
    }

    /// The kept messages of one door (or all doors), in the order they were sent.
    pub fn messages(&self, door: Option<&DoorId>) -> Result<Vec<DoorMessage>> {
        let mut stmt = self.conn.prepare(
            "SELECT door, outbox_id, kind, at, detail FROM door_messages
             WHERE ?1 IS NULL OR door = ?1 ORDER BY door, outbox_id",
        )?;
        let rows = stmt
            .query_map([door.map(|d| d.as_str())], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    r.get::<_, String>(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(door, outbox_id, kind, at, detail)| {
                Some(DoorMessage {
                    door: door.parse().ok()?,
                    outbox_id,
                    kind: OutboxKind::parse(&kind)?,
                    at,
                    detail,
                })
            })
            .collect())
    }

    /// How many alarms a door sent since `since`.
    pub fn alarms_since(&self, door: &DoorId, since: i64) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM door_messages WHERE door = ?1 AND kind = 'alarm' AND at >= ?2",
            params![door.as_str(), since],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// What the publisher last put under each key: digest and revision.
    pub fn published(&self) -> Result<std::collections::HashMap<String, (Vec<u8>, u64)>> {
        let mut stmt = self.conn.prepare("SELECT key, digest, revision FROM published")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get::<_, i64>(2)? as u64))))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Records puts (with the record's digest) and, with `None`, deletes, in one transaction (a
    /// deleted resident's id is remembered: [`super::restore_guard`]).
    pub fn set_published(&mut self, changes: &[(String, Option<Vec<u8>>, u64)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (key, digest, revision) in changes {
            match digest {
                Some(digest) => tx.execute(
                    "INSERT INTO published (key, digest, revision) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO UPDATE SET digest = excluded.digest, revision = excluded.revision",
                    params![key, digest, *revision as i64],
                )?,
                None => {
                    super::restore_guard::note_delete(&tx, key)?;
                    tx.execute("DELETE FROM published WHERE key = ?1", [key])?
                }
            };
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets what was last put under `key`, so the publisher puts it again.
    pub fn forget_published(&self, key: &str) -> Result<()> {
        self.conn.execute("DELETE FROM published WHERE key = ?1", [key])?;
        Ok(())
    }

    /// The newest revision the publisher wrote.
    pub fn last_published_revision(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT COALESCE(MAX(revision), 0) FROM published", [], |r| {
            r.get::<_, i64>(0)
        })? as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_site_db_is_refused_not_made_anew() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.db");
        assert!(matches!(SiteDb::open(&path), Err(SiteDbError::Missing(_))));
        assert!(!path.exists(), "opening made no file");
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(SiteDb::open(&path), Err(SiteDbError::Missing(_))));
        std::fs::remove_file(&path).unwrap();
        SiteDb::create(&path).unwrap().add_door(&"north".parse().unwrap(), "$2b$h", 1).unwrap();
        assert_eq!(SiteDb::open(&path).unwrap().doors().unwrap().len(), 1);
    }

    #[test]
    fn a_door_message_is_kept_once_and_doors_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let db = SiteDb::create(&dir.path().join("site.db")).unwrap();
        let door: DoorId = "north".parse().unwrap();
        db.add_door(&door, "$2b$hash", 1).unwrap();
        assert!(matches!(db.add_door(&door, "$2b$other", 2), Err(SiteDbError::DoorExists(_))));
        let message = DoorMessage {
            door: door.clone(),
            outbox_id: 7,
            kind: OutboxKind::Event,
            at: 5,
            detail: "access_granted resident#1".into(),
        };
        assert!(!db.has_message(&door, 7).unwrap());
        assert!(db.keep_message(&message, 10).unwrap());
        assert!(!db.keep_message(&message, 11).unwrap(), "a redelivered message is not kept twice");
        assert!(db.has_message(&door, 7).unwrap());
        assert_eq!(db.messages(None).unwrap(), [message]);
        assert_eq!(db.doors().unwrap()[0].last_seen, Some(11));
    }

    #[test]
    fn a_removed_door_is_unknown_and_a_new_door_of_its_id_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = SiteDb::create(&dir.path().join("site.db")).unwrap();
        let door: DoorId = "north".parse().unwrap();
        db.add_door(&door, "$2b$hash", 1).unwrap();
        let message = DoorMessage {
            door: door.clone(),
            outbox_id: 1,
            kind: OutboxKind::Event,
            at: 5,
            detail: "access_granted resident#1".into(),
        };
        db.keep_message(&DoorMessage { outbox_id: 9, ..message.clone() }, 8).unwrap();
        db.prune_messages(9).unwrap();
        db.keep_message(&message, 10).unwrap();
        assert!(db.below_floor(&door, 9).unwrap());
        db.remove_door(&door, 20).unwrap();
        assert!(!db.has_door(&door).unwrap());
        assert!(matches!(db.remove_door(&door, 21), Err(SiteDbError::UnknownDoor(_))));
        db.add_door(&door, "$2b$new", 30).unwrap();
        assert!(db.has_door(&door).unwrap());
        assert!(!db.has_message(&door, 1).unwrap(), "the new door's first message is new");
        assert!(!db.below_floor(&door, 9).unwrap(), "the old door's floor went with it");
        let archived: i64 = db
            .conn
            .query_row("SELECT COUNT(*) FROM removed_door_messages WHERE door = 'north'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(archived, 1, "the old door's messages are kept aside");
    }
}
