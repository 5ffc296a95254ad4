//! Visitor passes: a code (kept only as its keyed index), a window, a number of entries and the
//! doors it opens; revocable; deleted by the retention purge once expired; every issue, revoke
//! and use audited (never the code, never the label, which may name someone).
//!
//! In site mode the register's live passes reach the doors as [`VisitorPassRecord`]s
//! ([`Store::visitor_pass_records`] → KV `v.<id>` → [`write_pass`]; a revoked, used-up or
//! expired pass is a KV delete → [`remove_pass`]), and each use at a door travels back as a
//! [`PassUse`] (outbox kind `pass_used`, queued by [`Store::record_pass_use`] itself) that the
//! register applies with the same [`Store::record_pass_use`]. Entries only ever go down: a door
//! keeps the lower of its own count and the record's, so a record published before a use
//! arrived never gives it back.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::audit::{AuditKind, Chain, append};
use super::refusal::{Refusal, TextField};
use super::{Result, Store, StoreError};
use crate::credentials::Code;
use crate::site::ids::DoorId;
use crate::site::outbox::OutboxKind;

/// The longest window of one pass.
pub const MAX_PASS_DAYS: i64 = 31;
/// The most entries one pass gives.
pub const MAX_PASS_ENTRIES: u32 = 100;

/// What a manager asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewVisitorPass {
    /// What managers see in the list; never shown at a door, never audited, never synced.
    pub label: String,
    /// For a courier code: the delivery company.
    pub company: Option<String>,
    pub valid_from: i64,
    pub valid_until: i64,
    pub entries: u32,
    /// The doors it opens. None: a standalone gate's own pass (a gate without a door id). A
    /// single-entry pass names at most one door, so no second door can accept it while the
    /// first door's report of its use is on its way.
    pub doors: Vec<DoorId>,
}

/// A pass as stored (never its code).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisitorPass {
    pub id: i64,
    pub label: String,
    pub company: Option<String>,
    pub valid_from: i64,
    pub valid_until: i64,
    pub entries: u32,
    pub entries_left: u32,
    pub doors: Vec<DoorId>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Why a code opens nothing (audited; the screen does not tell a guesser which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PassRefusal {
    Unknown,
    Revoked,
    NotYet,
    Expired,
    OtherDoor,
    UsedUp,
}

impl VisitorPass {
    /// Why this pass does not open `door` (`None`: a gate without a door id) at `now`, if so.
    pub fn refusal(&self, door: Option<&DoorId>, now: i64) -> Option<PassRefusal> {
        let here = match door {
            Some(door) => self.doors.contains(door),
            None => self.doors.is_empty(),
        };
        if self.revoked_at.is_some() {
            Some(PassRefusal::Revoked)
        } else if now < self.valid_from {
            Some(PassRefusal::NotYet)
        } else if now >= self.valid_until {
            Some(PassRefusal::Expired)
        } else if !here {
            Some(PassRefusal::OtherDoor)
        } else if self.entries_left == 0 {
            Some(PassRefusal::UsedUp)
        } else {
            None
        }
    }
}

/// One use of a pass: where and when. Audited where it happened; in site mode sent to the site
/// (outbox kind `pass_used`) and applied to the register with [`Store::record_pass_use`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassUse {
    pub pass: i64,
    pub door: Option<DoorId>,
    pub at: i64,
}

/// What a door needs of a pass (KV key `v.<id>`): no label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorPassRecord {
    pub id: i64,
    /// The code's keyed index (32 bytes).
    #[serde(with = "crate::site::record::hex_bytes")]
    pub code_index: Vec<u8>,
    pub company: Option<String>,
    pub valid_from: i64,
    pub valid_until: i64,
    pub entries: u32,
    pub entries_left: u32,
    pub doors: Vec<DoorId>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, label, company, valid_from, valid_until, entries, entries_left, doors, created_at, revoked_at";

fn doors_from(text: &str) -> Vec<DoorId> {
    text.split(',').filter_map(|d| d.parse().ok()).collect()
}

