//! Face templates in the database: enrolment (with consent, in one transaction), the gallery the
//! gate matches against, deletion and re-keying.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::audit::{AuditKind, Chain, append};
use super::consent::{self, ConsentGrant};
use super::row_mac::{Rejected, RejectedWhy, Row};
use super::{Result, Store, StoreError};
use crate::keys::Key;
use crate::site::record::TemplateEntry;
use crate::templates::{self, Gallery, MODEL, ProtectedTemplate, ResidentPair, TemplateKey};
use crate::vision::Embedding;

/// A template's bookkeeping (never its vector).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredTemplate {
    pub id: i64,
    pub resident_id: i64,
    pub model: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl Store {
    /// Enrols a face (the fused embedding of several good frames). With `consent`, the consent
    /// is recorded first in the same transaction; without it, an active consent must exist.
    /// Minors (younger than `minor_age`) need a guardian on the consent.
    pub fn enrol(
        &mut self,
        number: &str,
        embedding: &Embedding,
        consent: Option<&ConsentGrant>,
        minor_age: i32,
        now: i64,
    ) -> Result<i64> {
        let resident = self.resident(number)?;
        let template = ProtectedTemplate::protect(self.template_key(), embedding);
        let vector = template.vector_bytes();
        let row = Row::Template {
            resident: resident.id,
            salt: &template.salt,
            vector: &vector,
            model: MODEL,
        };
        let mac = row.mac(&self.row_key);
        let key = self.audit_key().clone();
        let fields = self.fields.clone();
        let id = self.transaction(|tx| {
            if let Some(grant) = consent {
                consent::insert(tx, &key, &fields, resident.id, grant, now)?;
            }
            let record = consent::active(tx, &fields, resident.id)?.ok_or_else(|| StoreError::NoConsent(number.to_owned()))?;
            if resident.is_minor(now, minor_age) && record.guardian.is_none() {
                return Err(StoreError::GuardianConsentRequired(number.to_owned()));
            }
            tx.execute(
                "INSERT INTO templates (resident_id, consent_id, salt, vector, model, created_at, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![resident.id, record.id, &template.salt[..], vector, MODEL, now, mac],
            )?;
            let id = tx.last_insert_rowid();
            let entry = TemplateEntry { id, consent_id: record.id, salt: template.salt.to_vec(), vector: vector.clone(), model: MODEL.into(), created_at: now, mac: Some(mac.clone()) };
            super::replica::note_enrolment(tx, resident.id, &record, entry)?;
            append(tx, &key, Chain::Admin, now, AuditKind::FaceEnrolled, &resident.subject(), &format!("template {id}"))?;
            Ok(id)
        })?;
        Ok(id)
    }

    /// The templates of residents whose access is valid at `now`, ready to match. A row that
    /// fails its integrity check (wrong length, a vector not of unit norm, a MAC that fails) or
    /// comes from a model this build does not know is skipped and rejected (see
    /// [`super::row_mac`]). One bad row never stops the gate.
    pub fn gallery(&self, now: i64) -> Result<Gallery> {
        let mut stmt = self.conn.prepare(
            "SELECT t.id, t.resident_id, t.salt, t.vector, t.mac, t.model FROM templates t JOIN residents r ON r.id = t.resident_id
             WHERE r.status = 'active' AND (r.valid_from IS NULL OR r.valid_from <= ?1)
               AND (r.valid_until IS NULL OR r.valid_until > ?1)",
        )?;
        let mut gallery = Gallery::default();
        let mut rows = stmt.query(params![now])?;
        while let Some(row) = rows.next()? {
            let (id, resident): (i64, i64) = (row.get(0)?, row.get(1)?);
            let model: String = row.get(5)?;
            if model != MODEL {
                self.reject(Rejected {
                    table: "template",
                    id,
                    resident,
                    why: RejectedWhy::UnknownModel,
                })?;
                continue;
            }
            if let Some(template) = self.checked_template(id, resident, row)? {
                gallery.insert(self.template_key(), id, resident, &template);
            }
        }
        Ok(gallery)
    }

    /// A template row (columns id, resident_id, salt, vector, mac) if it is intact and bound
    /// to its resident; otherwise `None`, rejected.
    fn checked_template(
        &self,
        id: i64,
        resident: i64,
        row: &rusqlite::Row,
    ) -> Result<Option<ProtectedTemplate>> {
        let (salt, vector, mac): (Vec<u8>, Vec<u8>, Option<Vec<u8>>) =
            (row.get(2)?, row.get(3)?, row.get(4)?);
        let bound = Row::Template { resident, salt: &salt, vector: &vector, model: MODEL };
        if !self.row_ok(&bound, id, mac.as_deref())? {
            return Ok(None);
        }
        let template = ProtectedTemplate::from_bytes(&salt, &vector);
        if template.is_none() {
            let why = RejectedWhy::FailsIntegrityCheck;
            self.reject(Rejected { table: "template", id, resident, why })?;
        }
        Ok(template)
    }

    /// A resident's templates (bookkeeping only).
    pub fn templates_of(&self, number: &str) -> Result<Vec<StoredTemplate>> {
        let resident = self.resident(number)?;
        let mut stmt = self.conn.prepare(
            "SELECT id, resident_id, model, created_at, last_used_at FROM templates WHERE resident_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([resident.id], |r| {
                Ok(StoredTemplate {
                    id: r.get(0)?,
                    resident_id: r.get(1)?,
                    model: r.get(2)?,
                    created_at: r.get(3)?,
                    last_used_at: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The stored template itself (for tests of what an attacker holding the file sees).
    pub fn stored_template(&self, id: i64) -> Result<ProtectedTemplate> {
        let row: Option<(Vec<u8>, Vec<u8>)> = self
            .conn
            .query_row("SELECT salt, vector FROM templates WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (salt, vector) = row.ok_or(StoreError::UnknownTemplate(id))?;
        ProtectedTemplate::from_bytes(&salt, &vector)
            .ok_or_else(|| StoreError::Invalid(format!("template {id} is damaged")))
    }

    /// Deletes one template (revocation) and checkpoints so its bytes leave the disk.
    pub fn delete_template(&mut self, id: i64, now: i64, operator: &str) -> Result<()> {
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let resident: i64 = tx
                .query_row("SELECT resident_id FROM templates WHERE id = ?1", [id], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::UnknownTemplate(id))?;
            tx.execute("DELETE FROM templates WHERE id = ?1", [id])?;
            append(
                tx,
                &key,
                Chain::Admin,
                now,
                AuditKind::TemplateDeleted,
                &format!("resident#{resident}"),
                &format!("template {id} by {operator}"),
            )
        })?;
        self.checkpoint()
    }

    /// How close enrolled residents are to each other (see [`templates::closest_pairs`]), and
    /// how many residents have a template.
    pub(crate) fn closest_pairs(&self) -> Result<(usize, Vec<ResidentPair>)> {
        let mut stmt = self.conn.prepare(
            "SELECT id, resident_id, salt, vector, mac FROM templates WHERE model = ?1 ORDER BY resident_id",
        )?;
        let mut rows = stmt.query([MODEL])?;
        let mut protected = Vec::new();
        while let Some(row) = rows.next()? {
            let (id, resident): (i64, i64) = (row.get(0)?, row.get(1)?);
            if let Some(template) = self.checked_template(id, resident, row)? {
                protected.push((resident, template));
            }
        }
        let mut residents: Vec<i64> = protected.iter().map(|t| t.0).collect();
        residents.dedup();
        Ok((residents.len(), templates::closest_pairs(self.template_key(), &protected)))
    }

    /// Marks resident `resident_id`'s templates as used at `at` (a door of the site let them in
    /// by face): the site's retention counts from the last use at any door, not from enrolment.
    pub fn touch_resident_templates(&self, resident_id: i64, at: i64) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE templates SET last_used_at = ?1
             WHERE resident_id = ?2 AND COALESCE(last_used_at, created_at) < ?1",
            params![at, resident_id],
        )?)
    }

    /// Marks a template as used (for retention).
    pub fn touch_template(&self, id: i64, now: i64) -> Result<()> {
        self.conn
            .execute("UPDATE templates SET last_used_at = ?1 WHERE id = ?2", params![now, id])?;
        Ok(())
    }
}

