//! PIN hashes, card indexes and lockout records.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::audit::{AuditKind, Chain, append};
use super::row_mac::Row;
use super::{Result, Store, StoreError};
use crate::credentials::{CardIndex, CardUid, LockoutState, Pin, PinConfig};

/// A card on record (never its UID).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredCard {
    pub id: i64,
    pub resident_id: i64,
    pub label: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl Store {
    /// Sets or replaces a resident's PIN, hashed under `rules` (argon2id, the site's pepper).
    pub fn set_pin(
        &mut self,
        number: &str,
        pin: &Pin,
        rules: &PinConfig,
        now: i64,
        operator: &str,
    ) -> Result<()> {
        let resident = self.resident(number)?;
        let phc = self.pin_hasher(rules)?.hash(pin)?;
        let mac = Row::Pin { resident: resident.id, phc: &phc }.mac(&self.row_key);
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO pins (resident_id, phc, updated_at, mac) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(resident_id) DO UPDATE SET phc = excluded.phc, updated_at = excluded.updated_at,
                 mac = excluded.mac",
                params![resident.id, phc, now, mac],
            )?;
            append(tx, &key, Chain::Admin, now, AuditKind::PinSet, &resident.subject(), &format!("by {operator}"))
        })
    }

    /// The resident whose number and PIN these are, if any. Exactly one argon2 verification
    /// runs, known number or not (an unknown one is checked against a dummy hash).
    pub(crate) fn verify_pin(
        &self,
        number: &str,
        pin: &Pin,
        rules: &PinConfig,
    ) -> Result<Option<i64>> {
        let stored = self.pin_hash(number)?;
        let matched = self.pin_hasher(rules)?.verify(stored.as_ref().map(|s| s.1.as_str()), pin);
        Ok(stored.filter(|_| matched).map(|(id, _)| id))
    }

    /// How many PIN verifications this store has run (each costs one argon2 hash).
    pub fn pin_verifications(&self) -> u64 {
        self.pin_hasher.get().map_or(0, |h| h.verifications())
    }

    /// The resident id and PIN hash for a typed resident number, if both exist and the hash is
    /// bound to that resident (a hash that fails its row MAC is rejected and treated as none).
    pub(super) fn pin_hash(&self, number: &str) -> Result<Option<(i64, String)>> {
        let row: Option<(i64, String, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT r.id, p.phc, p.mac FROM residents r JOIN pins p ON p.resident_id = r.id WHERE r.number = ?1",
                [number],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((resident, phc, mac)) = row else { return Ok(None) };
        let bound = self.row_ok(&Row::Pin { resident, phc: &phc }, resident, mac.as_deref())?;
        Ok(bound.then_some((resident, phc)))
    }

    /// The lockout record of a key (default when none).
    pub fn lockout(&self, key: &str) -> Result<LockoutState> {
        Ok(self
            .conn
            .query_row(
                "SELECT failures, locked_until, last_failure_at FROM lockouts WHERE key = ?1",
                [key],
                |r| {
                    Ok(LockoutState {
                        failures: r.get(0)?,
                        locked_until: r.get(1)?,
                        last_failure_at: r.get(2)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    pub(crate) fn set_lockout(&self, key: &str, state: &LockoutState) -> Result<()> {
        self.conn.execute(
            "INSERT INTO lockouts (key, failures, locked_until, last_failure_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until,
             last_failure_at = excluded.last_failure_at",
            params![key, state.failures, state.locked_until, state.last_failure_at],
        )?;
        Ok(())
    }

    /// Lifts a lock (`facegate admin unlock`, or after a right PIN).
    pub fn clear_lockout(&self, key: &str) -> Result<bool> {
        Ok(self.conn.execute("DELETE FROM lockouts WHERE key = ?1", [key])? > 0)
    }

    /// Lifts a lockout and audits who did it; returns whether there was one.
    pub(crate) fn lift_lockout(
        &mut self,
        key: &str,
        subject: &str,
        now: i64,
        operator: &str,
    ) -> Result<bool> {
        let lifted = self.clear_lockout(key)?;
        self.audit(
            Chain::Admin,
            now,
            AuditKind::LockoutLifted,
            subject,
            &format!("by {operator}"),
        )?;
        Ok(lifted)
    }

    /// Registers a card for a resident (only its keyed index is stored).
    pub fn add_card(
        &mut self,
        number: &str,
        uid: &CardUid,
        label: &str,
        now: i64,
        operator: &str,
    ) -> Result<i64> {
        let resident = self.resident(number)?;
        let index = CardIndex::of(self.card_key(), uid);
        let mac = Row::Card { resident: resident.id, index: &index.0 }.mac(&self.row_key);
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let taken: bool =
                tx.query_row("SELECT EXISTS(SELECT 1 FROM cards WHERE card_index = ?1)", [&index.0[..]], |r| r.get(0))?;
            if taken {
                return Err(StoreError::CardTaken);
            }
            tx.execute(
                "INSERT INTO cards (resident_id, card_index, label, created_at, mac) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![resident.id, &index.0[..], label, now, mac],
            )?;
            let id = tx.last_insert_rowid();
            append(tx, &key, Chain::Admin, now, AuditKind::CardAdded, &resident.subject(), &format!("card {id} by {operator}"))?;
            Ok(id)
        })
    }

    /// Marks a card lost: it no longer opens anything.
    pub fn revoke_card(&mut self, id: i64, now: i64, operator: &str) -> Result<()> {
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let resident: i64 = tx
                .query_row(
                    "SELECT resident_id FROM cards WHERE id = ?1 AND revoked_at IS NULL",
                    [id],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or(StoreError::UnknownCard(id))?;
            tx.execute("UPDATE cards SET revoked_at = ?1 WHERE id = ?2", params![now, id])?;
            append(
                tx,
                &key,
                Chain::Admin,
                now,
                AuditKind::CardRevoked,
                &format!("resident#{resident}"),
                &format!("card {id} by {operator}"),
            )
        })
    }

    /// The resident holding an active card with this UID, if the card row is bound to them (a
    /// row that fails its MAC is rejected and opens nothing).
    pub(crate) fn resident_for_card(&self, uid: &CardUid) -> Result<Option<i64>> {
        let index = CardIndex::of(self.card_key(), uid);
        let row: Option<(i64, i64, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT id, resident_id, mac FROM cards WHERE card_index = ?1 AND revoked_at IS NULL",
                [&index.0[..]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, resident, mac)) = row else { return Ok(None) };
        let bound = self.row_ok(&Row::Card { resident, index: &index.0 }, id, mac.as_deref())?;
        Ok(bound.then_some(resident))
    }

    /// A resident's cards.
    pub(crate) fn cards_of(&self, number: &str) -> Result<Vec<StoredCard>> {
        let resident = self.resident(number)?;
        let mut stmt =
            self.conn.prepare("SELECT id, resident_id, label, created_at, revoked_at FROM cards WHERE resident_id = ?1 ORDER BY id")?;
        let cards = stmt
            .query_map([resident.id], |r| {
                Ok(StoredCard {
                    id: r.get(0)?,
                    resident_id: r.get(1)?,
                    label: r.get(2)?,
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(cards)
    }
}
