//! `audit export` and `audit verify --file`: the log as JSON lines (every row with its MAC, the
//! checkpoints, then the head), so an archived copy can be verified later with the site key.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::audit::{self, AuditEntry, Chain, Verification};
use super::audit_head::{self, Checkpoint, Head};
use super::{Result, Store, StoreError};

/// One line of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportLine {
    Row {
        #[serde(flatten)]
        entry: AuditEntry,
        mac: Vec<u8>,
    },
    Checkpoint(Checkpoint),
    Head(Head),
}

/// The audit tables (the columns the migrations give them) an export is read back into.
const TABLES: &str = "
    CREATE TABLE audit (id INTEGER PRIMARY KEY, chain TEXT NOT NULL, at INTEGER NOT NULL,
        kind TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL, mac BLOB NOT NULL);
    CREATE TABLE audit_checkpoints (chain TEXT PRIMARY KEY, last_id INTEGER NOT NULL,
        last_mac BLOB NOT NULL, at INTEGER NOT NULL, mac BLOB);
    CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), last_id INTEGER NOT NULL,
        access_mac BLOB NOT NULL, admin_mac BLOB NOT NULL, mac BLOB NOT NULL);
";

impl Store {
    /// The whole log as export lines: rows (oldest first), checkpoints, the head last.
    pub fn export_audit(&self) -> Result<Vec<ExportLine>> {
        let mut lines = Vec::new();
        let mut all = Vec::new();
        for chain in [Chain::Access, Chain::Admin] {
            all.extend(audit::rows(&self.conn, chain)?);
        }
        all.sort_by_key(|(entry, _)| entry.id);
        lines.extend(all.into_iter().map(|(entry, mac)| ExportLine::Row { entry, mac }));
        for chain in [Chain::Access, Chain::Admin] {
            lines.extend(audit_head::checkpoint(&self.conn, chain)?.map(ExportLine::Checkpoint));
        }
        lines.extend(audit_head::head(&self.conn)?.map(ExportLine::Head));
        Ok(lines)
    }

    /// Verifies an export (JSON lines) with this store's audit key, exactly as the database's
    /// own log is verified.
    pub fn verify_audit_export(&self, text: &str) -> Result<Verification> {
        let copy = Connection::open_in_memory()?;
        copy.execute_batch(TABLES)?;
        for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let line: ExportLine = serde_json::from_str(line).map_err(|e| {
                StoreError::Invalid(format!(
                    "line {} of the export is not an audit line: {e}",
                    number + 1
                ))
            })?;
            match line {
                ExportLine::Row { entry: e, mac } => copy.execute(
                    "INSERT INTO audit (id, chain, at, kind, subject, detail, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![e.id, e.chain, e.at, e.kind, e.subject, e.detail, mac],
                )?,
                ExportLine::Checkpoint(c) => copy.execute(
                    "INSERT INTO audit_checkpoints (chain, last_id, last_mac, at, mac) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![c.chain, c.last_id, c.last_mac, c.at, c.mac],
                )?,
                ExportLine::Head(h) => copy.execute(
                    "INSERT INTO audit_head (id, last_id, access_mac, admin_mac, mac) VALUES (1, ?1, ?2, ?3, ?4)",
                    params![h.last_id, h.access_mac, h.admin_mac, h.mac],
                )?,
            };
        }
        audit::verify(&copy, self.audit_key())
    }
}
