//! The audit log: append-only rows, each carrying an HMAC over the previous row's MAC and its
//! own content, so editing, removing or reordering a row shows at that row.
//!
//! Two chains: `access` (door decisions, many, pruned after a configurable age with a
//! checkpoint that keeps the chain verifiable) and `admin` (enrolments, deletions, consent,
//! key rotations, purges, alarms; kept). Rows never hold a biometric, a PIN or a card UID;
//! residents appear as `resident#<id>`.
//!
//! The pruning checkpoint and the *head* (the last id and both chains' last MACs) carry MACs
//! too, so a removed prefix, a removed tail or a whole removed chain shows as well; ids after
//! the access checkpoint run without gaps (see [`super::audit_head`]). An export holds all of
//! it (see [`super::audit_file`]).

use hmac::{Hmac, KeyInit, Mac};
use rusqlite::{Transaction, params};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::audit_head::{
    Checkpoint, checkpoint, head, key_is_current, max_id, problems, seal_existing, write_head,
};
use super::{Result, Store, StoreError};
use crate::keys::Key;

/// Which chain a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    Access,
    Admin,
}

impl Chain {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Chain::Access => "access",
            Chain::Admin => "admin",
        }
    }
}

/// What an audit row records. The stored text ([`AuditKind::as_str`]) never changes, so old
/// databases still verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// The door opened for a resident.
    AccessGranted,
    /// The first of two factors was accepted.
    FirstFactorOk,
    /// A credential was refused.
    AccessDenied,
    /// The door stayed open too long.
    DoorHeldOpen,
    /// The door opened without a grant.
    DoorForcedOpen,
    /// The fire input unlocked the door.
    DoorFireUnlocked,
    /// A resident consented to face recognition.
    ConsentGranted,
    /// A resident withdrew consent; their face data was deleted.
    ConsentWithdrawn,
    /// A PIN was set, reset or changed.
    PinSet,
    /// A PIN lockout was lifted.
    LockoutLifted,
    /// A card was registered.
    CardAdded,
    /// A card was revoked.
    CardRevoked,
    /// The retention rules ran.
    Purge,
    /// The site key was replaced.
    KeyRotated,
    /// A passphrase-protected backup of the site key was written.
    KeyExported,
    /// The site key was restored from a backup.
    KeyImported,
    /// A resident was added.
    ResidentAdded,
    /// A resident's record was changed.
    ResidentEdited,
    /// A resident was removed.
    ResidentRemoved,
    /// A resident's card + PIN requirement changed.
    CardPinPolicy,
    /// A face template was enrolled.
    FaceEnrolled,
    /// A face template was deleted.
    TemplateDeleted,
    /// The card reader or the face camera locked after repeated failures.
    AttemptsLocked,
    /// A template, PIN hash or card row failed its integrity check (or a template came from an
    /// unknown model) and was skipped.
    RowRejected,
    /// Old access rows left the log (a checkpoint keeps the rest verifiable).
    AccessPruned,
    /// A visitor pass was issued.
    VisitorPassCreated,
    /// A visitor pass was revoked.
    VisitorPassRevoked,
    /// A visitor pass opened a door (at this door, or reported by another door to the site).
    VisitorPassUsed,
    /// A one-time PIN-reset code was issued (the resident sets the new PIN at a door).
    PinResetIssued,
    /// A face enrolment at a door was booked.
    EnrolmentBooked,
    /// A booked enrolment was completed at a door.
    EnrolmentBookingDone,
    /// The register (residents' names and units) was exported from the console.
    RegisterExported,
    /// A manager asked a door to unlock once, from the console (with the reason).
    RemoteUnlockRequested,
    /// A door executed a remote unlock (opened), or refused it as expired.
    RemoteUnlock,
    /// A manager or caretaker asked a door to read the next card tapped for a resident.
    CardTapRequested,
    /// A door read a card for a resident's tap request, or the time ran out.
    CardTap,
    /// A manager or caretaker asked a door to lift a resident's PIN lockout.
    LockoutLiftRequested,
}

