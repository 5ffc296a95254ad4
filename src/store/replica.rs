//! Site mode in the store. On the site: door records built from the register, and what doors
//! send applied to it. On a door: the replica rules (a bucket entry is applied only if its
//! revision is newer than the key's stored one; a delete removes the resident and everything
//! of theirs; a consent withdrawn here is never applied again) and the outbox, written in the
//! same transaction as the change it reports.
//!
//! A door's residents hold no personal values: the name is empty (or the display name the
//! resident agreed to), the unit empty, birth year and guardian NULL, consent operators empty.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::audit::{AuditEntry, AuditKind, Chain, append};
use super::consent::ConsentRecord;
use super::register_fields::{Field, FieldKey, write_consent, write_resident};
use super::{Result, Store, StoreError};
use crate::credentials::lockout::resident_key as lockout_key;
use crate::site::entry::{EntryKey, EntryValue};
use crate::site::outbox::{
    DoorDeletion, DoorEnrolment, DoorEvent, DoorPinChange, OutboxKind, OutboxRow, WithdrawnConsent,
};
use crate::site::record::{CardEntry, ConsentEntry, DoorRecord, PinEntry, TemplateEntry};
use crate::site::{DoorId, SiteId};

/// Which site and door a door database belongs to, and how far it has caught up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    pub site: SiteId,
    pub door: DoorId,
    /// The last bucket revision applied.
    pub revision: u64,
    /// When the replica last caught up with the site's bucket (unix seconds).
    pub last_contact: Option<i64>,
}

/// One bucket entry for a door: a value, or `None` for a delete.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaEntry {
    pub key: String,
    pub revision: u64,
    pub value: Option<EntryValue>,
}

