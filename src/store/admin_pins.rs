//! Admin-mode PINs on the doors of a site. Who may open admin mode at a door stays the door's
//! own `[gate] admins` (set when it is installed: the register cannot make a resident an admin
//! there); the admin PIN itself is set once, on the register (`facegate admin pin set NUMBER
//! --admin` with the register's config), and reaches every door inside the admin's door record:
//! the resident id and the argon2id hash under the site's pepper, no name. A door replaces its
//! copy with every record, so an admin PIN set at a door itself lasts only until the next one.

use std::collections::HashMap;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::Result;

/// An admin-mode PIN as a door gets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminPinEntry {
    /// argon2id PHC string under the site's pepper.
    pub phc: String,
    pub updated_at: i64,
}

/// Every admin PIN, by resident id, for the door records.
pub(super) fn admin_pin_records(conn: &Connection) -> Result<HashMap<i64, AdminPinEntry>> {
    let mut stmt = conn.prepare("SELECT resident_id, phc, updated_at FROM admin_pins")?;
    let records = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, AdminPinEntry { phc: r.get(1)?, updated_at: r.get(2)? }))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(records)
}

/// Replaces a resident's admin PIN with their door record's (on a door).
pub(super) fn write_admin_pin(
    conn: &Connection,
    resident_id: i64,
    entry: Option<&AdminPinEntry>,
) -> Result<()> {
    conn.execute("DELETE FROM admin_pins WHERE resident_id = ?1", [resident_id])?;
    if let Some(entry) = entry {
        conn.execute(
            "INSERT INTO admin_pins (resident_id, phc, updated_at) VALUES (?1, ?2, ?3)",
            params![resident_id, entry.phc, entry.updated_at],
        )?;
    }
    Ok(())
}