impl AuditKind {
    /// Every kind, in declaration order.
    pub const ALL: [AuditKind; 32] = [
        AuditKind::AccessGranted,
        AuditKind::FirstFactorOk,
        AuditKind::AccessDenied,
        AuditKind::DoorHeldOpen,
        AuditKind::DoorForcedOpen,
        AuditKind::DoorFireUnlocked,
        AuditKind::ConsentGranted,
        AuditKind::ConsentWithdrawn,
        AuditKind::PinSet,
        AuditKind::LockoutLifted,
        AuditKind::CardAdded,
        AuditKind::CardRevoked,
        AuditKind::Purge,
        AuditKind::KeyRotated,
        AuditKind::ResidentAdded,
        AuditKind::ResidentEdited,
        AuditKind::ResidentRemoved,
        AuditKind::CardPinPolicy,
        AuditKind::FaceEnrolled,
        AuditKind::TemplateDeleted,
        AuditKind::AttemptsLocked,
        AuditKind::RowRejected,
        AuditKind::AccessPruned,
        AuditKind::VisitorPassCreated,
        AuditKind::VisitorPassRevoked,
        AuditKind::VisitorPassUsed,
        AuditKind::PinResetIssued,
        AuditKind::EnrolmentBooked,
        AuditKind::EnrolmentBookingDone,
        AuditKind::RegisterExported,
        AuditKind::RemoteUnlockRequested,
        AuditKind::RemoteUnlock,
    ];

    /// The kind stored as `text` (a door's audit row names its kind so).
    pub fn parse(text: &str) -> Option<AuditKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The text stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::AccessGranted => "access_granted",
            AuditKind::FirstFactorOk => "first_factor_ok",
            AuditKind::AccessDenied => "access_denied",
            AuditKind::DoorHeldOpen => "door_heldopen",
            AuditKind::DoorForcedOpen => "door_forcedopen",
            AuditKind::DoorFireUnlocked => "door_fireunlocked",
            AuditKind::ConsentGranted => "consent_granted",
            AuditKind::ConsentWithdrawn => "consent_withdrawn",
            AuditKind::PinSet => "pin_set",
            AuditKind::LockoutLifted => "lockout_lifted",
            AuditKind::CardAdded => "card_added",
            AuditKind::CardRevoked => "card_revoked",
            AuditKind::Purge => "purge",
            AuditKind::KeyRotated => "key_rotated",
            AuditKind::KeyExported => "key_exported",
            AuditKind::KeyImported => "key_imported",
            AuditKind::ResidentAdded => "resident_added",
            AuditKind::ResidentEdited => "resident_edited",
            AuditKind::ResidentRemoved => "resident_removed",
            AuditKind::CardPinPolicy => "card_pin_policy",
            AuditKind::FaceEnrolled => "face_enrolled",
            AuditKind::TemplateDeleted => "template_deleted",
            AuditKind::AttemptsLocked => "attempts_locked",
            AuditKind::RowRejected => "row_rejected",
            AuditKind::AccessPruned => "access_pruned",
            AuditKind::VisitorPassCreated => "visitor_pass_created",
            AuditKind::VisitorPassRevoked => "visitor_pass_revoked",
            AuditKind::VisitorPassUsed => "visitor_pass_used",
            AuditKind::PinResetIssued => "pin_reset_issued",
            AuditKind::EnrolmentBooked => "enrolment_booked",
            AuditKind::EnrolmentBookingDone => "enrolment_booking_done",
            AuditKind::RegisterExported => "register_exported",
            AuditKind::RemoteUnlockRequested => "remote_unlock_requested",
            AuditKind::RemoteUnlock => "remote_unlock",
            AuditKind::CardTapRequested => "card_tap_requested",
            AuditKind::CardTap => "card_tap",
            AuditKind::LockoutLiftRequested => "lockout_lift_requested",
        }
    }
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub chain: String,
    pub at: i64,
    pub kind: String,
    pub subject: String,
    pub detail: String,
}

fn mac(key: &Key, previous: &[u8], e: &AuditEntry) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0).expect("any key length");
    m.update(previous);
    m.update(&e.id.to_le_bytes());
    m.update(&e.at.to_le_bytes());
    for field in [&e.chain, &e.kind, &e.subject, &e.detail] {
        m.update(&(field.len() as u64).to_le_bytes());
        m.update(field.as_bytes());
    }
    m.finalize().into_bytes().to_vec()
}

/// Appends a row inside a transaction. It chains onto the head, not onto whatever rows remain,
/// so rows removed from the end stay visible after the next append; with a key another process
/// rotated away it refuses ([`StoreError::KeyRotated`]).
pub(crate) fn append(
    tx: &Transaction,
    key: &Key,
    chain: Chain,
    at: i64,
    kind: AuditKind,
    subject: &str,
    detail: &str,
) -> Result<()> {
    if !key_is_current(tx, key)? {
        return Err(StoreError::KeyRotated);
    }
    let Some(last) = head(tx)? else {
        return Err(StoreError::Invalid(
            "the audit log's head is missing (someone removed it): run `facegate audit verify`"
                .into(),
        ));
    };
    let entry = AuditEntry {
        id: last.last_id.max(max_id(tx)?) + 1,
        chain: chain.as_str().into(),
        at,
        kind: kind.as_str().into(),
        subject: subject.into(),
        detail: detail.into(),
    };
    let fresh = mac(key, last.chain_mac(chain), &entry);
    tx.execute(
        "INSERT INTO audit (id, chain, at, kind, subject, detail, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![entry.id, entry.chain, entry.at, entry.kind, entry.subject, entry.detail, fresh],
    )?;
    super::replica::note_audit(tx, chain, kind, &entry)?;
    let (access_mac, admin_mac) = match chain {
        Chain::Access => (fresh, last.admin_mac),
        Chain::Admin => (last.access_mac, fresh),
    };
    write_head(tx, key, entry.id, access_mac, admin_mac)
}

