//! What doors report, in the register's chained audit log, and the pruning of `site.db`'s
//! `door_messages`.
//!
//! Each access event, alarm and report of a remote unlock or a lockout lift a door sends becomes
//! one row of the register's audit log (see [`crate::store::door_audit`]): events on the access
//! chain (pruned with the register's access log), alarms and command reports on the admin chain. The
//! row holds what the door sent (its kind, its pseudonymous subject `resident#<id>`, its
//! detail) after `door <id>: `, so the console can filter it by door, and `audit verify`
//! covers it. A pass use is the exception: its own `pass_used` message is audited already.
//!
//! `door_messages` keeps every message a door sent, which makes redelivery harmless. Rows
//! received more than `door_message_days` ago go; for each door the highest outbox id that
//! went is kept as its *floor*: a message at or below it counts as kept. A door sends its
//! outbox oldest first and stops at the first failure, so a message older than a kept one
//! arrives only within the broker's retry (minutes, not the days of the retention).

use rusqlite::OptionalExtension;

use super::commands::CommandReport;
use super::outbox::{DoorEvent, OutboxKind};
use super::site_db::{DoorMessage, Result as DbResult, SiteDb};
use super::{DoorId, SiteError};
use crate::store::{AuditKind, Chain, DoorAudit, Store};

/// `site.db`'s table of floors (made with the others when it opens).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS door_message_floors (
    door      TEXT PRIMARY KEY,
    outbox_id INTEGER NOT NULL               -- the highest outbox id pruned from door_messages
);
";

/// Adds a door message to the register's audit log, once per (door, outbox id): `message` as
/// the site keeps it (its detail what the consumer made of it, its time capped at the site's
/// clock), `body` as the door sent it.
pub fn audit(
    register: &mut Store,
    site_db: &SiteDb,
    message: &DoorMessage,
    body: &str,
) -> Result<(), SiteError> {
    let DoorMessage { door, outbox_id, kind, at, detail } = message;
    let (kind, outbox_id, at) = (*kind, *outbox_id, *at);
    let row = match kind {
        OutboxKind::Event | OutboxKind::Alarm => {
            let Ok(event) = serde_json::from_str::<DoorEvent>(body) else { return Ok(()) };
            if event.kind == AuditKind::VisitorPassUsed.as_str() {
                return Ok(()); // the `pass_used` message audits it (`Store::record_pass_use`)
            }
            let chain = if kind == OutboxKind::Event { Chain::Access } else { Chain::Admin };
            let (kind, detail) = match AuditKind::parse(&event.kind) {
                Some(kind) => (kind, format!("door {door}: {}", event.detail)),
                None => (AuditKind::RowRejected, format!("door {door}: unknown kind of event")),
            };
            (chain, kind, event.subject, detail)
        }
        OutboxKind::Command => {
            let Ok(report) = serde_json::from_str::<CommandReport>(body) else { return Ok(()) };
            let kind = super::commands::audit_kind(site_db, &report)?;
            (Chain::Admin, kind, "site".to_owned(), detail.to_owned())
        }
        _ => return Ok(()),
    };
    let (chain, kind, subject, detail) = row;
    let row = DoorAudit { door: door.to_string(), outbox_id, chain, at, kind, subject, detail };
    register.audit_door_message(&row)?;
    Ok(())
}

/// Prunes `door_messages` received before `before`, then forgets the register's receipts of
/// messages `site.db` keeps. Returns how many messages went.
pub fn prune(register: &mut Store, site_db: &mut SiteDb, before: i64) -> Result<usize, SiteError> {
    let pruned = site_db.prune_messages(before)?;
    let mut kept = Vec::new();
    for (door, outbox_id) in register.door_receipts()? {
        let Ok(id) = door.parse::<DoorId>() else { continue };
        if site_db.has_message(&id, outbox_id)? {
            kept.push((door, outbox_id));
        }
    }
    register.forget_door_receipts(&kept)?;
    Ok(pruned)
}

impl SiteDb {
    /// Removes the messages received before `before`, raising each door's floor to the
    /// highest outbox id removed. Returns how many went.
    pub fn prune_messages(&mut self, before: i64) -> DbResult<usize> {
        let tx = rusqlite::Transaction::new_unchecked(
            self.conn(),
            rusqlite::TransactionBehavior::Immediate,
        )?;
        tx.execute(
            "INSERT INTO door_message_floors (door, outbox_id)
             SELECT door, MAX(outbox_id) FROM door_messages WHERE received_at < ?1 GROUP BY door
             ON CONFLICT(door) DO UPDATE SET outbox_id = MAX(outbox_id, excluded.outbox_id)",
            [before],
        )?;
        let pruned = tx.execute("DELETE FROM door_messages WHERE received_at < ?1", [before])?;
        tx.commit()?;
        Ok(pruned)
    }

    /// Whether this message is at or below its door's floor (kept once, since pruned).
    pub(super) fn below_floor(&self, door: &DoorId, outbox_id: i64) -> DbResult<bool> {
        let floor: Option<i64> = self
            .conn()
            .query_row(
                "SELECT outbox_id FROM door_message_floors WHERE door = ?1",
                [door.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(floor.is_some_and(|floor| outbox_id <= floor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruned_messages_still_count_as_kept_and_newer_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = SiteDb::create(&dir.path().join("site.db")).unwrap();
        let door: DoorId = "north".parse().unwrap();
        db.add_door(&door, "$2b$hash", 1).unwrap();
        for (outbox_id, received) in [(10, 100), (11, 200), (12, 300)] {
            let message = DoorMessage {
                door: door.clone(),
                outbox_id,
                kind: OutboxKind::Event,
                at: received,
                detail: "access_granted resident#1 card".into(),
            };
            db.keep_message(&message, received).unwrap();
        }
        assert_eq!(db.prune_messages(250).unwrap(), 2);
        assert_eq!(db.messages(None).unwrap().len(), 1, "the newest is kept");
        for outbox_id in [10, 11, 12] {
            assert!(db.has_message(&door, outbox_id).unwrap(), "{outbox_id} counts as kept");
        }
        assert!(!db.has_message(&door, 13).unwrap());
        assert_eq!(db.prune_messages(150).unwrap(), 0);
        assert!(db.has_message(&door, 11).unwrap(), "a later prune never lowers the floor");
        let other: DoorId = "south".parse().unwrap();
        assert!(!db.has_message(&other, 10).unwrap(), "floors are per door");
    }
}