fn doors_text(doors: &[DoorId]) -> String {
    doors.iter().map(DoorId::as_str).collect::<Vec<_>>().join(",")
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<VisitorPass> {
    Ok(VisitorPass {
        id: r.get(0)?,
        label: r.get(1)?,
        company: r.get(2)?,
        valid_from: r.get(3)?,
        valid_until: r.get(4)?,
        entries: r.get(5)?,
        entries_left: r.get(6)?,
        doors: doors_from(&r.get::<_, String>(7)?),
        created_at: r.get(8)?,
        revoked_at: r.get(9)?,
    })
}

/// A short text managers type: at most `max` characters, no control characters.
fn check_text(field: TextField, text: &str, max: usize) -> Result<()> {
    if text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(Refusal::LongText { field, max }.into());
    }
    Ok(())
}

fn check_new(new: &NewVisitorPass, now: i64) -> Result<()> {
    let invalid = |refusal: Refusal| -> Result<()> { Err(refusal.into()) };
    check_text(TextField::PassLabel, &new.label, 100)?;
    if let Some(company) = &new.company {
        check_text(TextField::Company, company, 60)?;
        if company.trim().is_empty() {
            return invalid(Refusal::NoCompany);
        }
    }
    if new.valid_until <= new.valid_from || new.valid_until <= now {
        return invalid(Refusal::PassWindow);
    }
    if new.valid_until - new.valid_from > MAX_PASS_DAYS * 86_400 {
        return invalid(Refusal::PassTooLong(MAX_PASS_DAYS));
    }
    if !(1..=MAX_PASS_ENTRIES).contains(&new.entries) {
        return invalid(Refusal::PassEntries(MAX_PASS_ENTRIES));
    }
    let mut doors = new.doors.clone();
    doors.sort();
    doors.dedup();
    if doors.len() != new.doors.len() {
        return invalid(Refusal::DoorTwice);
    }
    if new.entries == 1 && new.doors.len() > 1 {
        return invalid(Refusal::SingleEntryManyDoors);
    }
    Ok(())
}

