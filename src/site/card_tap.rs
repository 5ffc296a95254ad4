//! A card added by a tap at a chosen door (issue 18), a door command like remote unlock
//! ([`super::commands`]):
//!
//! 1. The console ([`request`]) audits the request with the account, keeps the resident number
//!    in `site.db` and queues a [`CommandKind::EnrolCard`] command for the door, valid
//!    [`TAP_WINDOW_SECS`].
//! 2. The door's gate asks for the card ("tap the new card for resident R") until the expiry
//!    by its clock, and reports the card's keyed index, never its number (or that no card came).
//! 3. The site's consumer ([`apply`]) adds the card to the resident in the register, as the
//!    account that asked, once per command; publishing then takes it to every door.
//!
//! A replayed command is one id: the door reads at most one card for it, and the site applies
//! at most one report.

use rusqlite::{OptionalExtension, params};

use super::commands::{CommandError, CommandKind, CommandOutcome, CommandReport, DoorCommand};
use super::commands::{new_id, short};
use super::site_db::{Result as DbResult, SiteDb, SiteDbError};
use super::{DoorId, SiteError};
use crate::credentials::CardIndex;
use crate::store::{AuditKind, Chain, Store, StoreError};

/// How long the door waits for the card after the request.
pub const TAP_WINDOW_SECS: i64 = 60;
/// After the window, how long the console still waits for the door's report before it says
/// that the time ran out (a door that is offline never reports).
const REPORT_GRACE_SECS: i64 = 15;

/// The tap requests' table in `site.db` (one row per [`CommandKind::EnrolCard`] command).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS card_taps (
    command  TEXT PRIMARY KEY,                -- door_commands.id
    resident TEXT NOT NULL,                   -- the resident number
    result   TEXT,                            -- 'added' | 'taken' | 'no card' | 'expired' | 'unknown resident'
    card_id  INTEGER                          -- the register's card, once added
);
";

/// Asks `door` to read the next card tapped within [`TAP_WINDOW_SECS`] for resident `number`:
/// audited in the register with `operator`, then queued in `site.db` for `site run`.
pub fn request(
    site_db: &SiteDb,
    register: &mut Store,
    door: &DoorId,
    number: &str,
    operator: &str,
    now: i64,
) -> Result<DoorCommand, CommandError> {
    let resident = register.resident(number)?;
    if !site_db.has_door(door)? {
        return Err(SiteDbError::UnknownDoor(door.clone()).into());
    }
    let command = DoorCommand {
        id: new_id()?,
        kind: CommandKind::EnrolCard,
        door: door.clone(),
        issued_at: now,
        expires_at: now + TAP_WINDOW_SECS,
        resident: Some(resident.number.clone()),
    };
    let detail = format!("door {door} command {} by {operator}", short(&command.id));
    register.audit(Chain::Admin, now, AuditKind::CardTapRequested, &resident.subject(), &detail)?;
    // The resident first: a command is pending only once it is complete.
    site_db
        .conn()
        .execute(
            "INSERT INTO card_taps (command, resident) VALUES (?1, ?2)",
            params![command.id, resident.number],
        )
        .map_err(SiteDbError::from)?;
    site_db.add_command(&command, operator)?;
    Ok(command)
}

/// The site's consumer: a door's report of a tap request. Adds the card to the resident as the
/// account that asked; returns what `site.db` keeps of it. Applied before the report is marked
/// in `site.db`, so a crash in between makes the redelivery apply it again: a result already
/// kept is kept, and the card this request added is found as added (not as someone else's).
pub(super) fn apply(
    register: &mut Store,
    site_db: &SiteDb,
    door: &DoorId,
    report: &CommandReport,
) -> Result<String, SiteError> {
    let asked = site_db.command(&report.command)?;
    let tap = site_db.tap_resident(&report.command)?;
    let (Some(asked), Some(number)) = (asked, tap) else {
        return Err(SiteError::Invalid(format!("no tap request {}", short(&report.command))));
    };
    if let Some(result) = site_db.tap_result(&report.command)? {
        return Ok(format!("door {door} command {} {result}", short(&report.command)));
    }
    let index = report.card.as_deref().and_then(|hex| {
        let bytes: [u8; 32] = hex::decode(hex).ok()?.try_into().ok()?;
        Some(CardIndex(bytes))
    });
    let (result, card) = match (report.outcome, index) {
        (CommandOutcome::CardRead, Some(index)) => {
            let label = format!("tapped at {door}");
            let operator = format!("{} (tap at {door})", asked.operator);
            match register.add_card_by_index(&number, index, &label, report.at, &operator) {
                Ok(card) => ("added", Some(card)),
                // The card this very report added before a crash: the same resident, label
                // and time.
                Err(StoreError::CardTaken) => match register.card_with_index(&index)? {
                    Some((card, holder, added_as, at))
                        if (added_as.as_str(), at) == (label.as_str(), report.at)
                            && register.resident(&number).is_ok_and(|r| r.id == holder) =>
                    {
                        ("added", Some(card))
                    }
                    _ => ("taken", None),
                },
                Err(StoreError::UnknownResident(_)) => ("unknown resident", None),
                Err(err) => return Err(err.into()),
            }
        }
        (CommandOutcome::CardRead, None) => {
            return Err(SiteError::Invalid("a card report without its index".into()));
        }
        (CommandOutcome::NoCard, _) => ("no card", None),
        _ => ("expired", None),
    };
    site_db
        .conn()
        .execute(
            "UPDATE card_taps SET result = ?2, card_id = ?3 WHERE command = ?1",
            params![report.command, result, card],
        )
        .map_err(SiteDbError::from)?;
    let detail = format!("door {door} command {} {result}", short(&report.command));
    // A resident removed since the request has no subject left: never the number itself.
    let subject =
        register.resident(&number).map_or_else(|_| "resident (removed)".into(), |r| r.subject());
    register.audit(Chain::Admin, report.at, AuditKind::CardTap, &subject, &detail)?;
    Ok(detail)
}

