//! `facegate site status` and the console's doors page: each door's last report, as the site
//! sees it.

use super::DoorId;
use super::outbox::{DoorAlarms, Selftest};
use super::site_db::{Result, SiteDb};

/// A door counts as online while its reports (every second) are this recent.
pub const ONLINE_WITHIN_SECS: i64 = 10;

/// One door's state on the site.
#[derive(Debug, Clone, PartialEq)]
pub struct DoorStatus {
    pub door: DoorId,
    pub online: bool,
    pub last_seen: Option<i64>,
    /// The last bucket revision the door applied.
    pub replica_revision: Option<u64>,
    /// How many revisions the door is behind what the site published (`None` while it
    /// resyncs: its revision counts in a bucket made anew that it has not caught up with).
    pub lag: Option<u64>,
    /// The door resyncs from a bucket made anew ([`crate::store::replica::resync`]).
    pub resyncing: bool,
    pub outbox_depth: Option<u64>,
    /// Alarms the door sent in the last 24 hours.
    pub alarms: u64,
    /// The alarms the door has now (as of its last report).
    pub alarms_now: DoorAlarms,
    /// The door's last selftest: when, and whether every part passed.
    pub last_selftest: Option<Selftest>,
    /// The keypad's own back-off against guesses (no resident's lockout), by the door's clock,
    /// while it lasts.
    pub keypad_locked_until: Option<i64>,
}

/// Every door's status at `now`, by door id.
pub fn door_statuses_at(site_db: &SiteDb, now: i64) -> Result<Vec<DoorStatus>> {
    let published = site_db.last_published_revision()?;
    site_db
        .doors()?
        .into_iter()
        .map(|row| {
            let state = row.state;
            Ok(DoorStatus {
                online: row.last_seen.is_some_and(|seen| now - seen <= ONLINE_WITHIN_SECS),
                last_seen: row.last_seen,
                replica_revision: state.map(|s| s.replica_revision),
                lag: state
                    .filter(|s| !s.resyncing)
                    .map(|s| published.saturating_sub(s.replica_revision)),
                resyncing: state.is_some_and(|s| s.resyncing),
                outbox_depth: state.map(|s| s.outbox_depth),
                alarms: site_db.alarms_since(&row.door, now - 24 * 3600)?,
                alarms_now: state.map(|s| s.alarms).unwrap_or_default(),
                last_selftest: state.and_then(|s| s.selftest),
                keypad_locked_until: state
                    .and_then(|s| s.keypad_locked_until)
                    .filter(|&until| until > now),
                door: row.door,
            })
        })
        .collect()
}

/// Every door's status now.
pub fn door_statuses(site_db: &SiteDb) -> Result<Vec<DoorStatus>> {
    door_statuses_at(site_db, crate::store::unix_now())
}
