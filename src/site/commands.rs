//! Commands for one door (remote unlock, and a card enrolled by a tap: [`super::card_tap`]),
//! from the console to the door:
//!
//! 1. The console ([`remote_unlock`]) audits the request in the register (account and reason)
//!    and writes a pending command into `site.db`: a random id, an expiry
//!    [`UNLOCK_VALID_SECS`] after the request.
//! 2. `facegate site run` ([`send_pending`], the one writer to the broker) puts it under the
//!    bucket key `c.<door>`; one already past its expiry is never sent.
//! 3. The door's `facegate sync` keeps it in the door's database ([`command_of_entry`],
//!    `Store::receive_commands`); the gate, noticing the change, opens the strike once if the
//!    command has not expired by the door's clock and its id was never executed there, audits
//!    it and reports it through the outbox ([`CommandReport`], kind `command`).
//! 4. The site's consumer records the report ([`apply_report`]) in `site.db` and the register's
//!    audit ([`super::door_log`]).
//!
//! The reason stays on the site: the door gets only the id, the kind and the times.

use async_nats::jetstream::kv;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::site_db::{Result as DbResult, SiteDb, SiteDbError};
use super::{DoorId, SiteError};
use crate::store::{AuditKind, Chain, Store};

/// How long a remote unlock stays valid after the manager asked for it: a door that gets it
/// later (cut off, or the controller was down) does not open.
pub const UNLOCK_VALID_SECS: i64 = 20;
/// The longest reason kept.
pub const MAX_REASON_CHARS: usize = 200;
/// How often `site run` looks for pending commands.
const POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// What a command asks of a door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// Open the strike for one pulse.
    Unlock,
    /// Read the next card tapped before the expiry and report its keyed index, for the
    /// command's resident (the site adds the card).
    EnrolCard,
    /// Clear the command's resident's PIN lockout at the door ([`super::lockouts`]).
    LiftLockout,
}

impl CommandKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unlock => "unlock",
            Self::EnrolCard => "enrol_card",
            Self::LiftLockout => "lift_lockout",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Unlock, Self::EnrolCard, Self::LiftLockout]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// A command as it travels under `c.<door>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorCommand {
    /// 32 hex digits from the OS random source; a door executes one id at most once.
    pub id: String,
    pub kind: CommandKind,
    pub door: DoorId,
    /// Unix seconds on the site's clock.
    pub issued_at: i64,
    /// The door executes it only while its own clock is at or before this.
    pub expires_at: i64,
    /// [`CommandKind::EnrolCard`]: the resident number the card is for (the door shows it);
    /// [`CommandKind::LiftLockout`]: the resident number whose lockout goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident: Option<String>,
}

/// What became of a command at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandOutcome {
    /// The strike was opened for one pulse.
    Opened,
    /// It arrived after its expiry: the door stayed locked (or read no card).
    Expired,
    /// A card was tapped in time; the report carries its keyed index.
    CardRead,
    /// No card was tapped before the expiry, or the wait was cancelled at the door.
    NoCard,
    /// The resident's lockout (and the count of wrong PINs) was cleared.
    Lifted,
    /// The resident had no lockout record at the door: nothing to clear.
    NotLocked,
}

impl CommandOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Expired => "expired",
            Self::CardRead => "card read",
            Self::NoCard => "no card",
            Self::Lifted => "lifted",
            Self::NotLocked => "not locked",
        }
    }
}

/// A door's report of a command (outbox kind `command`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandReport {
    pub command: String,
    pub at: i64,
    pub outcome: CommandOutcome,
    /// [`CommandOutcome::CardRead`]: the card's keyed index (hex), never its number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
}

/// The bucket key of a door's commands.
pub fn key(door: &DoorId) -> String {
    format!("c.{door}")
}

/// The command in a bucket entry, when it is a put under this door's key.
pub fn command_of_entry(entry: &kv::Entry, door: &DoorId) -> Option<DoorCommand> {
    if entry.operation != kv::Operation::Put || entry.key != key(door) {
        return None;
    }
    match serde_json::from_slice::<DoorCommand>(&entry.value) {
        Ok(command) if command.door == *door => Some(command),
        Ok(_) => None,
        Err(err) => {
            tracing::warn!(key = %entry.key, %err, "unreadable door command: ignored");
            None
        }
    }
}

/// The commands' table in `site.db`.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS door_commands (
    id          TEXT PRIMARY KEY,
    door        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    operator    TEXT NOT NULL,
    sent_at     INTEGER,                      -- put under c.<door>
    outcome     TEXT,                         -- the door's `CommandOutcome` | 'not sent'
    reported_at INTEGER
);
CREATE INDEX IF NOT EXISTS door_commands_pending ON door_commands(sent_at) WHERE sent_at IS NULL AND outcome IS NULL;
";

/// A command as the site keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentCommand {
    pub command: DoorCommand,
    pub operator: String,
    pub sent_at: Option<i64>,
    /// `opened`, `expired` (the door's report) or `not sent` (expired before `site run` sent it).
    pub outcome: Option<String>,
    pub reported_at: Option<i64>,
}

