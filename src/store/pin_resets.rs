//! PIN-reset codes: a manager issues a one-time code (managers never learn a resident's PIN);
//! the resident types their number, the code and a new PIN twice at a door within
//! [`RESET_CODE_SECONDS`]. The code works once: it is removed in the transaction that stores
//! the new PIN. Only the code's keyed index is kept.
//!
//! A used code is kept, marked used (`expires_at` 0), until the purge: so on a door of a site
//! a record published before the door's report arrived cannot make it usable again.
//!
//! In site mode the code reaches the doors inside the resident's door record
//! ([`reset_records`] → KV → [`write_reset`]); the new PIN travels back as a PIN change does,
//! naming the code it used, and the site then ends that code ([`Store::end_pin_reset`]) and
//! republishes the record without it. Until then another door still takes the code: one sync
//! round trip, for a code only the resident holds.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::audit::{AuditKind, Chain, append};
use super::{Result, Store, StoreError};
use crate::credentials::{Code, Pin, PinConfig};

/// How long a reset code works.
pub const RESET_CODE_SECONDS: i64 = 24 * 3_600;

/// A resident's open reset code, as a door gets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinResetRecord {
    /// The code's keyed index (32 bytes).
    #[serde(with = "crate::site::record::hex_bytes")]
    pub code_index: Vec<u8>,
    pub expires_at: i64,
}

impl Store {
    /// Gives a resident a reset code (replacing any earlier one); returns when it expires.
    pub fn issue_pin_reset(
        &mut self,
        number: &str,
        code: &Code,
        now: i64,
        operator: &str,
    ) -> Result<i64> {
        let resident = self.resident(number)?;
        let index = self.credentials.code_indexes(code).swap_remove(0);
        let expires_at = now + RESET_CODE_SECONDS;
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO pin_resets (resident_id, code_index, expires_at, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(resident_id) DO UPDATE SET code_index = excluded.code_index,
                 expires_at = excluded.expires_at, created_at = excluded.created_at",
                params![resident.id, &index.0[..], expires_at, now],
            )?;
            let detail = format!("expires {expires_at}, by {operator}");
            append(tx, &key, Chain::Admin, now, AuditKind::PinResetIssued, &resident.subject(), &detail)
        })?;
        Ok(expires_at)
    }

    /// The resident whose number and live reset code these are, if any (the caller counts
    /// failures: see [`crate::access::checks::check_reset_code`]).
    pub(crate) fn verify_pin_reset(
        &self,
        number: &str,
        code: &Code,
        now: i64,
    ) -> Result<Option<i64>> {
        let stored: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT r.id, p.code_index FROM residents r JOIN pin_resets p ON p.resident_id = r.id
                 WHERE r.number = ?1 AND p.expires_at > ?2",
                params![number, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((resident, index)) = stored else { return Ok(None) };
        let matches = self.credentials.code_indexes(code).iter().any(|i| i.0[..] == index[..]);
        Ok(matches.then_some(resident))
    }

    /// Sets the new PIN (weak PINs refused) and uses up the reset code, in one transaction.
    pub(crate) fn reset_pin_with_code(
        &mut self,
        number: &str,
        pin: &Pin,
        rules: &PinConfig,
        now: i64,
    ) -> Result<()> {
        self.set_pin_and(number, pin, rules, now, "resident with a reset code", |tx, id| {
            let index: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT code_index FROM pin_resets WHERE resident_id = ?1 AND expires_at > ?2",
                    params![id, now],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(index) = index else {
                return Err(StoreError::Invalid("the reset code has already been used".into()));
            };
            tx.execute("UPDATE pin_resets SET expires_at = 0 WHERE resident_id = ?1", [id])?;
            Ok(Some(index))
        })
    }

    /// Ends a resident's reset code that a door reports used (on the site); a newer code
    /// issued meanwhile stays. Returns whether a code ended.
    pub fn end_pin_reset(&mut self, resident_id: i64, code_index: &[u8]) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM pin_resets WHERE resident_id = ?1 AND code_index = ?2",
            params![resident_id, code_index],
        )? > 0)
    }
}

/// Every resident's reset code, for the door records.
pub(super) fn reset_records(conn: &Connection) -> Result<HashMap<i64, PinResetRecord>> {
    let mut stmt = conn.prepare("SELECT resident_id, code_index, expires_at FROM pin_resets")?;
    let records = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, PinResetRecord { code_index: r.get(1)?, expires_at: r.get(2)? }))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(records)
}

/// Stores the reset code of a resident's door record, or removes it (on a door). A code used
/// here stays used, whatever its record says; a malformed code is dropped with a warning.
pub(super) fn write_reset(
    conn: &Connection,
    resident_id: i64,
    record: Option<&PinResetRecord>,
) -> Result<()> {
    let malformed = record.is_some_and(|record| record.code_index.len() != 32);
    if malformed {
        tracing::warn!(resident = resident_id, "dropped a malformed PIN-reset code");
    }
    match record.filter(|_| !malformed) {
        Some(record) => {
            conn.execute(
                "INSERT INTO pin_resets (resident_id, code_index, expires_at, created_at) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT(resident_id) DO UPDATE SET code_index = excluded.code_index, expires_at = excluded.expires_at
                 WHERE pin_resets.code_index != excluded.code_index",
                params![resident_id, record.code_index, record.expires_at],
            )?;
        }
        None => {
            conn.execute("DELETE FROM pin_resets WHERE resident_id = ?1", [resident_id])?;
        }
    }
    Ok(())
}
