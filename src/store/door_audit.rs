//! On the site's register: what doors report (access events, alarms, remote-unlock reports) in
//! the register's own chained audit log, each message once. The message id (door, outbox row
//! id) is written in `door_receipts` in the same transaction as the audit row, so a message
//! redelivered after a crash of the site between this commit and `site.db`'s is not audited
//! twice. The receipts are needed only until `site.db` keeps the message; the site forgets them
//! after that ([`Store::forget_door_receipts`]).

use rusqlite::{OptionalExtension, params};

use super::audit::{AuditEntry, AuditKind, Chain, append};
use super::{Result, Store};

/// One door message as the register's audit row records it.
#[derive(Debug, Clone, PartialEq)]
pub struct DoorAudit {
    /// The door the message came from (its subject names it).
    pub door: String,
    /// The door's outbox row id (its message id).
    pub outbox_id: i64,
    pub chain: Chain,
    pub at: i64,
    pub kind: AuditKind,
    pub subject: String,
    pub detail: String,
}

impl Store {
    /// Appends the door message's audit row unless its receipt is there already; returns
    /// whether it did.
    pub fn audit_door_message(&mut self, row: &DoorAudit) -> Result<bool> {
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let seen = tx
                .query_row(
                    "SELECT 1 FROM door_receipts WHERE door = ?1 AND outbox_id = ?2",
                    params![row.door, row.outbox_id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if seen {
                return Ok(false);
            }
            append(tx, &key, row.chain, row.at, row.kind, &row.subject, &row.detail)?;
            tx.execute(
                "INSERT INTO door_receipts (door, outbox_id) VALUES (?1, ?2)",
                params![row.door, row.outbox_id],
            )?;
            Ok(true)
        })
    }

    /// The receipts kept (door, outbox row id).
    pub fn door_receipts(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare("SELECT door, outbox_id FROM door_receipts")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets these receipts (`site.db` keeps their messages).
    pub fn forget_door_receipts(&mut self, receipts: &[(String, i64)]) -> Result<()> {
        self.transaction(|tx| {
            for (door, outbox_id) in receipts {
                tx.execute(
                    "DELETE FROM door_receipts WHERE door = ?1 AND outbox_id = ?2",
                    params![door, outbox_id],
                )?;
            }
            Ok(())
        })
    }
}

impl AuditEntry {
    /// Whether the row names `door` as `door <id>` (whole id) in its subject or detail: a door's
    /// event, alarm or report, a remote unlock, or a door's message the site refused.
    pub fn names_door(&self, door: &str) -> bool {
        let id_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        [&self.subject, &self.detail].into_iter().any(|text| {
            text.match_indices("door ").any(|(at, word)| {
                let starts_word = !text[..at].ends_with(|c: char| c.is_alphanumeric());
                let rest = &text[at + word.len()..];
                let id = &rest[..rest.find(|c| !id_char(c)).unwrap_or(rest.len())];
                starts_word && id == door
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_names_a_door_by_its_whole_id() {
        let row = |subject: &str, detail: &str| AuditEntry {
            id: 1,
            chain: "admin".into(),
            at: 0,
            kind: "row_rejected".into(),
            subject: subject.into(),
            detail: detail.into(),
        };
        assert!(row("resident#1", "door north: card").names_door("north"));
        assert!(row("site", "door north command ab12 opened").names_door("north"));
        assert!(row("door north", "event message dropped").names_door("north"));
        assert!(row("resident#1", "template 3 at door north, booking 2").names_door("north"));
        assert!(!row("resident#1", "door north-2: card").names_door("north"));
        assert!(!row("resident#1", "door north: card").names_door("nort"));
        assert!(!row("resident#1", "outdoor north: card").names_door("north"));
    }
    use crate::keys::{KEY_LEN, SiteKey};

    #[test]
    fn a_door_message_is_audited_once_and_again_after_its_receipt_is_forgotten() {
        let mut store = Store::in_memory(&SiteKey::from_bytes([4; KEY_LEN])).unwrap();
        let row = DoorAudit {
            door: "north".into(),
            outbox_id: 7,
            chain: Chain::Access,
            at: 100,
            kind: AuditKind::AccessGranted,
            subject: "resident#1".into(),
            detail: "door north: card".into(),
        };
        assert!(store.audit_door_message(&row).unwrap());
        assert!(!store.audit_door_message(&row).unwrap(), "a redelivery is not audited");
        let other = DoorAudit { door: "south".into(), ..row.clone() };
        assert!(store.audit_door_message(&other).unwrap(), "another door's row 7 is its own");
        assert_eq!(store.audit_entries(None).unwrap().len(), 2);
        assert!(store.verify_audit().unwrap().intact());
        store.forget_door_receipts(&[("north".into(), 7)]).unwrap();
        assert_eq!(store.door_receipts().unwrap(), [("south".to_owned(), 7)]);
    }
}
