//! On the site's register, what a backup restore must not undo: the site remembers (in
//! `site.db`, which a restore leaves alone) the residents it removed from the doors, the
//! residents' face withdrawals, the id counters and the access state a restore must not
//! loosen (revoked cards, passes revoked or used, residents' status and dates, newer PIN
//! hashes); after a restore the site applies them to the register again
//! ([`crate::site::restore_guard`]). These are the register's side of it.

use std::path::Path;

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

/// Copies the register's access state into `site.db` (attached as `site`; its tables are made
/// by [`crate::site::restore_guard`]). Rows only tighten there: a revoked card stays revoked, a
/// pass's entries left only go down; residents' status and dates and PIN hashes follow the
/// register (the newest PIN by its time; [`Store::reapply_access`] applies them only where
/// they are tighter or newer), and leave with their resident (whose removal the site
/// remembers apart).
const REMEMBER_ACCESS: &str = "
INSERT INTO site.revoked_cards (card_index, at)
    SELECT card_index, revoked_at FROM main.cards WHERE revoked_at IS NOT NULL
    ON CONFLICT(card_index) DO NOTHING;
INSERT INTO site.pass_limits (pass_id, revoked_at, entries_left)
    SELECT id, revoked_at, entries_left FROM main.visitor_passes
    WHERE revoked_at IS NOT NULL OR entries_left < entries
    ON CONFLICT(pass_id) DO UPDATE SET
        revoked_at = COALESCE(pass_limits.revoked_at, excluded.revoked_at),
        entries_left = MIN(pass_limits.entries_left, excluded.entries_left)
    WHERE excluded.entries_left < pass_limits.entries_left
        OR (pass_limits.revoked_at IS NULL AND excluded.revoked_at IS NOT NULL);
INSERT INTO site.resident_access (resident_id, status, valid_from, valid_until)
    SELECT id, status, valid_from, valid_until FROM main.residents WHERE true
    ON CONFLICT(resident_id) DO UPDATE SET
        status = excluded.status, valid_from = excluded.valid_from,
        valid_until = excluded.valid_until
    WHERE resident_access.status IS NOT excluded.status
        OR resident_access.valid_from IS NOT excluded.valid_from
        OR resident_access.valid_until IS NOT excluded.valid_until;
INSERT INTO site.pin_hashes (resident_id, phc, updated_at, credential_root, mac)
    SELECT resident_id, phc, updated_at, credential_root, mac FROM main.pins WHERE true
    ON CONFLICT(resident_id) DO UPDATE SET
        phc = excluded.phc, updated_at = excluded.updated_at,
        credential_root = excluded.credential_root, mac = excluded.mac
    WHERE excluded.updated_at > pin_hashes.updated_at;
DELETE FROM site.pin_hashes WHERE resident_id NOT IN (SELECT id FROM main.residents);
DELETE FROM site.resident_access WHERE resident_id NOT IN (SELECT id FROM main.residents);
";

/// What [`Store::reapply_access`] changed, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessReapplied {
    pub cards_revoked: usize,
    pub passes_limited: usize,
    pub residents_restricted: usize,
    pub pins_renewed: usize,
}

impl Store {
    /// Remembers the register's access state in the `site.db` at `site_db` (before each
    /// publish).
    pub fn remember_access(&mut self, site_db: &Path) -> Result<()> {
        self.with_site_db(site_db, |tx| Ok(tx.execute_batch(REMEMBER_ACCESS)?))
    }

    /// Applies the access state remembered in `site_db` to the register again (at the
    /// controller's start): cards revoked, passes revoked or used, residents suspended or with
    /// tighter dates, newer PIN hashes (each bound to its resident by its row MAC, copied with it); each kind
    /// audited once with its count.
    pub fn reapply_access(&mut self, site_db: &Path, now: i64) -> Result<AccessReapplied> {
        let key = self.audit_key().clone();
        self.with_site_db(site_db, |tx| {
            let cards_revoked = tx.execute(
                "UPDATE main.cards SET revoked_at = r.at FROM site.revoked_cards r
                 WHERE r.card_index = cards.card_index AND cards.revoked_at IS NULL",
                [],
            )?;
            let passes_limited = tx.execute(
                "UPDATE main.visitor_passes SET
                     revoked_at = COALESCE(visitor_passes.revoked_at, p.revoked_at),
                     entries_left = MIN(visitor_passes.entries_left, p.entries_left)
                 FROM site.pass_limits p
                 WHERE p.pass_id = visitor_passes.id
                     AND (p.entries_left < visitor_passes.entries_left
                         OR (visitor_passes.revoked_at IS NULL AND p.revoked_at IS NOT NULL))",
                [],
            )?;
            // Only ever tighter (suspended, a later start, an earlier end), so a change made
            // while the controller was stopped is never loosened at its start.
            let residents_restricted = tx.execute(
                "UPDATE main.residents SET
                     status = CASE WHEN a.status = 'suspended' THEN 'suspended' ELSE residents.status END,
                     valid_from = MAX(COALESCE(residents.valid_from, a.valid_from), COALESCE(a.valid_from, residents.valid_from)),
                     valid_until = MIN(COALESCE(residents.valid_until, a.valid_until), COALESCE(a.valid_until, residents.valid_until))
                 FROM site.resident_access a
                 WHERE a.resident_id = residents.id
                     AND ((a.status = 'suspended' AND residents.status <> 'suspended')
                         OR a.valid_from > COALESCE(residents.valid_from, a.valid_from - 1)
                         OR a.valid_until < COALESCE(residents.valid_until, a.valid_until + 1))",
                [],
            )?;
            let pins_renewed = tx.execute(
                "INSERT INTO main.pins (resident_id, phc, updated_at, credential_root, mac)
                 SELECT p.resident_id, p.phc, p.updated_at, p.credential_root, p.mac
                 FROM site.pin_hashes p JOIN main.residents r ON r.id = p.resident_id WHERE true
                 ON CONFLICT(resident_id) DO UPDATE SET
                     phc = excluded.phc, updated_at = excluded.updated_at,
                     credential_root = excluded.credential_root, mac = excluded.mac
                 WHERE excluded.updated_at > pins.updated_at",
                [],
            )?;
            let done = AccessReapplied {
                cards_revoked,
                passes_limited,
                residents_restricted,
                pins_renewed,
            };
            for (count, kind, what) in [
                (cards_revoked, AuditKind::CardRevoked, "cards revoked"),
                (passes_limited, AuditKind::VisitorPassRevoked, "visitor passes revoked or used"),
                (residents_restricted, AuditKind::ResidentEdited, "residents' status and dates set"),
                (pins_renewed, AuditKind::PinSet, "PIN hashes set to newer ones"),
            ] {
                if count > 0 {
                    let detail = format!("{count} {what} {AGAIN}");
                    append(tx, &key, Chain::Admin, now, kind, "register", &detail)?;
                }
            }
            Ok(done)
        })
    }

    /// Runs `f` in one transaction with `site_db` attached as `site`.
    fn with_site_db<T>(
        &mut self,
        site_db: &Path,
        f: impl FnOnce(&rusqlite::Transaction) -> Result<T>,
    ) -> Result<T> {
        let path = site_db.to_str().ok_or_else(|| {
            super::StoreError::Invalid(format!("{} is not a UTF-8 path", site_db.display()))
        })?;
        self.conn.execute("ATTACH DATABASE ?1 AS site", [path])?;
        let result = self.transaction(f);
        self.conn.execute_batch("DETACH DATABASE site")?;
        result
    }
}
