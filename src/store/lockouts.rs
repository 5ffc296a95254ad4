//! Lockout records (the state [`crate::credentials::lockout`] computes) and, on a door, their
//! reports to the site: a resident's PIN lockout that starts or grows, and one that ends (a
//! correct PIN, a reset, a lift from the site), each an outbox row ([`DoorLockout`]) in the same
//! transaction as the change. Only numbers of residents this door knows are reported (a guessed
//! number is nobody's lockout); the keypad's own back-off belongs to no resident.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::audit::{AuditKind, Chain};
use super::replica::queue;
use super::{Result, Store, unix_now};
use crate::credentials::LockoutState;
use crate::credentials::lockout::number_of_key;
use crate::site::outbox::{DoorLockout, OutboxKind};

impl Store {
    /// The lockout record of a key (default when none).
    pub fn lockout(&self, key: &str) -> Result<LockoutState> {
        read(&self.conn, key)
    }

    pub(crate) fn set_lockout(&self, key: &str, state: &LockoutState) -> Result<()> {
        let tx = self.write_transaction()?;
        write(&tx, key, state)?;
        tx.commit()?;
        Ok(())
    }

    /// Lifts a lock (`facegate admin unlock`, or after a right PIN); returns whether there was a
    /// record.
    pub fn clear_lockout(&self, key: &str) -> Result<bool> {
        let tx = self.write_transaction()?;
        let cleared = clear(&tx, key)?;
        tx.commit()?;
        Ok(cleared)
    }

    /// A transaction that takes the write lock at once: one that read first and then wrote
    /// would fail at once (`SQLITE_BUSY`, no waiting) if the door's sync agent committed in
    /// between.
    fn write_transaction(&self) -> Result<Transaction<'_>> {
        Ok(Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?)
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
        let detail = format!("by {operator}");
        self.audit(Chain::Admin, now, AuditKind::LockoutLifted, subject, &detail)?;
        Ok(lifted)
    }
}

fn read(conn: &Connection, key: &str) -> Result<LockoutState> {
    Ok(conn
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

/// Stores a key's state; a lock that starts or moves is reported.
fn write(tx: &Transaction, key: &str, state: &LockoutState) -> Result<()> {
    let before = read(tx, key)?;
    tx.execute(
        "INSERT INTO lockouts (key, failures, locked_until, last_failure_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until,
         last_failure_at = excluded.last_failure_at",
        params![key, state.failures, state.locked_until, state.last_failure_at],
    )?;
    if state.locked_until.is_some() && state.locked_until != before.locked_until {
        report(tx, key, Some(state), state.last_failure_at.unwrap_or_else(unix_now))?;
    }
    Ok(())
}

/// Removes a key's record; a lock (even one run out) is reported as ended. Returns whether
/// there was a record.
pub(super) fn clear(tx: &Transaction, key: &str) -> Result<bool> {
    let before = read(tx, key)?;
    let cleared = tx.execute("DELETE FROM lockouts WHERE key = ?1", [key])? > 0;
    if before.locked_until.is_some() {
        report(tx, key, None, unix_now())?;
    }
    Ok(cleared)
}

/// Queues the lockout of a resident key's resident (on a door; nothing elsewhere).
fn report(tx: &Transaction, key: &str, state: Option<&LockoutState>, at: i64) -> Result<()> {
    let Some(number) = number_of_key(key) else { return Ok(()) };
    let id = tx
        .query_row("SELECT id FROM residents WHERE number = ?1", [number], |r| r.get(0))
        .optional()?;
    let Some(resident) = id else { return Ok(()) };
    let lockout = DoorLockout {
        resident,
        failures: state.map_or(0, |s| s.failures),
        locked_until: state.and_then(|s| s.locked_until),
        at,
    };
    queue(tx, OutboxKind::Lockout, &lockout, at)
}