impl Store {
    /// Makes this database the replica of `door` at `site` (`facegate join`).
    pub fn join_site(&mut self, site: &SiteId, door: &DoorId) -> Result<()> {
        if let Some(state) = self.replica()? {
            return Err(StoreError::Invalid(format!(
                "this database is already door {} of site {}",
                state.door, state.site
            )));
        }
        self.conn.execute(
            "INSERT INTO replica_state (id, site, door) VALUES (1, ?1, ?2)",
            params![site.as_str(), door.as_str()],
        )?;
        // Outbox ids (the message ids) start from the join time, so a door that joins again
        // under a removed door's id never repeats its message ids, at the broker or the site.
        self.conn.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?1)",
            [join_epoch()],
        )?;
        Ok(())
    }

    /// The replica's state, or `None` on a database that is no door of a site.
    pub fn replica(&self) -> Result<Option<ReplicaState>> {
        let row: Option<(String, String, i64, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT site, door, revision, last_contact FROM replica_state WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((site, door, revision, last_contact)) = row else { return Ok(None) };
        let bad = |e: crate::site::IdError| StoreError::Invalid(e.to_string());
        Ok(Some(ReplicaState {
            site: site.parse().map_err(bad)?,
            door: door.parse().map_err(bad)?,
            revision: revision as u64,
            last_contact,
        }))
    }

    /// Records that the replica is caught up with the site's bucket at `now`.
    pub fn set_last_contact(&self, now: i64) -> Result<()> {
        self.conn.execute("UPDATE replica_state SET last_contact = ?1 WHERE id = 1", [now])?;
        Ok(())
    }

    /// Applies bucket entries (in revision order) in one transaction; returns how many
    /// changed the replica. Residents, visitor passes and bookings are dispatched here by
    /// their key ([`EntryKey`]); other keys (`c.`) only advance the replica's revision here. A
    /// value under the wrong key is a delete.
    pub fn apply_entries(&mut self, entries: &[ReplicaEntry]) -> Result<usize> {
        let fields = self.fields.clone();
        let (applied, deleted) = self.transaction(|tx| {
            let (mut applied, mut deleted) = (0, false);
            for entry in entries {
                let stored: Option<i64> = tx
                    .query_row(
                        "SELECT revision FROM replica_revisions WHERE key = ?1",
                        [&entry.key],
                        |r| r.get(0),
                    )
                    .optional()?;
                tx.execute(
                    "UPDATE replica_state SET revision = MAX(revision, ?1) WHERE id = 1",
                    [entry.revision as i64],
                )?;
                let Some(key) = EntryKey::parse(&entry.key) else { continue };
                if stored.is_some_and(|stored| stored >= entry.revision as i64) {
                    continue;
                }
                tx.execute(
                    "INSERT INTO replica_revisions (key, revision, deleted) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO UPDATE SET revision = excluded.revision, deleted = excluded.deleted",
                    params![entry.key, entry.revision as i64, entry.value.is_none()],
                )?;
                let value = entry.value.as_ref().filter(|value| value.key() == key);
                match (key, value) {
                    (_, Some(EntryValue::Resident(record))) => {
                        deleted |= apply_record(tx, &fields, record)?;
                    }
                    (EntryKey::Resident(resident), _) => {
                        delete_resident(tx, resident)?;
                        deleted = true;
                    }
                    (_, Some(EntryValue::Pass(pass))) => super::visitors::write_pass(tx, pass)?,
                    (EntryKey::Pass(id), _) => super::visitors::remove_pass(tx, id)?,
                    (_, Some(EntryValue::Booking(booking))) => {
                        super::bookings::write_booking(tx, booking)?;
                    }
                    (EntryKey::Booking(id), _) => super::bookings::remove_booking(tx, id)?,
                }
                applied += 1;
            }
            Ok((applied, deleted))
        })?;
        if deleted {
            self.checkpoint()?;
        }
        Ok(applied)
    }

    /// The next outbox rows, oldest first.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxRow>> {
        let mut stmt =
            self.conn.prepare("SELECT id, kind, body FROM outbox ORDER BY id LIMIT ?1")?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, kind, body)| {
                let kind = OutboxKind::parse(&kind).ok_or_else(|| {
                    StoreError::Invalid(format!("outbox row {id} has an unknown kind"))
                })?;
                Ok(OutboxRow { id, kind, body })
            })
            .collect()
    }

    /// How many outbox rows wait for delivery.
    pub fn outbox_depth(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Removes delivered outbox rows (the stream acknowledged them).
    pub fn remove_outbox(&mut self, ids: &[i64]) -> Result<()> {
        self.transaction(|tx| {
            for id in ids {
                tx.execute("DELETE FROM outbox WHERE id = ?1", [id])?;
            }
            Ok(())
        })
    }

    /// Every resident's door record, from the register. Display names only with
    /// `greet_by_name`, and only of residents who agreed.
    pub fn door_records(&self, greet_by_name: bool) -> Result<Vec<DoorRecord>> {
        let conn = &self.conn;
        let mut pins: HashMap<i64, PinEntry> = conn
            .prepare("SELECT resident_id, phc, updated_at, credential_root, mac FROM pins")?
            .query_map([], |r| {
                let pin = PinEntry {
                    phc: r.get(1)?,
                    updated_at: r.get(2)?,
                    credential_root: r.get(3)?,
                    mac: r.get(4)?,
                };
                Ok((r.get(0)?, pin))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut cards: HashMap<i64, Vec<CardEntry>> = HashMap::new();
        let mut stmt = conn.prepare(
            "SELECT resident_id, id, card_index, created_at, revoked_at, credential_root, mac FROM cards ORDER BY id",
        )?;
        for row in stmt.query_map([], |r| {
            let card = CardEntry {
                id: r.get(1)?,
                index: r.get(2)?,
                created_at: r.get(3)?,
                revoked_at: r.get(4)?,
                credential_root: r.get(5)?,
                mac: r.get(6)?,
            };
            Ok((r.get::<_, i64>(0)?, card))
        })? {
            let (resident, card) = row?;
            cards.entry(resident).or_default().push(card);
        }
        let mut consents: HashMap<i64, Vec<ConsentEntry>> = HashMap::new();
        let mut stmt = conn.prepare(
            "SELECT resident_id, id, granted_at, text_version, text_sha256 FROM consents WHERE withdrawn_at IS NULL ORDER BY id",
        )?;
        for row in stmt.query_map([], |r| {
            let consent = ConsentEntry {
                id: r.get(1)?,
                granted_at: r.get(2)?,
                text_version: r.get(3)?,
                text_sha256: r.get(4)?,
            };
            Ok((r.get::<_, i64>(0)?, consent))
        })? {
            let (resident, consent) = row?;
            consents.entry(resident).or_default().push(consent);
        }
        let mut templates: HashMap<i64, Vec<TemplateEntry>> = HashMap::new();
        let mut stmt = conn.prepare(
            "SELECT resident_id, id, consent_id, salt, vector, model, created_at, mac FROM templates ORDER BY id",
        )?;
        for row in stmt.query_map([], |r| {
            let template = TemplateEntry {
                id: r.get(1)?,
                consent_id: r.get(2)?,
                salt: r.get(3)?,
                vector: r.get(4)?,
                model: r.get(5)?,
                created_at: r.get(6)?,
                mac: r.get(7)?,
            };
            Ok((r.get::<_, i64>(0)?, template))
        })? {
            let (resident, template) = row?;
            templates.entry(resident).or_default().push(template);
        }
        let mut resets = super::pin_resets::reset_records(conn)?;
        let mut admin_pins = super::admin_pins::admin_pin_records(conn)?;
        let greeted: Vec<i64> = if greet_by_name {
            conn.prepare("SELECT resident_id FROM greetings")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        } else {
            Vec::new()
        };
        let mut stmt = conn.prepare(
            "SELECT id, number, name, status, valid_from, valid_until, created_at, require_card_pin FROM residents ORDER BY id",
        )?;
        let mut records = Vec::new();
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let display_name = if greeted.contains(&id) {
                Some(self.fields.open(Field::ResidentName, id, &r.get::<_, Vec<u8>>(2)?)?)
            } else {
                None
            };
            let status: String = r.get(3)?;
            records.push(DoorRecord {
                resident: id,
                number: r.get(1)?,
                status: status.parse().map_err(StoreError::Invalid)?,
                valid_from: r.get(4)?,
                valid_until: r.get(5)?,
                created_at: r.get(6)?,
                require_card_pin: r.get(7)?,
                pin: pins.remove(&id),
                cards: cards.remove(&id).unwrap_or_default(),
                consents: consents.remove(&id).unwrap_or_default(),
                templates: templates.remove(&id).unwrap_or_default(),
                display_name,
                pin_reset: resets.remove(&id),
                admin_pin: admin_pins.remove(&id),
            });
        }
        Ok(records)
    }

    /// Whether a resident agreed to be greeted by name at the doors (site mode's
    /// `greet_by_name`).
    pub fn set_greeting(
        &mut self,
        number: &str,
        agreed: bool,
        now: i64,
        operator: &str,
    ) -> Result<()> {
        let resident = self.resident(number)?;
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            if agreed {
                tx.execute(
                    "INSERT OR IGNORE INTO greetings (resident_id, agreed_at) VALUES (?1, ?2)",
                    params![resident.id, now],
                )?;
            } else {
                tx.execute("DELETE FROM greetings WHERE resident_id = ?1", [resident.id])?;
            }
            let detail =
                format!("greeting by name {} by {operator}", if agreed { "on" } else { "off" });
            append(
                tx,
                &key,
                Chain::Admin,
                now,
                AuditKind::ResidentEdited,
                &resident.subject(),
                &detail,
            )
        })
    }
}

