//! Which key file the database is on: the site key (by the audit key's id) and the current
//! credential root (by its id), both in the `site_key` row and both written in the transaction
//! that switches to them. A `.new` key file left by an interrupted rotation is kept exactly when
//! the database already committed to it; a running gate that sees other ids reloads its keys.

use rusqlite::{Connection, OptionalExtension, Transaction};

use super::Result;
use super::audit_head;
use super::credentials::CredentialKeys;
use crate::keys::{Key, Purpose, SiteKey};

/// Whether the database committed to `key` (its site key and its current credential root).
pub(super) fn is_on(conn: &Connection, key: &SiteKey) -> Result<bool> {
    let root = CredentialKeys::new(key);
    is_on_keys(conn, &key.derive(Purpose::AuditChain), root.current_id())
}

/// Whether the database is on the site key with this audit key and on this credential root
/// (one read of the `site_key` row: the gate asks on every tick).
pub(super) fn is_on_keys(conn: &Connection, audit_key: &Key, root_id: &[u8]) -> Result<bool> {
    let stored: Option<(Vec<u8>, Option<Vec<u8>>)> = conn
        .query_row("SELECT key_id, credential_root FROM site_key", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    Ok(stored.is_some_and(|(key_id, root)| {
        key_id == audit_head::key_id(audit_key) && root.as_deref() == Some(root_id)
    }))
}

/// Records the current credential root: the migration that brings the column, and a
/// credential-root rotation.
pub(super) fn record_credential_root(tx: &Transaction, root_id: &[u8]) -> Result<()> {
    tx.execute("UPDATE site_key SET credential_root = ?1", [root_id])?;
    Ok(())
}