impl Store {
    /// Stores a new pass with this code's index; [`StoreError::CodeTaken`] when another pass
    /// has the same code (the caller draws another).
    pub fn add_visitor_pass(
        &mut self,
        new: &NewVisitorPass,
        code: &Code,
        now: i64,
        operator: &str,
    ) -> Result<i64> {
        check_new(new, now)?;
        let indexes = self.credentials.code_indexes(code);
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            for index in &indexes {
                let taken: bool = tx.query_row(
                    "SELECT EXISTS(SELECT 1 FROM visitor_passes WHERE code_index = ?1)",
                    [&index.0[..]],
                    |r| r.get(0),
                )?;
                if taken {
                    return Err(StoreError::CodeTaken);
                }
            }
            tx.execute(
                "INSERT INTO visitor_passes (code_index, label, company, valid_from, valid_until, entries, entries_left, doors, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)",
                params![&indexes[0].0[..], new.label.trim(), new.company, new.valid_from, new.valid_until, new.entries, doors_text(&new.doors), now],
            )?;
            let id = tx.last_insert_rowid();
            let company = new.company.as_ref().map(|c| format!(", courier {c}")).unwrap_or_default();
            let detail = format!(
                "{} entries at {}, {}..{}{company}, by {operator}",
                new.entries,
                if new.doors.is_empty() { "this gate".to_owned() } else { doors_text(&new.doors) },
                new.valid_from,
                new.valid_until,
            );
            append(tx, &key, Chain::Admin, now, AuditKind::VisitorPassCreated, &pass_subject(id), &detail)?;
            Ok(id)
        })
    }

    /// Revokes a pass: it opens nothing from now on.
    pub fn revoke_visitor_pass(&mut self, id: i64, now: i64, operator: &str) -> Result<()> {
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let changed = tx.execute(
                "UPDATE visitor_passes SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                params![now, id],
            )?;
            if changed == 0 {
                return Err(StoreError::UnknownPass(id));
            }
            let detail = format!("by {operator}");
            append(
                tx,
                &key,
                Chain::Admin,
                now,
                AuditKind::VisitorPassRevoked,
                &pass_subject(id),
                &detail,
            )
        })
    }

    /// The passes not yet expired (used up and revoked ones included), by id.
    pub fn visitor_passes(&self, now: i64) -> Result<Vec<VisitorPass>> {
        let sql =
            format!("SELECT {COLUMNS} FROM visitor_passes WHERE valid_until > ?1 ORDER BY id");
        let passes = self
            .conn
            .prepare(&sql)?
            .query_map([now], from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(passes)
    }

    /// The pass with this code, if any (made under the current credential root or the previous).
    pub fn visitor_pass_for_code(&self, code: &Code) -> Result<Option<VisitorPass>> {
        let sql = format!("SELECT {COLUMNS} FROM visitor_passes WHERE code_index = ?1");
        for index in self.credentials.code_indexes(code) {
            let found = self.conn.query_row(&sql, [&index.0[..]], from_row).optional()?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Counts one use of a pass (never below zero) and audits it; returns the entries left, or
    /// `None` when the pass is no longer here (a report that arrives after the purge is still
    /// audited). The door calls this when the pass opens; the site calls it with the door's
    /// report.
    /// A use reported by a door the pass is not for is audited and not counted (a stolen door
    /// cannot use up other doors' passes).
    pub fn record_pass_use(&mut self, used: &PassUse) -> Result<Option<u32>> {
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let row: Option<(u32, String)> = tx
                .query_row(
                    "SELECT entries_left, doors FROM visitor_passes WHERE id = ?1",
                    [used.pass],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let door = used.door.as_ref().map_or("this gate", DoorId::as_str);
            let for_door = |doors: &str| match &used.door {
                Some(door) => doors_from(doors).contains(door),
                None => true,
            };
            let (left, detail) = match row {
                Some((before, doors)) if !for_door(&doors) => {
                    (Some(before), format!("at {door}, a door it is not for: not counted"))
                }
                Some((0, _)) => (Some(0), format!("at {door}, beyond its entries")),
                Some((n, _)) => {
                    tx.execute(
                        "UPDATE visitor_passes SET entries_left = entries_left - 1 WHERE id = ?1",
                        [used.pass],
                    )?;
                    (Some(n - 1), format!("at {door}, {} left", n - 1))
                }
                None => (None, format!("at {door}, pass already gone")),
            };
            append(
                tx,
                &key,
                Chain::Access,
                used.at,
                AuditKind::VisitorPassUsed,
                &pass_subject(used.pass),
                &detail,
            )?;
            super::replica::queue(tx, OutboxKind::PassUsed, used, used.at)?;
            Ok(left)
        })
    }

    /// Every pass as the doors get it (what site mode publishes). A projection of its own, not
    /// [`from_row`]'s: the managers' view never holds the code's index and the doors' record
    /// never holds the label, so neither can leak into the other by a shared column list.
    pub fn visitor_pass_records(&self) -> Result<Vec<VisitorPassRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, code_index, company, valid_from, valid_until, entries, entries_left, doors, revoked_at FROM visitor_passes ORDER BY id",
        )?;
        let records = stmt
            .query_map([], |r| {
                Ok(VisitorPassRecord {
                    id: r.get(0)?,
                    code_index: r.get(1)?,
                    company: r.get(2)?,
                    valid_from: r.get(3)?,
                    valid_until: r.get(4)?,
                    entries: r.get(5)?,
                    entries_left: r.get(6)?,
                    doors: doors_from(&r.get::<_, String>(7)?),
                    revoked_at: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(records)
    }
}

/// Stores or updates a pass from the site (on a door). Entries left only go down and a
/// revocation stays, whatever order records and local uses come in. A malformed record removes
/// the pass here, with a warning.
pub(super) fn write_pass(conn: &Connection, record: &VisitorPassRecord) -> Result<()> {
    if record.code_index.len() != 32 || record.entries_left > record.entries {
        tracing::warn!(pass = record.id, "malformed visitor pass record: removed here");
        return remove_pass(conn, record.id);
    }
    conn.execute(
        "INSERT INTO visitor_passes (id, code_index, company, valid_from, valid_until, entries, entries_left, doors, created_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9)
         ON CONFLICT(id) DO UPDATE SET code_index = excluded.code_index, company = excluded.company,
         valid_from = excluded.valid_from, valid_until = excluded.valid_until, entries = excluded.entries,
         entries_left = MIN(entries_left, excluded.entries_left), doors = excluded.doors,
         revoked_at = COALESCE(revoked_at, excluded.revoked_at)",
        params![record.id, record.code_index, record.company, record.valid_from, record.valid_until,
            record.entries, record.entries_left, doors_text(&record.doors), record.revoked_at],
    )?;
    Ok(())
}

/// Removes a pass the site deleted (on a door).
pub(super) fn remove_pass(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM visitor_passes WHERE id = ?1", [id])?;
    Ok(())
}

/// How the audit log names a pass.
fn pass_subject(id: i64) -> String {
    format!("visitor-pass#{id}")
}