pub(super) fn rows(
    conn: &rusqlite::Connection,
    chain: Chain,
) -> Result<Vec<(AuditEntry, Vec<u8>)>> {
    let mut stmt = conn.prepare(
        "SELECT id, chain, at, kind, subject, detail, mac FROM audit WHERE chain = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([chain.as_str()], |r| Ok((entry(r)?, r.get(6)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// An entry from the first six columns: id, chain, at, kind, subject, detail.
fn entry(r: &rusqlite::Row) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        chain: r.get(1)?,
        at: r.get(2)?,
        kind: r.get(3)?,
        subject: r.get(4)?,
        detail: r.get(5)?,
    })
}

/// The first row of `chain` whose MAC does not verify, if any (chained from its checkpoint).
fn first_broken(conn: &rusqlite::Connection, key: &Key, chain: Chain) -> Result<Option<i64>> {
    let mut previous = checkpoint(conn, chain)?.map_or(vec![0; 32], |c| c.last_mac);
    for (entry, stored) in rows(conn, chain)? {
        if mac(key, &previous, &entry) != stored {
            return Ok(Some(entry.id));
        }
        previous = stored;
    }
    Ok(None)
}

/// Recomputes every MAC under a new key (key rotation), after checking the old log.
pub(crate) fn rechain(tx: &Transaction, old: &Key, new: &Key) -> Result<()> {
    let verification = verify(tx, old)?;
    if !verification.intact() {
        return Err(StoreError::Invalid(format!(
            "the audit log does not verify ({}): fix or export it before rotating the key",
            verification.findings().join("; ")
        )));
    }
    for chain in [Chain::Access, Chain::Admin] {
        let mut previous = checkpoint(tx, chain)?.map_or(vec![0; 32], |c| c.last_mac);
        for (entry, _) in rows(tx, chain)? {
            let fresh = mac(new, &previous, &entry);
            tx.execute("UPDATE audit SET mac = ?1 WHERE id = ?2", params![fresh, entry.id])?;
            previous = fresh;
        }
    }
    seal_existing(tx, new)
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub rows: usize,
    /// The first row that fails, over both chains.
    pub first_broken: Option<i64>,
    /// What else is wrong: checkpoints or head edited, rows gone from the start or the end, a
    /// chain gone, ids missing.
    pub problems: Vec<String>,
}

impl Verification {
    /// Nothing was found.
    pub fn intact(&self) -> bool {
        self.first_broken.is_none() && self.problems.is_empty()
    }

    /// Every finding as a sentence.
    pub fn findings(&self) -> Vec<String> {
        let row = self.first_broken.map(|id| format!("row {id} does not verify"));
        row.into_iter().chain(self.problems.iter().cloned()).collect()
    }
}

/// Checks both chains, the checkpoints and the head in `conn` (the database or an export).
pub(super) fn verify(conn: &rusqlite::Connection, key: &Key) -> Result<Verification> {
    let mut rows_total = 0;
    let mut broken = Vec::new();
    for chain in [Chain::Access, Chain::Admin] {
        rows_total += rows(conn, chain)?.len();
        broken.extend(first_broken(conn, key, chain)?);
    }
    let problems = problems(conn, key)?;
    Ok(Verification { rows: rows_total, first_broken: broken.into_iter().min(), problems })
}

impl Store {
    /// Appends one row in its own transaction.
    pub fn audit(
        &mut self,
        chain: Chain,
        at: i64,
        kind: AuditKind,
        subject: &str,
        detail: &str,
    ) -> Result<()> {
        let key = self.audit_key.clone();
        self.transaction(|tx| append(tx, &key, chain, at, kind, subject, detail))
    }

    pub(crate) fn audit_key(&self) -> &Key {
        &self.audit_key
    }

    /// Checks both chains, the checkpoints and the head.
    pub fn verify_audit(&self) -> Result<Verification> {
        verify(&self.conn, &self.audit_key)
    }