/// The first outbox id of a door joining now: its join time in milliseconds, times 1 000. A
/// later join under the same door id starts above every id of the earlier one unless that door
/// sent more than a thousand messages per millisecond it was joined.
fn join_epoch() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| d.as_millis() as i64) * 1_000
}

/// Whether this database is a door's replica (then changes write outbox rows).
fn is_door(tx: &Transaction) -> Result<bool> {
    Ok(tx.query_row("SELECT EXISTS(SELECT 1 FROM replica_state)", [], |r| r.get(0))?)
}

/// Queues an outbox row on a door (nothing on the site or a single door).
pub(super) fn queue(
    tx: &Transaction,
    kind: OutboxKind,
    body: &impl Serialize,
    at: i64,
) -> Result<()> {
    if !is_door(tx)? {
        return Ok(());
    }
    let body = serde_json::to_string(body).map_err(|e| StoreError::Invalid(e.to_string()))?;
    tx.execute(
        "INSERT INTO outbox (kind, body, at) VALUES (?1, ?2, ?3)",
        params![kind.as_str(), body, at],
    )?;
    Ok(())
}

/// On a door, an audit row that is an access event or an alarm goes to the site too.
pub(super) fn note_audit(
    tx: &Transaction,
    chain: Chain,
    kind: AuditKind,
    entry: &AuditEntry,
) -> Result<()> {
    let outbox_kind = match kind {
        AuditKind::DoorHeldOpen
        | AuditKind::DoorForcedOpen
        | AuditKind::DoorFireUnlocked
        | AuditKind::AttemptsLocked
        | AuditKind::RowRejected => OutboxKind::Alarm,
        _ if chain == Chain::Access => OutboxKind::Event,
        _ => return Ok(()),
    };
    let event = DoorEvent {
        at: entry.at,
        kind: entry.kind.clone(),
        subject: entry.subject.clone(),
        detail: entry.detail.clone(),
    };
    queue(tx, outbox_kind, &event, entry.at)
}