/// Whether a door's command report answers a tap request (which [`apply`] audits itself, with
/// the resident, so the consumer's door log leaves it out).
pub(super) fn answers_tap(site_db: &SiteDb, body: &str) -> Result<bool, SiteError> {
    let Ok(report) = serde_json::from_str::<CommandReport>(body) else { return Ok(false) };
    Ok(site_db.tap_resident(&report.command)?.is_some())
}

/// Where a tap request stands, for the console's waiting page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapState {
    /// The door is waiting for the card until this time (the site's clock).
    Waiting { until: i64 },
    /// The card was added to the resident.
    Added,
    /// The card tapped belongs to someone already: nothing was added.
    Taken,
    /// No card came in time (or the door never got the request): nothing was added.
    TimedOut,
    /// The door has not answered since the window closed (offline?): a card tapped there in
    /// time is added when its report arrives.
    NoAnswer,
}

/// A tap request as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapRequest {
    pub door: DoorId,
    pub resident: String,
    pub state: TapState,
}

/// The tap request `id`, as it stands at `now`.
pub fn tap_request(site_db: &SiteDb, id: &str, now: i64) -> DbResult<Option<TapRequest>> {
    let Some(sent) = site_db.command(id)? else { return Ok(None) };
    let Some(resident) = sent.command.resident.clone() else { return Ok(None) };
    let result = site_db.tap_result(id)?;
    let until = sent.command.expires_at;
    let state = match result.as_deref() {
        Some("added") => TapState::Added,
        Some("taken") => TapState::Taken,
        Some(_) => TapState::TimedOut,
        None if sent.outcome.as_deref() == Some("not sent") => TapState::TimedOut,
        None if now > until + REPORT_GRACE_SECS => TapState::NoAnswer,
        None => TapState::Waiting { until },
    };
    Ok(Some(TapRequest { door: sent.command.door, resident, state }))
}

impl SiteDb {
    fn tap_result(&self, command: &str) -> DbResult<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT result FROM card_taps WHERE command = ?1", [command], |r| r.get(0))
            .optional()?
            .flatten())
    }

    fn tap_resident(&self, command: &str) -> DbResult<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT resident FROM card_taps WHERE command = ?1", [command], |r| r.get(0))
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::commands::apply_report;
    use crate::store::NewResident;

    /// A site with resident 1203 and doors north and south.
    fn site() -> (tempfile::TempDir, SiteDb, Store, DoorId, DoorId) {
        let dir = tempfile::tempdir().unwrap();
        let site_dir = super::super::controller::SiteDir(dir.path().into());
        let site_db = SiteDb::create(&site_dir.site_db_path()).unwrap();
        let mut register = Store::init(&site_dir.register()).unwrap();
        let new = NewResident { number: "1203".into(), name: "n".into(), ..Default::default() };
        register.add_resident(&new, 1, "wang").unwrap();
        let (north, south): (DoorId, DoorId) = ("north".parse().unwrap(), "south".parse().unwrap());
        site_db.add_door(&north, "$2b$h", 1).unwrap();
        site_db.add_door(&south, "$2b$h", 1).unwrap();
        (dir, site_db, register, north, south)
    }

    #[test]
    fn a_tap_report_applied_again_after_a_crash_adds_the_card_once_and_says_added() {
        let (_dir, site_db, mut register, north, south) = site();
        let command = request(&site_db, &mut register, &north, "1203", "wang", 10).unwrap();
        let report = CommandReport {
            command: command.id.clone(),
            at: 20,
            outcome: CommandOutcome::CardRead,
            card: Some(hex::encode([9u8; 32])),
        };
        let body = serde_json::to_string(&report).unwrap();

        assert!(apply_report(&mut register, &site_db, &south, &body).is_ok());
        assert_eq!(site_db.tap_result(&command.id).unwrap(), None, "another door's report");
        // The crash: the card is in the register, neither the result nor the mark in site.db.
        apply(&mut register, &site_db, &north, &report).unwrap();
        site_db.conn().execute("UPDATE card_taps SET result = NULL", []).unwrap();
        let detail = apply_report(&mut register, &site_db, &north, &body).unwrap();
        assert!(detail.ends_with("added"), "{detail}");
        assert_eq!(tap_request(&site_db, &command.id, 21).unwrap().unwrap().state, TapState::Added);
        apply_report(&mut register, &site_db, &north, &body).unwrap();
        let added = register.audit_entries(None).unwrap();
        assert_eq!(added.iter().filter(|e| e.kind == "card_added").count(), 1);
        assert!(site_db.command(&command.id).unwrap().unwrap().reported_at.is_some());
    }

    #[test]
    fn an_unanswered_tap_says_the_door_has_not_answered_not_that_nothing_came() {
        let (_dir, site_db, mut register, north, _) = site();
        let command = request(&site_db, &mut register, &north, "1203", "wang", 10).unwrap();
        let at = |now| tap_request(&site_db, &command.id, now).unwrap().unwrap().state;
        assert!(matches!(at(11), TapState::Waiting { .. }));
        assert_eq!(at(10 + TAP_WINDOW_SECS + REPORT_GRACE_SECS + 1), TapState::NoAnswer);
    }
}
