//! On the site: what a door sends, checked and applied to the register. Every door holds the
//! site key, so a row MAC proves only that some door of the site made the row, not that the
//! office wanted it; the rules below keep a stolen door from writing what nobody asked for:
//!
//! - a face enrolled at a door is accepted only against an open enrolment booking for that
//!   resident (at that door or at any door), which it uses up, and never under a consent given
//!   before the resident's last withdrawal (made at the office or at another door);
//! - a PIN set at a door is ordered by the site's receive order (stamped with the site's clock),
//!   never by the door's clock;
//! - a time a door states is never later than the site's now.
//!
//! Which door sent a message is proved by the broker (its subject names the door, and each
//! door's user may publish only under its own); [`crate::site::consumer`] refuses doors that
//! were removed.

use rusqlite::{OptionalExtension, params};

use super::audit::{AuditKind, Chain, append};
use super::consent::{self, ConsentGrant};
use super::row_mac::Row;
use super::{Result, Store, StoreError};
use crate::site::DoorId;
use crate::site::outbox::{DoorDeletion, DoorEnrolment, DoorPinChange};
use crate::templates::{MODEL, ProtectedTemplate};

impl Store {
    /// A face enrolled at `door`, applied to the register after checking it: the resident
    /// exists, the template is bound to them by its MAC under the site key and is intact, the
    /// consent names a notice (and a guardian for a minor) and was given after the resident's
    /// last withdrawal, and an open booking allows it (the booking is then done). Returns the new
    /// template's id, or `None` when this enrolment is already on record.
    pub fn accept_door_enrolment(
        &mut self,
        enrolment: &DoorEnrolment,
        door: &DoorId,
        minor_age: i32,
        now: i64,
    ) -> Result<Option<i64>> {
        let resident = self.resident_by_id(enrolment.resident)?;
        let (offer, t) = (&enrolment.consent, &enrolment.template);
        let bound = Row::Template {
            resident: resident.id,
            salt: &t.salt,
            vector: &t.vector,
            model: &t.model,
        };
        if t.model != MODEL
            || !bound.verifies(&self.row_key, t.mac.as_deref())
            || ProtectedTemplate::from_bytes(&t.salt, &t.vector).is_none()
        {
            return Err(StoreError::Invalid(format!(
                "door {door} sent a template for {} that is not bound to them under the site key",
                resident.subject()
            )));
        }
        let hash_ok = offer.text_sha256.len() == 64
            && offer.text_sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !hash_ok || offer.text_version.trim().is_empty() {
            return Err(StoreError::Invalid(format!(
                "door {door} sent a consent for {} without a notice version and hash",
                resident.subject()
            )));
        }
        // Age is judged at a time no later than the site's: a door dating the consent in the
        // future would make a child count as an adult.
        if resident.is_minor(offer.granted_at.min(now), minor_age) && offer.guardian.is_none() {
            return Err(StoreError::GuardianConsentRequired(resident.subject()));
        }
        let created_at = t.created_at.min(now);
        let (key, fields) = (self.audit_key().clone(), self.fields.clone());
        self.transaction(|tx| {
            let known: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM consents WHERE resident_id = ?1 AND granted_at = ?2 AND text_sha256 = ?3)",
                params![resident.id, offer.granted_at, offer.text_sha256],
                |r| r.get(0),
            )?;
            if known {
                return Ok(None);
            }
            let withdrawn: Option<i64> = tx.query_row(
                "SELECT faces_withdrawn_at FROM residents WHERE id = ?1",
                [resident.id],
                |r| r.get(0),
            )?;
            if withdrawn.is_some_and(|withdrawn| offer.granted_at <= withdrawn) {
                return Err(StoreError::Invalid(format!(
                    "door {door} sent an enrolment of {} under a consent given before their withdrawal",
                    resident.subject()
                )));
            }
            // Open when the site receives it, or (a door that was offline) when it was made.
            let booking: Option<i64> = tx
                .query_row(
                    "SELECT id FROM enrolment_bookings WHERE resident_id = ?1 AND done_at IS NULL
                     AND (door IS NULL OR door = ?2) AND created_at <= ?3 AND until > MIN(?3, ?4)
                     ORDER BY id LIMIT 1",
                    params![resident.id, door.as_str(), now, created_at],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(booking) = booking else {
                return Err(StoreError::Invalid(format!(
                    "door {door} sent an enrolment of {} that no open booking allows",
                    resident.subject()
                )));
            };
            tx.execute(
                "UPDATE enrolment_bookings SET done_at = ?1 WHERE id = ?2",
                params![now, booking],
            )?;
            let grant = ConsentGrant {
                text_version: offer.text_version.clone(),
                text_sha256: offer.text_sha256.clone(),
                operator: format!("{} at door {door}", offer.operator),
                guardian: offer.guardian.clone(),
            };
            let consent = consent::insert(tx, &key, &fields, resident.id, &grant, offer.granted_at)?;
            tx.execute(
                "INSERT INTO templates (resident_id, consent_id, salt, vector, model, created_at, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![resident.id, consent, t.salt, t.vector, t.model, created_at, t.mac],
            )?;
            let id = tx.last_insert_rowid();
            let detail = format!("template {id} at door {door}, booking {booking}");
            append(tx, &key, Chain::Admin, now, AuditKind::FaceEnrolled, &resident.subject(), &detail)?;
            Ok(Some(id))
        })
    }

    /// A deletion made at `door`: the consents it names (by when they were granted) are
    /// withdrawn and their templates deleted, and the resident's last withdrawal moves to its
    /// time (so no consent given before it, at any door, is accepted later). Returns how many
    /// templates went; 0 when it was already done. A resident no longer in the register has
    /// nothing left to delete.
    pub fn accept_door_deletion(
        &mut self,
        deletion: &DoorDeletion,
        door: &DoorId,
        now: i64,
    ) -> Result<usize> {
        let Ok(resident) = self.resident_by_id(deletion.resident) else { return Ok(0) };
        let key = self.audit_key().clone();
        let at = deletion.at.min(now);
        let deleted = self.transaction(|tx| {
            note_withdrawn(tx, resident.id, at)?;
            let mut deleted = 0;
            for consent in &deletion.consents {
                let ids: Vec<i64> = tx
                    .prepare("SELECT id FROM consents WHERE resident_id = ?1 AND granted_at = ?2 AND withdrawn_at IS NULL")?
                    .query_map(params![resident.id, consent.granted_at], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                for id in ids {
                    deleted += tx.execute("DELETE FROM templates WHERE consent_id = ?1", [id])?;
                    tx.execute("UPDATE consents SET withdrawn_at = ?1 WHERE id = ?2", params![at, id])?;
                    let detail = format!("{deleted} templates deleted, at door {door}");
                    append(tx, &key, Chain::Admin, at, AuditKind::ConsentWithdrawn, &resident.subject(), &detail)?;
                }
            }
            Ok(deleted)
        })?;
        self.checkpoint()?;
        Ok(deleted)
    }

    /// A PIN set at `door`, applied if it is bound to the resident under the site key. Changes
    /// are ordered as the site receives them: the latest received wins, stamped with the site's
    /// `now`. Returns whether it changed the register (`false`: this PIN is on record already).
    pub fn accept_door_pin(
        &mut self,
        change: &DoorPinChange,
        door: &DoorId,
        now: i64,
    ) -> Result<bool> {
        let Ok(resident) = self.resident_by_id(change.resident) else { return Ok(false) };
        let pin = &change.pin;
        let bound = Row::Pin { resident: resident.id, phc: &pin.phc };
        if !bound.verifies(&self.row_key, pin.mac.as_deref()) {
            return Err(StoreError::Invalid(format!(
                "door {door} sent a PIN for {} that is not bound to them under the site key",
                resident.subject()
            )));
        }
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let stored: Option<String> = tx
                .query_row("SELECT phc FROM pins WHERE resident_id = ?1", [resident.id], |r| {
                    r.get(0)
                })
                .optional()?;
            if stored.as_deref() == Some(pin.phc.as_str()) {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO pins (resident_id, phc, updated_at, credential_root, mac) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(resident_id) DO UPDATE SET phc = excluded.phc, updated_at = excluded.updated_at,
                 credential_root = excluded.credential_root, mac = excluded.mac",
                params![resident.id, pin.phc, now, pin.credential_root, pin.mac],
            )?;
            let detail = format!("at door {door}");
            append(tx, &key, Chain::Admin, now, AuditKind::PinSet, &resident.subject(), &detail)?;
            Ok(true)
        })
    }
}

/// Moves a resident's last withdrawal of face recognition to `at` (never back).
pub(super) fn note_withdrawn(tx: &rusqlite::Transaction, resident: i64, at: i64) -> Result<()> {
    tx.execute(
        "UPDATE residents SET faces_withdrawn_at = MAX(COALESCE(faces_withdrawn_at, ?2), ?2) WHERE id = ?1",
        params![resident, at],
    )?;
    Ok(())
}
