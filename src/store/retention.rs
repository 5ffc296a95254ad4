//! Retention: templates unused for too long, residents who moved out, old access events, and
//! visitor passes, PIN-reset codes and enrolment bookings past their time are deleted by
//! `facegate admin purge` and by the running gate once a day (a moved-out resident's keypad
//! lockout with them).
//!
//! On a door of a site the purge deletes only what is the door's own: its old access events
//! and audit rows, and the passes, reset codes and bookings past their time (so a door cut off
//! from the site does not keep them). Residents and templates leave a door only through the
//! site's records (the site's purge removes them from the register, a tombstone or a new record
//! removes them here): a door deleting them by its own clock and its own `last_used_at` would
//! make its replica differ from the register, and the next record would bring them back.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::audit::{AuditKind, Chain, append};
use super::{Result, Store};
use crate::credentials::lockout::resident_key;

const DAY: i64 = 86_400;
/// The templates a purge deletes: unused since before ?1.
const UNUSED_TEMPLATES: &str = "FROM templates WHERE COALESCE(last_used_at, created_at) < ?1";
/// The residents a purge deletes: access ended ?1 seconds before ?2 or earlier.
const MOVED_OUT: &str = "FROM residents WHERE valid_until IS NOT NULL AND valid_until + ?1 <= ?2";
/// The visitor passes a purge deletes: past their window at ?1.
const EXPIRED_PASSES: &str = "FROM visitor_passes WHERE valid_until <= ?1";
/// The PIN-reset codes a purge deletes: expired at ?1.
const EXPIRED_RESETS: &str = "FROM pin_resets WHERE expires_at <= ?1";
/// The bookings a purge deletes: past their time at ?1, or done.
const OVER_BOOKINGS: &str = "FROM enrolment_bookings WHERE until <= ?1 OR done_at IS NOT NULL";

/// `[retention]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// A template not used for this many days is deleted.
    pub template_unused_days: i64,
    /// A resident is deleted this many days after their access ended (0: at once; at most 90).
    pub moved_out_days: i64,
    /// Access events older than this many days leave the audit log.
    pub access_log_days: i64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { template_unused_days: 365, moved_out_days: 0, access_log_days: 90 }
    }
}

/// A `[retention]` setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionConfigError {
    #[error("[retention] moved_out_days must be 0 to 90, got {0}")]
    MovedOutDays(i64),
    #[error("[retention] template_unused_days and access_log_days must be at least 1")]
    TooShort,
}

impl RetentionConfig {
    pub(crate) fn validate(&self) -> std::result::Result<(), RetentionConfigError> {
        if !(0..=90).contains(&self.moved_out_days) {
            return Err(RetentionConfigError::MovedOutDays(self.moved_out_days));
        }
        if self.template_unused_days < 1 || self.access_log_days < 1 {
            return Err(RetentionConfigError::TooShort);
        }
        Ok(())
    }
}

/// What a purge deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PurgeReport {
    pub unused_templates: usize,
    pub moved_out_residents: usize,
    pub access_events: usize,
    /// Visitor passes past their window.
    pub visitor_passes: usize,
    /// PIN-reset codes past their expiry, and bookings past their time or done.
    pub codes_and_bookings: usize,
}

impl Store {
    /// What [`Store::purge`] would delete at `now`, without deleting anything.
    pub fn purge_preview(&self, retention: &RetentionConfig, now: i64) -> Result<PurgeReport> {
        retention.validate()?;
        let register = self.replica()?.is_none();
        let count = |sql: String, args: &[i64]| -> Result<usize> {
            let params = rusqlite::params_from_iter(args);
            let n: i64 = self.conn.query_row(&sql, params, |r| r.get(0))?;
            Ok(n as usize)
        };
        Ok(PurgeReport {
            unused_templates: if register {
                count(
                    format!("SELECT COUNT(*) {UNUSED_TEMPLATES}"),
                    &[now - retention.template_unused_days * DAY],
                )?
            } else {
                0
            },
            moved_out_residents: if register {
                count(
                    format!("SELECT COUNT(*) {MOVED_OUT}"),
                    &[retention.moved_out_days * DAY, now],
                )?
            } else {
                0
            },
            access_events: self.access_rows_before(now - retention.access_log_days * DAY)?,
            visitor_passes: count(format!("SELECT COUNT(*) {EXPIRED_PASSES}"), &[now])?,
            codes_and_bookings: count(format!("SELECT COUNT(*) {EXPIRED_RESETS}"), &[now])?
                + count(format!("SELECT COUNT(*) {OVER_BOOKINGS}"), &[now])?,
        })
    }

    /// Applies the retention rules at `now`.
    pub fn purge(&mut self, retention: &RetentionConfig, now: i64) -> Result<PurgeReport> {
        retention.validate()?;
        let register = self.replica()?.is_none();
        let key = self.audit_key().clone();
        let (unused_templates, moved_out_residents, visitor_passes, codes_and_bookings) = self.transaction(|tx| {
            let unused = if register {
                tx.execute(
                    &format!("DELETE {UNUSED_TEMPLATES}"),
                    [now - retention.template_unused_days * DAY],
                )?
            } else {
                0
            };
            let moved_out: Vec<String> = if register {
                tx.prepare(&format!("SELECT number {MOVED_OUT}"))?
                    .query_map(params![retention.moved_out_days * DAY, now], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            } else {
                Vec::new()
            };
            for number in &moved_out {
                tx.execute("DELETE FROM lockouts WHERE key = ?1", [resident_key(number)])?;
                tx.execute("DELETE FROM residents WHERE number = ?1", [number])?;
            }
            let moved = moved_out.len();
            let passes = tx.execute(&format!("DELETE {EXPIRED_PASSES}"), [now])?;
            let others = tx.execute(&format!("DELETE {EXPIRED_RESETS}"), [now])?
                + tx.execute(&format!("DELETE {OVER_BOOKINGS}"), [now])?;
            if unused + moved + passes + others > 0 {
                let detail = format!(
                    "{unused} unused templates, {moved} moved-out residents, {passes} expired visitor passes, {others} expired reset codes and bookings"
                );
                append(tx, &key, Chain::Admin, now, AuditKind::Purge, "site", &detail)?;
            }
            Ok((unused, moved, passes, others))
        })?;
        let access_events = self.prune_access_log(now - retention.access_log_days * DAY, now)?;
        self.checkpoint()?;
        Ok(PurgeReport {
            unused_templates,
            moved_out_residents,
            access_events,
            visitor_passes,
            codes_and_bookings,
        })
    }
}
