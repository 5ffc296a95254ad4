//! A door's commands from its site (remote unlock, a card enrolled by a tap, a lockout lifted),
//! as its sync agent keeps them and its gate executes them: each id at most once, and only until
//! its expiry by the door's clock. A command kept again (a reconnect, a replayed bucket entry) is
//! the same row and never opens the door twice, reads a second card nor lifts a lockout again. Executing marks the row, audits
//! it and queues the report for the site in one transaction, before the strike is pulsed. A
//! card enrolment is taken as `waiting` and finished by the gate ([`Store::finish_card_tap`])
//! with the tapped card's keyed index, or with none when the time ran out.

use rusqlite::params;

use super::audit::{AuditKind, Chain, append};
use super::replica::queue;
use super::{Result, Store};
use crate::credentials::CardUid;
use crate::credentials::lockout::resident_key;
use crate::site::commands::{CommandKind, CommandOutcome, CommandReport, DoorCommand, short};
use crate::site::outbox::OutboxKind;

impl Store {
    /// Keeps commands for this door (ids already kept are left as they are); returns how many
    /// were new.
    pub fn receive_commands(&mut self, commands: &[DoorCommand]) -> Result<usize> {
        if commands.is_empty() {
            return Ok(0);
        }
        self.transaction(|tx| {
            let mut added = 0;
            for command in commands {
                added += tx.execute(
                    "INSERT OR IGNORE INTO door_commands (id, kind, issued_at, expires_at, resident) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![command.id, command.kind.as_str(), command.issued_at, command.expires_at, command.resident],
                )?;
            }
            Ok(added)
        })
    }

    /// Marks every command not yet executed as done at `now` (the door's clock): if it has not
    /// expired an unlock is `Opened`, a lift clears the resident's lockout (`Lifted`, or
    /// `NotLocked` without one), else `Expired`; audits each and queues its report. A card enrolment
    /// in time is marked `waiting` instead, its report left to [`Store::finish_card_tap`].
    /// Returns the commands to carry out now (the caller opens the strike for each `Unlock`,
    /// waits for a card for each `EnrolCard`).
    pub fn take_commands(&mut self, now: i64) -> Result<Vec<DueCommand>> {
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let waiting: Vec<(String, String, i64, Option<String>)> = tx
                .prepare("SELECT id, kind, expires_at, resident FROM door_commands WHERE done_at IS NULL ORDER BY issued_at, id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut due = Vec::new();
            for (id, kind, expires_at, resident) in waiting {
                let kind = CommandKind::parse(&kind);
                let fresh = now <= expires_at;
                if let (true, Some(CommandKind::EnrolCard), Some(number)) = (fresh, kind, &resident) {
                    tx.execute(
                        "UPDATE door_commands SET done_at = ?2, outcome = 'waiting' WHERE id = ?1",
                        params![id, now],
                    )?;
                    let number = number.clone();
                    due.push(DueCommand::EnrolCard { id, number, expires_at });
                    continue;
                }
                let outcome = match (kind, &resident) {
                    _ if !fresh => CommandOutcome::Expired,
                    (Some(CommandKind::Unlock), _) => CommandOutcome::Opened,
                    (Some(CommandKind::LiftLockout), Some(number)) => {
                        match super::lockouts::clear(tx, &resident_key(number))? {
                            true => CommandOutcome::Lifted,
                            false => CommandOutcome::NotLocked,
                        }
                    }
                    _ => CommandOutcome::Expired,
                };
                tx.execute(
                    "UPDATE door_commands SET done_at = ?2, outcome = ?3 WHERE id = ?1",
                    params![id, now, outcome.as_str()],
                )?;
                let detail = format!("command {} {}", short(&id), outcome.as_str());
                let audited = match kind {
                    Some(CommandKind::EnrolCard) => AuditKind::CardTap,
                    Some(CommandKind::LiftLockout) => AuditKind::LockoutLifted,
                    _ => AuditKind::RemoteUnlock,
                };
                append(tx, &key, Chain::Admin, now, audited, "site", &detail)?;
                let report = CommandReport { command: id, at: now, outcome, card: None };
                queue(tx, OutboxKind::Command, &report, now)?;
                if outcome == CommandOutcome::Opened {
                    due.push(DueCommand::Unlock);
                }
            }
            Ok(due)
        })
    }

    /// Ends a waiting card enrolment at `now`: with the card tapped (its keyed index is
    /// reported, never its number) or without one (the time ran out, or it was cancelled).
    /// Audits it and queues the report; a command not waiting is left as it is.
    pub fn finish_card_tap(&mut self, id: &str, card: Option<&CardUid>, now: i64) -> Result<()> {
        let key = self.audit_key().clone();
        let index = card.map(|uid| hex::encode(self.card_index(uid).0));
        let outcome =
            if index.is_some() { CommandOutcome::CardRead } else { CommandOutcome::NoCard };
        self.transaction(|tx| {
            let changed = tx.execute(
                "UPDATE door_commands SET done_at = ?2, outcome = ?3 WHERE id = ?1 AND outcome = 'waiting'",
                params![id, now, outcome.as_str()],
            )?;
            if changed == 1 {
                let detail = format!("command {} {}", short(id), outcome.as_str());
                append(tx, &key, Chain::Admin, now, AuditKind::CardTap, "site", &detail)?;
                let report = CommandReport { command: id.to_owned(), at: now, outcome, card: index };
                queue(tx, OutboxKind::Command, &report, now)?;
            }
            Ok(())
        })
    }
}