/// On a door, a withdrawal (before its templates are deleted): the consents are remembered as
/// withdrawn here, so no record brings their templates back, and the site is told.
pub(super) fn note_withdrawal(tx: &Transaction, resident: i64, now: i64) -> Result<()> {
    if !is_door(tx)? {
        return Ok(());
    }
    let consents: Vec<WithdrawnConsent> = tx
        .prepare(
            "SELECT id, granted_at FROM consents WHERE resident_id = ?1 AND withdrawn_at IS NULL",
        )?
        .query_map([resident], |r| Ok(WithdrawnConsent { id: r.get(0)?, granted_at: r.get(1)? }))?
        .collect::<rusqlite::Result<_>>()?;
    for consent in &consents {
        tx.execute(
            "INSERT OR IGNORE INTO withdrawn_consents (consent_id, resident_id, granted_at, at) VALUES (?1, ?2, ?3, ?4)",
            params![consent.id, resident, consent.granted_at, now],
        )?;
    }
    queue(tx, OutboxKind::Delete, &DoorDeletion { resident, consents, at: now }, now)
}

/// On a door, a face enrolled here goes to the site with the consent given here.
pub(super) fn note_enrolment(
    tx: &Transaction,
    resident: i64,
    consent: &ConsentRecord,
    template: TemplateEntry,
) -> Result<()> {
    let offer = crate::site::outbox::ConsentOffer {
        granted_at: consent.granted_at,
        text_version: consent.text_version.clone(),
        text_sha256: consent.text_sha256.clone(),
        operator: consent.operator.clone(),
        guardian: consent.guardian.clone(),
    };
    let at = template.created_at;
    queue(tx, OutboxKind::Enrol, &DoorEnrolment { resident, consent: offer, template }, at)
}

/// On a door, a PIN set here goes to the site (with the reset code it used, if any).
pub(super) fn note_pin(
    tx: &Transaction,
    resident: i64,
    pin: PinEntry,
    reset_code: Option<Vec<u8>>,
) -> Result<()> {
    let at = pin.updated_at;
    queue(tx, OutboxKind::Pin, &DoorPinChange { resident, pin, reset_code }, at)
}

/// Removes a resident and everything of theirs from a door.
fn delete_resident(tx: &Transaction, resident: i64) -> Result<()> {
    let number: Option<String> = tx
        .query_row("SELECT number FROM residents WHERE id = ?1", [resident], |r| r.get(0))
        .optional()?;
    if let Some(number) = number {
        tx.execute("DELETE FROM lockouts WHERE key = ?1", [lockout_key(&number)])?;
        tx.execute("DELETE FROM residents WHERE id = ?1", [resident])?;
    }
    Ok(())
}