    /// Audit rows, oldest first, optionally only since `since`.
    pub fn audit_entries(&self, since: Option<i64>) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, chain, at, kind, subject, detail FROM audit WHERE at >= ?1 ORDER BY id",
        )?;
        let entries =
            stmt.query_map([since.unwrap_or(i64::MIN)], entry)?.collect::<rusqlite::Result<_>>()?;
        Ok(entries)
    }

    /// How many access rows [`Store::prune_access_log`] would remove for `before`.
    pub(crate) fn access_rows_before(&self, before: i64) -> Result<usize> {
        Ok(rows(&self.conn, Chain::Access)?.iter().take_while(|(e, _)| e.at < before).count())
    }

    /// Removes access rows older than `before` (the oldest run of the access chain), keeping a
    /// MACed checkpoint so the rest still verifies, and audits the pruning on the admin chain.
    /// Returns how many rows went.
    pub(crate) fn prune_access_log(&mut self, before: i64, now: i64) -> Result<usize> {
        let key = self.audit_key.clone();
        self.transaction(|tx| {
            let old: Vec<(i64, Vec<u8>)> = rows(tx, Chain::Access)?
                .into_iter()
                .take_while(|(e, _)| e.at < before)
                .map(|(e, mac)| (e.id, mac))
                .collect();
            let Some((last_id, last_mac)) = old.last().cloned() else { return Ok(0) };
            tx.execute("DELETE FROM audit WHERE chain = 'access' AND id <= ?1", [last_id])?;
            let point = Checkpoint::sealed(&key, Chain::Access, last_id, last_mac, before);
            tx.execute(
                "INSERT INTO audit_checkpoints (chain, last_id, last_mac, at, mac) VALUES ('access', ?1, ?2, ?3, ?4)
                 ON CONFLICT(chain) DO UPDATE SET last_id = excluded.last_id, last_mac = excluded.last_mac,
                 at = excluded.at, mac = excluded.mac",
                params![point.last_id, point.last_mac, point.at, point.mac],
            )?;
            let detail = format!("{} access rows up to row {last_id}", old.len());
            append(tx, &key, Chain::Admin, now, AuditKind::AccessPruned, "site", &detail)?;
            Ok(old.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KEY_LEN, SiteKey};

    fn store() -> Store {
        Store::in_memory(&SiteKey::from_bytes([9; KEY_LEN])).unwrap()
    }

    #[test]
    fn chain_verifies_and_a_hand_edit_is_found_at_its_row() {
        let mut s = store();
        for i in 0..5 {
            s.audit(
                Chain::Access,
                100 + i,
                AuditKind::AccessGranted,
                &format!("resident#{i}"),
                "pin",
            )
            .unwrap();
            s.audit(Chain::Admin, 100 + i, AuditKind::ResidentAdded, &format!("resident#{i}"), "")
                .unwrap();
        }
        assert!(s.verify_audit().unwrap().intact());
        assert_eq!(s.verify_audit().unwrap().rows, 10);
        s.conn.execute("UPDATE audit SET detail = 'face' WHERE id = 5", []).unwrap();
        assert_eq!(s.verify_audit().unwrap().first_broken, Some(5));
    }

    #[test]
    fn every_kind_reads_back_from_its_text() {
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(AuditKind::parse("access granted"), None);
    }

    #[test]
    fn a_deleted_row_breaks_the_next_one() {
        let mut s = store();
        for i in 0..4 {
            s.audit(Chain::Admin, i, AuditKind::Purge, "site", "").unwrap();
        }
        s.conn.execute("DELETE FROM audit WHERE id = 2", []).unwrap();
        assert_eq!(s.verify_audit().unwrap().first_broken, Some(3));
    }

    #[test]
    fn pruning_keeps_the_chain_verifiable_and_admin_rows() {
        let mut s = store();
        for day in 0..10 {
            s.audit(Chain::Access, day * 86_400, AuditKind::AccessDenied, "terminal", "pin")
                .unwrap();
            s.audit(Chain::Admin, day * 86_400, AuditKind::TemplateDeleted, "resident#1", "")
                .unwrap();
        }
        assert_eq!(s.prune_access_log(5 * 86_400, 11 * 86_400).unwrap(), 5);
        let after = s.verify_audit().unwrap();
        assert!(after.intact(), "{after:?}");
        assert_eq!(after.rows, 16, "15 kept and the pruning itself");
        s.audit(Chain::Access, 11 * 86_400, AuditKind::AccessGranted, "resident#1", "card")
            .unwrap();
        assert_eq!(s.verify_audit().unwrap().first_broken, None);
        assert_eq!(s.prune_access_log(5 * 86_400, 11 * 86_400).unwrap(), 0);
    }
}
