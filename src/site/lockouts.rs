//! Residents' PIN lockouts at the doors, as the site keeps them, and their lift from the console
//! (issue 18), a door command like remote unlock ([`super::commands`]):
//!
//! 1. A door reports each lockout of a resident that starts, grows or ends (outbox kind
//!    `lockout`, [`DoorLockout`]: the resident id, the failures, the end; never the PIN or what
//!    was typed). The consumer keeps the current one per door and resident ([`apply`]).
//! 2. The console lists a resident's ([`of_resident`], only those not run out by the site's
//!    clock: a lockout that expires needs no report) and asks for a lift ([`request_lift`]):
//!    audited in the register with the account, then one [`CommandKind::LiftLockout`] command
//!    per door, valid [`LIFT_VALID_SECS`].
//! 3. The door clears the lockout in its store (`Store::take_commands`), audits it there, and
//!    reports the command (audited once in the register, [`super::door_log`]) and the end of
//!    the lockout (which removes it here). A late or replayed command lifts nothing.
//!
//! They are kept in `site.db`, not in the register: a lockout is a door's state, like its alarms
//! or outbox depth. It changes with every wrong PIN, and a write to the register would wake the
//! publisher (it watches the register's `data_version`) and go into the register's backups, where
//! a lockout means nothing once restored. The table is made when `site.db` opens, like the
//! others: no migration.

use rusqlite::params;

use super::commands::{CommandError, CommandKind, DoorCommand, new_id, short};
use super::outbox::DoorLockout;
use super::site_db::{Result as DbResult, SiteDb, SiteDbError};
use super::{DoorId, SiteError};
use crate::store::{AuditKind, Chain, Store};

/// How long a lift stays valid after it was asked for: a door that gets it later lifts nothing.
pub const LIFT_VALID_SECS: i64 = 60;

/// The lockouts' table in `site.db`, and the resident of each [`CommandKind::LiftLockout`].
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS door_lockouts (
    door         TEXT NOT NULL,
    resident     INTEGER NOT NULL,            -- the register's resident id
    failures     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,            -- by the door's clock
    at           INTEGER NOT NULL,            -- the door's report
    PRIMARY KEY (door, resident)
);
CREATE TABLE IF NOT EXISTS lockout_lifts (
    command  TEXT PRIMARY KEY,                -- door_commands.id
    resident TEXT NOT NULL                    -- the resident number
);
";

/// A resident's lockout at one door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    pub door: DoorId,
    pub failures: u32,
    pub locked_until: i64,
}

/// The site's consumer: a door's lockout report, kept as that door's current lockout of the
/// resident (an end removes it). Returns what `site.db` keeps of the message.
pub fn apply(site_db: &SiteDb, door: &DoorId, body: &str) -> Result<String, SiteError> {
    let report: DoorLockout = serde_json::from_str(body)
        .map_err(|e| SiteError::Invalid(format!("unreadable lockout: {e}")))?;
    let conn = site_db.conn();
    let resident = report.resident;
    let detail = match report.locked_until {
        Some(until) => {
            conn.execute(
                "INSERT INTO door_lockouts (door, resident, failures, locked_until, at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(door, resident) DO UPDATE SET failures = excluded.failures,
                 locked_until = excluded.locked_until, at = excluded.at",
                params![door.as_str(), resident, report.failures, until, report.at],
            )
            .map_err(SiteDbError::from)?;
            format!("resident#{resident} locked until {until} after {} wrong PINs", report.failures)
        }
        None => {
            conn.execute(
                "DELETE FROM door_lockouts WHERE door = ?1 AND resident = ?2",
                params![door.as_str(), resident],
            )
            .map_err(SiteDbError::from)?;
            format!("resident#{resident} lockout ended")
        }
    };
    Ok(detail)
}

/// The resident's lockouts at the site's doors that have not run out at `now`, by door.
pub fn of_resident(site_db: &SiteDb, resident: i64, now: i64) -> DbResult<Vec<Lockout>> {
    let mut stmt = site_db.conn().prepare(
        "SELECT l.door, l.failures, l.locked_until FROM door_lockouts l JOIN doors d ON d.id = l.door
         WHERE l.resident = ?1 AND l.locked_until > ?2 ORDER BY l.door",
    )?;
    let rows = stmt
        .query_map(params![resident, now], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get::<_, i64>(2)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(door, failures, locked_until)| {
            Some(Lockout { door: door.parse().ok()?, failures, locked_until })
        })
        .collect())
}

/// Asks `door` (`None`: every door where resident `number` is locked out now) to lift the
/// resident's lockout: each audited in the register with `operator`, then queued in `site.db`
/// for `site run`. Returns the commands (none when no door has a lockout).
pub fn request_lift(
    site_db: &SiteDb,
    register: &mut Store,
    number: &str,
    door: Option<&DoorId>,
    operator: &str,
    now: i64,
) -> Result<Vec<DoorCommand>, CommandError> {
    let resident = register.resident(number)?;
    let doors = match door {
        Some(door) if site_db.has_door(door)? => vec![door.clone()],
        Some(door) => return Err(SiteDbError::UnknownDoor(door.clone()).into()),
        None => of_resident(site_db, resident.id, now)?.into_iter().map(|l| l.door).collect(),
    };
    let mut commands = Vec::new();
    for door in doors {
        let command = DoorCommand {
            id: new_id()?,
            kind: CommandKind::LiftLockout,
            door: door.clone(),
            issued_at: now,
            expires_at: now + LIFT_VALID_SECS,
            resident: Some(resident.number.clone()),
        };
        let detail = format!("door {door} command {} by {operator}", short(&command.id));
        let kind = AuditKind::LockoutLiftRequested;
        register.audit(Chain::Admin, now, kind, &resident.subject(), &detail)?;
        // The resident first: a command is pending only once it is complete.
        site_db
            .conn()
            .execute(
                "INSERT INTO lockout_lifts (command, resident) VALUES (?1, ?2)",
                params![command.id, resident.number],
            )
            .map_err(SiteDbError::from)?;
        site_db.add_command(&command, operator)?;
        commands.push(command);
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doors_reports_keep_its_current_lockout_until_it_ends_or_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let site_db = SiteDb::create(&dir.path().join("site.db")).unwrap();
        let (north, south): (DoorId, DoorId) = ("north".parse().unwrap(), "south".parse().unwrap());
        site_db.add_door(&north, "$2b$hash", 1).unwrap();
        site_db.add_door(&south, "$2b$hash", 1).unwrap();
        let report = |door: &DoorId, failures, locked_until| {
            let body = DoorLockout { resident: 7, failures, locked_until, at: 100 };
            apply(&site_db, door, &serde_json::to_string(&body).unwrap()).unwrap()
        };
        let detail = report(&north, 5, Some(130));
        assert_eq!(detail, "resident#7 locked until 130 after 5 wrong PINs");
        report(&north, 6, Some(160));
        report(&south, 5, Some(110));
        let at = |now| of_resident(&site_db, 7, now).unwrap();
        let north_only = [Lockout { door: north.clone(), failures: 6, locked_until: 160 }];
        assert_eq!(at(120), north_only, "south's ran out; north's grew");
        assert_eq!(at(100).len(), 2);
        assert!(of_resident(&site_db, 8, 100).unwrap().is_empty(), "per resident");
        assert_eq!(report(&north, 0, None), "resident#7 lockout ended");
        assert_eq!(at(100).len(), 1, "only south's is left");
    }
}