/// Why a remote unlock was refused.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("a remote unlock needs a reason")]
    NoReason,
    #[error("the reason is longer than {MAX_REASON_CHARS} characters")]
    LongReason,
    #[error(transparent)]
    SiteDb(#[from] SiteDbError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the OS random source failed: {0}")]
    Random(String),
}

/// Asks `door` to unlock once: audits the request in the register with `operator` and the
/// reason, then queues the command in `site.db` for `site run`. The reason is required.
pub fn remote_unlock(
    site_db: &SiteDb,
    register: &mut Store,
    door: &DoorId,
    reason: &str,
    operator: &str,
    now: i64,
) -> Result<DoorCommand, CommandError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(CommandError::NoReason);
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(CommandError::LongReason);
    }
    if !site_db.has_door(door)? {
        return Err(SiteDbError::UnknownDoor(door.clone()).into());
    }
    let command = DoorCommand {
        id: new_id()?,
        kind: CommandKind::Unlock,
        door: door.clone(),
        issued_at: now,
        expires_at: now + UNLOCK_VALID_SECS,
        resident: None,
    };
    let detail = format!("door {door} command {} by {operator}: {reason}", short(&command.id));
    // Audited first: a request that fails to queue is on record, no unlock goes unrecorded.
    register.audit(Chain::Admin, now, AuditKind::RemoteUnlockRequested, "site", &detail)?;
    site_db.add_command(&command, operator)?;
    Ok(command)
}

/// The first 8 hex digits of a command id, as the audit and the pages show it.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

