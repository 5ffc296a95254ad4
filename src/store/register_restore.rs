//! On the site's register, what a backup restore must not undo: the site remembers (in
//! `site.db`, which a restore leaves alone) the residents it removed from the doors, the
//! residents' face withdrawals and the id counters; after a restore the site applies them to
//! the register again ([`crate::site::restore_guard`]). These are the register's side of it.

use rusqlite::{OptionalExtension, params};

use super::audit::{AuditKind, Chain, append};
use super::{Result, Store};
use crate::credentials::lockout::resident_key;

/// The tables whose ids doors see (`r.`, `v.`, `b.` keys): their ids are never handed out twice.
pub const COUNTED: [&str; 3] = ["residents", "visitor_passes", "enrolment_bookings"];

/// Why the register changes again after a restore (in the audit rows' detail).
const AGAIN: &str = "again: it happened before the register's restore";

impl Store {
    /// Each resident's last face withdrawal: (resident id, when).
    pub fn faces_withdrawn(&self) -> Result<Vec<(i64, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, faces_withdrawn_at FROM residents WHERE faces_withdrawn_at IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The id counters of [`COUNTED`]: (table, the highest id ever handed out).
    pub fn id_counters(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare("SELECT name, seq FROM sqlite_sequence")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
        let rows: Vec<(String, i64)> = rows.collect::<rusqlite::Result<_>>()?;
        Ok(rows.into_iter().filter(|(name, _)| COUNTED.contains(&name.as_str())).collect())
    }

    /// Raises the id counters of [`COUNTED`] to at least these; returns how many it raised.
    pub fn raise_id_counters(&mut self, counters: &[(String, i64)]) -> Result<usize> {
        self.transaction(|tx| {
            let mut raised = 0;
            for (name, seq) in counters.iter().filter(|(name, _)| COUNTED.contains(&name.as_str()))
            {
                raised += tx.execute(
                    "UPDATE sqlite_sequence SET seq = ?2 WHERE name = ?1 AND seq < ?2",
                    params![name, seq],
                )?;
                let present: bool = tx.query_row(
                    "SELECT EXISTS(SELECT 1 FROM sqlite_sequence WHERE name = ?1)",
                    [name],
                    |r| r.get(0),
                )?;
                if !present {
                    tx.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)",
                        params![name, seq],
                    )?;
                    raised += 1;
                }
            }
            Ok(raised)
        })
    }

    /// Removes the resident of this id again, if the register holds them; audited. Returns
    /// whether they were there.
    pub fn remove_resident_again(&mut self, id: i64, now: i64) -> Result<bool> {
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let number: Option<String> = tx
                .query_row("SELECT number FROM residents WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            let Some(number) = number else { return Ok(false) };
            tx.execute("DELETE FROM lockouts WHERE key = ?1", [resident_key(&number)])?;
            tx.execute("DELETE FROM residents WHERE id = ?1", [id])?;
            let subject = format!("resident#{id}");
            append(tx, &key, Chain::Admin, now, AuditKind::ResidentRemoved, &subject, AGAIN)?;
            Ok(true)
        })
    }

    /// Withdraws again the resident's consents given at or before `at` (their templates
    /// deleted), if the register holds any not withdrawn; audited. Returns how many templates
    /// went.
    pub fn withdraw_faces_again(&mut self, resident: i64, at: i64, now: i64) -> Result<usize> {
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let consents: Vec<i64> = tx
                .prepare("SELECT id FROM consents WHERE resident_id = ?1 AND granted_at <= ?2 AND withdrawn_at IS NULL")?
                .query_map(params![resident, at], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if consents.is_empty() {
                return Ok(0);
            }
            let mut deleted = 0;
            for id in consents {
                deleted += tx.execute("DELETE FROM templates WHERE consent_id = ?1", [id])?;
                tx.execute("UPDATE consents SET withdrawn_at = ?1 WHERE id = ?2", params![at, id])?;
            }
            super::site_intake::note_withdrawn(tx, resident, at)?;
            let subject = format!("resident#{resident}");
            let detail = format!("{deleted} templates deleted {AGAIN}");
            append(tx, &key, Chain::Admin, now, AuditKind::ConsentWithdrawn, &subject, &detail)?;
            Ok(deleted)
        })
    }
}