/// Writes one record over the door's copy of that resident; returns whether a template the
/// door held is gone (withdrawn, deleted or purged elsewhere), so the caller checkpoints.
fn apply_record(tx: &Transaction, fields: &FieldKey, record: &DoorRecord) -> Result<bool> {
    let id = record.resident;
    let holder: Option<i64> = tx
        .query_row(
            "SELECT id FROM residents WHERE number = ?1 AND id != ?2",
            params![record.number, id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(previous) = holder {
        delete_resident(tx, previous)?; // the number moved; the holder's own record follows
    }
    tx.execute(
        "INSERT INTO residents (id, number, name, unit, status, valid_from, valid_until, created_at, require_card_pin)
         VALUES (?1, ?2, X'', X'', ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(id) DO UPDATE SET number = excluded.number, status = excluded.status,
         valid_from = excluded.valid_from, valid_until = excluded.valid_until,
         created_at = excluded.created_at, require_card_pin = excluded.require_card_pin",
        params![
            id,
            record.number,
            record.status.as_str(),
            record.valid_from,
            record.valid_until,
            record.created_at,
            record.require_card_pin
        ],
    )?;
    write_resident(tx, fields, id, record.display_name.as_deref().unwrap_or(""), "", None)?;
    super::pin_resets::write_reset(tx, id, record.pin_reset.as_ref())?;
    super::admin_pins::write_admin_pin(tx, id, record.admin_pin.as_ref())?;
    tx.execute("DELETE FROM pins WHERE resident_id = ?1", [id])?;
    if let Some(pin) = &record.pin {
        tx.execute(
            "INSERT INTO pins (resident_id, phc, updated_at, credential_root, mac) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, pin.phc, pin.updated_at, pin.credential_root, pin.mac],
        )?;
    }
    tx.execute("DELETE FROM cards WHERE resident_id = ?1", [id])?;
    for card in &record.cards {
        tx.execute(
            "DELETE FROM cards WHERE id = ?1 OR card_index = ?2",
            params![card.id, card.index],
        )?;
        tx.execute(
            "INSERT INTO cards (id, resident_id, card_index, created_at, revoked_at, credential_root, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![card.id, id, card.index, card.created_at, card.revoked_at, card.credential_root, card.mac],
        )?;
    }
    let last_used: HashMap<i64, Option<i64>> = tx
        .prepare("SELECT id, last_used_at FROM templates WHERE resident_id = ?1")?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    tx.execute("DELETE FROM templates WHERE resident_id = ?1", [id])?;
    tx.execute("DELETE FROM consents WHERE resident_id = ?1", [id])?;
    let mut kept = std::collections::HashSet::new();
    for consent in &record.consents {
        let withdrawn: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM withdrawn_consents
             WHERE consent_id = ?1 OR (resident_id = ?2 AND granted_at = ?3))",
            params![consent.id, id, consent.granted_at],
            |r| r.get(0),
        )?;
        if withdrawn {
            continue;
        }
        tx.execute("DELETE FROM consents WHERE id = ?1", [consent.id])?; // a door-local id
        tx.execute(
            "INSERT INTO consents (id, resident_id, granted_at, text_version, text_sha256, operator)
             VALUES (?1, ?2, ?3, ?4, ?5, X'')",
            params![consent.id, id, consent.granted_at, consent.text_version, consent.text_sha256],
        )?;
        write_consent(tx, fields, consent.id, "", None)?;
        for t in record.templates.iter().filter(|t| t.consent_id == consent.id) {
            kept.insert(t.id);
            tx.execute("DELETE FROM templates WHERE id = ?1", [t.id])?;
            tx.execute(
                "INSERT INTO templates (id, resident_id, consent_id, salt, vector, model, created_at, last_used_at, mac)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    t.id,
                    id,
                    consent.id,
                    t.salt,
                    t.vector,
                    t.model,
                    t.created_at,
                    last_used.get(&t.id).copied().flatten(),
                    t.mac
                ],
            )?;
        }
    }
    Ok(holder.is_some() || last_used.keys().any(|t| !kept.contains(t)))
}

pub mod resync;
#[cfg(test)]
mod tests;