pub(super) fn new_id() -> Result<String, CommandError> {
    use rand::TryRng;
    let mut bytes = [0u8; 16];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| CommandError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// `site run`: puts pending commands under their door's key until the broker fails. A command
/// already expired is marked `not sent` instead; one put twice (a crash before it was marked)
/// is harmless, a door executes an id once.
pub async fn send_pending(site_db: &mut SiteDb, kv: &kv::Store) -> Result<(), SiteError> {
    loop {
        let now = crate::store::unix_now();
        for command in site_db.pending_commands()? {
            if command.expires_at < now {
                site_db.command_not_sent(&command.id)?;
                continue;
            }
            let json =
                serde_json::to_vec(&command).map_err(|e| SiteError::Invalid(e.to_string()))?;
            kv.put(key(&command.door), json.into())
                .await
                .map_err(SiteError::broker("put a door command"))?;
            site_db.command_sent(&command.id, crate::store::unix_now())?;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The site's consumer: a door's report of a command, kept once in `site.db` (the consumer
/// audits a remote unlock's in the register, [`super::door_log`]; a card tap's adds the card and
/// is audited by [`super::card_tap::apply`]). Returns what `site.db` keeps of the message.
pub fn apply_report(
    register: &mut Store,
    site_db: &SiteDb,
    door: &DoorId,
    body: &str,
) -> Result<String, SiteError> {
    let report: CommandReport = serde_json::from_str(body)
        .map_err(|e| SiteError::Invalid(format!("unreadable command report: {e}")))?;
    let outcome = report.outcome.as_str();
    let mut detail = format!("door {door} command {} {outcome}", short(&report.command));
    let sent = site_db.command(&report.command)?.map(|c| c.command);
    let for_door = sent.as_ref().filter(|c| &c.door == door);
    if let Some(DoorCommand { kind: CommandKind::LiftLockout, resident: Some(number), .. }) =
        for_door
    {
        let subject =
            register.resident(number).map_or_else(|_| "resident (removed)".into(), |r| r.subject());
        detail = format!("{detail} for {subject}");
    }
    // A tap's card first, then the mark: a crash between the two applies it again (idempotent).
    if for_door.map(|c| c.kind) == Some(CommandKind::EnrolCard) {
        detail = super::card_tap::apply(register, site_db, door, &report)?;
    }
    site_db.command_reported(&report.command, door, outcome, report.at)?;
    Ok(detail)
}

/// The audit kind of a door's report of a command: a lift's is `lockout_lifted`, an unlock's
/// `remote_unlock`.
pub(super) fn audit_kind(site_db: &SiteDb, report: &CommandReport) -> DbResult<AuditKind> {
    let kind = site_db.command(&report.command)?.map(|c| c.command.kind);
    Ok(match kind {
        Some(CommandKind::LiftLockout) => AuditKind::LockoutLifted,
        _ => AuditKind::RemoteUnlock,
    })
}

impl SiteDb {
    pub(super) fn add_command(&self, command: &DoorCommand, operator: &str) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO door_commands (id, door, kind, issued_at, expires_at, operator) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                command.id,
                command.door.as_str(),
                command.kind.as_str(),
                command.issued_at,
                command.expires_at,
                operator
            ],
        )?;
        Ok(())
    }

    /// Commands not sent yet, oldest first.
    pub fn pending_commands(&self) -> DbResult<Vec<DoorCommand>> {
        Ok(self
            .commands_where("sent_at IS NULL AND outcome IS NULL ORDER BY issued_at, id", [])?
            .into_iter()
            .map(|c| c.command)
            .collect())
    }

    /// A door's latest commands, newest first.
    pub fn recent_commands(&self, door: &DoorId, limit: usize) -> DbResult<Vec<SentCommand>> {
        self.commands_where(
            "door = ?1 ORDER BY issued_at DESC, id LIMIT ?2",
            params![door.as_str(), limit as i64],
        )
    }

    /// One command by id.
    pub fn command(&self, id: &str) -> DbResult<Option<SentCommand>> {
        Ok(self.commands_where("id = ?1", [id])?.into_iter().next())
    }

    fn commands_where(
        &self,
        condition: &str,
        values: impl rusqlite::Params,
    ) -> DbResult<Vec<SentCommand>> {
        let sql = format!(
            "SELECT id, door, kind, issued_at, expires_at, operator, sent_at, outcome, reported_at,
                    COALESCE(t.resident, l.resident)
             FROM door_commands LEFT JOIN card_taps t ON t.command = id
                  LEFT JOIN lockout_lifts l ON l.command = id
             WHERE {condition}"
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt
            .query_map(values, |r| {
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                    (r.get(3)?, r.get(4)?, r.get(5)?),
                    (r.get(6)?, r.get(7)?, r.get(8)?),
                    r.get(9)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(
                |(
                    (id, door, kind),
                    (issued_at, expires_at, operator),
                    (sent_at, outcome, reported_at),
                    resident,
                )| {
                    let command = DoorCommand {
                        id,
                        kind: CommandKind::parse(&kind)?,
                        door: door.parse().ok()?,
                        issued_at,
                        expires_at,
                        resident,
                    };
                    Some(SentCommand { command, operator, sent_at, outcome, reported_at })
                },
            )
            .collect())
    }

    fn command_sent(&self, id: &str, now: i64) -> DbResult<()> {
        self.conn()
            .execute("UPDATE door_commands SET sent_at = ?2 WHERE id = ?1", params![id, now])?;
        Ok(())
    }

    fn command_not_sent(&self, id: &str) -> DbResult<()> {
        self.conn().execute("UPDATE door_commands SET outcome = 'not sent' WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Records a door's report of its own command; false if it was recorded already (or the
    /// command is not this door's).
    fn command_reported(&self, id: &str, door: &DoorId, outcome: &str, at: i64) -> DbResult<bool> {
        let changed = self.conn().execute(
            "UPDATE door_commands SET outcome = ?3, reported_at = ?4
             WHERE id = ?1 AND door = ?2 AND reported_at IS NULL",
            params![id, door.as_str(), outcome, at],
        )?;
        Ok(changed == 1)
    }

    /// Whether a command with this id exists (for tests and the doors page).
    pub fn has_command(&self, id: &str) -> DbResult<bool> {
        Ok(self
            .conn()
            .query_row("SELECT 1 FROM door_commands WHERE id = ?1", [id], |_| Ok(()))
            .optional()?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_unlock_needs_a_reason_and_a_known_door_and_is_audited_before_it_is_queued() {
        let dir = tempfile::tempdir().unwrap();
        let site_db = SiteDb::create(&dir.path().join("site.db")).unwrap();
        let mut register =
            Store::init(&super::super::controller::SiteDir(dir.path().into()).register()).unwrap();
        let north: DoorId = "north".parse().unwrap();
        site_db.add_door(&north, "$2b$hash", 1).unwrap();
        for reason in ["", "   "] {
            let refused = remote_unlock(&site_db, &mut register, &north, reason, "wang", 10);
            assert!(matches!(refused, Err(CommandError::NoReason)), "{reason:?}");
        }
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        assert!(matches!(
            remote_unlock(&site_db, &mut register, &north, &long, "wang", 10),
            Err(CommandError::LongReason)
        ));
        let south: DoorId = "south".parse().unwrap();
        assert!(remote_unlock(&site_db, &mut register, &south, "plumber", "wang", 10).is_err());
        assert!(site_db.pending_commands().unwrap().is_empty(), "nothing refused is queued");

        let command =
            remote_unlock(&site_db, &mut register, &north, " plumber ", "wang", 10).unwrap();
        assert_eq!(command.expires_at, 10 + UNLOCK_VALID_SECS);
        assert_eq!(command.id.len(), 32);
        assert_eq!(site_db.pending_commands().unwrap(), std::slice::from_ref(&command));
        let audit = register.audit_entries(None).unwrap();
        let row = audit.iter().find(|e| e.kind == "remote_unlock_requested").unwrap();
        assert!(row.detail.contains("by wang: plumber") && row.detail.contains("door north"));

        site_db.command_sent(&command.id, 11).unwrap();
        assert!(site_db.pending_commands().unwrap().is_empty());
        assert!(site_db.command_reported(&command.id, &north, "opened", 12).unwrap());
        assert!(!site_db.command_reported(&command.id, &north, "opened", 13).unwrap(), "once");
        assert!(!site_db.command_reported(&command.id, &south, "opened", 13).unwrap());
        let kept = site_db.command(&command.id).unwrap().unwrap();
        assert_eq!((kept.outcome.as_deref(), kept.reported_at), (Some("opened"), Some(12)));
    }
}