/// A command the gate carries out now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DueCommand {
    /// Pulse the strike once.
    Unlock,
    /// Ask for the next card tapped until `expires_at` (the door's clock), for resident `number`.
    EnrolCard { id: String, number: String, expires_at: i64 },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::commands::CommandKind;

    fn command(id: &str, expires_at: i64) -> DoorCommand {
        DoorCommand {
            id: id.repeat(32),
            kind: CommandKind::Unlock,
            door: "north".parse().unwrap(),
            issued_at: expires_at - 20,
            expires_at,
            resident: None,
        }
    }

    #[test]
    fn a_command_opens_once_only_before_its_expiry_and_each_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::site::controller::SiteDir(dir.path().into()).register();
        let mut store = Store::init(&config).unwrap();
        store.join_site(&"oak".parse().unwrap(), &"north".parse().unwrap()).unwrap();
        let (fresh, stale) = (command("a", 120), command("b", 99));
        assert_eq!(store.receive_commands(&[fresh.clone(), stale.clone()]).unwrap(), 2);
        assert_eq!(store.take_commands(100).unwrap(), [DueCommand::Unlock], "only the fresh one");
        assert_eq!(store.receive_commands(std::slice::from_ref(&fresh)).unwrap(), 0, "seen again");
        assert!(store.take_commands(101).unwrap().is_empty(), "never twice");
        let reports: Vec<CommandReport> = store
            .outbox(10)
            .unwrap()
            .into_iter()
            .filter(|row| row.kind == OutboxKind::Command)
            .map(|row| serde_json::from_str(&row.body).unwrap())
            .collect();
        let outcomes: Vec<(&str, CommandOutcome)> =
            reports.iter().map(|r| (&r.command[..1], r.outcome)).collect();
        assert_eq!(outcomes, [("b", CommandOutcome::Expired), ("a", CommandOutcome::Opened)]);
        let audited = store.audit_entries(None).unwrap();
        assert_eq!(audited.iter().filter(|e| e.kind == "remote_unlock").count(), 2);
    }

    #[test]
    fn a_lift_clears_the_residents_lockout_once_only_before_its_expiry_and_the_site_is_told() {
        use crate::credentials::PinConfig;
        use crate::site::outbox::DoorLockout;
        let dir = tempfile::tempdir().unwrap();
        let config = crate::site::controller::SiteDir(dir.path().into()).register();
        let mut store = Store::init(&config).unwrap();
        let new = crate::store::NewResident {
            number: "1201".into(),
            name: "Li".into(),
            unit: "1".into(),
            ..Default::default()
        };
        let resident = store.add_resident(&new, 1, "office").unwrap().id;
        store.join_site(&"oak".parse().unwrap(), &"north".parse().unwrap()).unwrap();
        let key = resident_key("1201");
        let lock = |store: &Store, now| {
            let mut state = store.lockout(&key).unwrap();
            for _ in 0..5 {
                state = state.after_resident_failure(now, &PinConfig::default());
            }
            store.set_lockout(&key, &state).unwrap();
        };
        lock(&store, 90);
        let lift = |id: &str, expires_at| DoorCommand {
            kind: CommandKind::LiftLockout,
            resident: Some("1201".into()),
            ..command(id, expires_at)
        };
        let (stale, fresh) = (lift("b", 99), lift("a", 120));
        store.receive_commands(std::slice::from_ref(&stale)).unwrap();
        assert!(store.take_commands(100).unwrap().is_empty(), "nothing for the gate to do");
        assert!(store.lockout(&key).unwrap().locked_until.is_some(), "a late lift lifts nothing");
        store.receive_commands(std::slice::from_ref(&fresh)).unwrap();
        store.take_commands(100).unwrap();
        assert_eq!(store.lockout(&key).unwrap(), Default::default(), "lifted");
        lock(&store, 101);
        store.receive_commands(&[fresh, stale]).unwrap();
        store.take_commands(102).unwrap();
        assert!(store.lockout(&key).unwrap().locked_until.is_some(), "a replay lifts nothing");

        let rows = store.outbox(20).unwrap();
        let reports: Vec<CommandOutcome> = rows
            .iter()
            .filter(|row| row.kind == OutboxKind::Command)
            .map(|row| serde_json::from_str::<CommandReport>(&row.body).unwrap().outcome)
            .collect();
        assert_eq!(reports, [CommandOutcome::Expired, CommandOutcome::Lifted]);
        let lockouts: Vec<DoorLockout> = rows
            .iter()
            .filter(|row| row.kind == OutboxKind::Lockout)
            .map(|row| serde_json::from_str(&row.body).unwrap())
            .collect();
        let ends: Vec<(i64, u32, Option<i64>)> =
            lockouts.iter().map(|l| (l.resident, l.failures, l.locked_until)).collect();
        assert_eq!(ends, [(resident, 5, Some(120)), (resident, 0, None), (resident, 5, Some(131))]);
        let audited = store.audit_entries(None).unwrap();
        assert_eq!(audited.iter().filter(|e| e.kind == "lockout_lifted").count(), 2, "each once");
    }
}