/// A template row as stored: id, resident id, salt, vector, model, MAC.
pub(super) type TemplateRow = (i64, i64, Vec<u8>, Vec<u8>, String, Option<Vec<u8>>);

/// Every template row.
pub(super) fn all_rows(tx: &rusqlite::Transaction) -> Result<Vec<TemplateRow>> {
    Ok(tx
        .prepare("SELECT id, resident_id, salt, vector, model, mac FROM templates")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Re-keys every intact template inside a transaction (key rotation), with a fresh row MAC; a
/// row that fails its MAC is left as it is (still rejected).
pub(super) fn rekey_all(
    tx: &rusqlite::Transaction,
    old: &TemplateKey,
    new: &TemplateKey,
    (old_row_key, new_row_key): (&Key, &Key),
) -> Result<usize> {
    let rows = all_rows(tx)?;
    let mut count = 0;
    for (id, resident, salt, vector, model, mac) in &rows {
        let bound = Row::Template { resident: *resident, salt, vector, model };
        let Some(template) = ProtectedTemplate::from_bytes(salt, vector)
            .filter(|_| bound.verifies(old_row_key, mac.as_deref()))
        else {
            continue;
        };
        let moved = template.rekey(old, new);
        let vector = moved.vector_bytes();
        let mac = Row::Template { resident: *resident, salt: &moved.salt, vector: &vector, model }
            .mac(new_row_key);
        tx.execute(
            "UPDATE templates SET salt = ?1, vector = ?2, mac = ?3 WHERE id = ?4",
            params![&moved.salt[..], vector, mac, id],
        )?;
        count += 1;
    }
    Ok(count)
}
