//! What seals the audit log beyond its rows: the pruning checkpoint and the head (the last id
//! given out and both chains' last MACs), each under a MAC, and the site key's id, by which a
//! running gate notices that another process rotated the key.

use hmac::{Hmac, KeyInit, Mac};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Result;
use super::audit::Chain;
use crate::keys::Key;

/// The MAC of a record that is not a row (checkpoint, head): a tag, then length-prefixed parts.
fn record_mac(key: &Key, tag: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0).expect("any key length");
    for part in std::iter::once(tag.as_bytes()).chain(parts.iter().copied()) {
        m.update(&(part.len() as u64).to_le_bytes());
        m.update(part);
    }
    m.finalize().into_bytes().to_vec()
}

/// Where the access chain was pruned: the last removed row and its MAC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub chain: String,
    pub last_id: i64,
    pub last_mac: Vec<u8>,
    pub at: i64,
    pub mac: Option<Vec<u8>>,
}

impl Checkpoint {
    /// A checkpoint with its MAC.
    pub(super) fn sealed(
        key: &Key,
        chain: Chain,
        last_id: i64,
        last_mac: Vec<u8>,
        at: i64,
    ) -> Self {
        let mut point =
            Checkpoint { chain: chain.as_str().into(), last_id, last_mac, at, mac: None };
        point.mac = Some(point.expected_mac(key));
        point
    }

    fn expected_mac(&self, key: &Key) -> Vec<u8> {
        let parts: [&[u8]; 4] = [
            self.chain.as_bytes(),
            &self.last_id.to_le_bytes(),
            &self.last_mac,
            &self.at.to_le_bytes(),
        ];
        record_mac(key, "checkpoint", &parts)
    }
}

/// The end of the log: the last id given out and each chain's last MAC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub last_id: i64,
    pub access_mac: Vec<u8>,
    pub admin_mac: Vec<u8>,
    pub mac: Vec<u8>,
}

impl Head {
    fn expected_mac(&self, key: &Key) -> Vec<u8> {
        record_mac(key, "head", &[&self.last_id.to_le_bytes(), &self.access_mac, &self.admin_mac])
    }

    pub(super) fn chain_mac(&self, chain: Chain) -> &[u8] {
        match chain {
            Chain::Access => &self.access_mac,
            Chain::Admin => &self.admin_mac,
        }
    }
}

pub(super) fn checkpoint(conn: &rusqlite::Connection, chain: Chain) -> Result<Option<Checkpoint>> {
    Ok(conn
        .query_row(
            "SELECT chain, last_id, last_mac, at, mac FROM audit_checkpoints WHERE chain = ?1",
            [chain.as_str()],
            |r| {
                Ok(Checkpoint {
                    chain: r.get(0)?,
                    last_id: r.get(1)?,
                    last_mac: r.get(2)?,
                    at: r.get(3)?,
                    mac: r.get(4)?,
                })
            },
        )
        .optional()?)
}

pub(super) fn head(conn: &rusqlite::Connection) -> Result<Option<Head>> {
    Ok(conn
        .query_row("SELECT last_id, access_mac, admin_mac, mac FROM audit_head", [], |r| {
            Ok(Head {
                last_id: r.get(0)?,
                access_mac: r.get(1)?,
                admin_mac: r.get(2)?,
                mac: r.get(3)?,
            })
        })
        .optional()?)
}

/// The MAC the rows of `chain` end on: its last row's, else its checkpoint's, else zeros.
pub(super) fn tail(conn: &rusqlite::Connection, chain: Chain) -> Result<Vec<u8>> {
    let last: Option<Vec<u8>> = conn
        .query_row(
            "SELECT mac FROM audit WHERE chain = ?1 ORDER BY id DESC LIMIT 1",
            [chain.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    match last {
        Some(mac) => Ok(mac),
        None => Ok(checkpoint(conn, chain)?.map_or(vec![0; 32], |c| c.last_mac)),
    }
}

/// The highest id in the rows or the checkpoints.
pub(super) fn max_id(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT MAX(COALESCE((SELECT MAX(id) FROM audit), 0), COALESCE((SELECT MAX(last_id) FROM audit_checkpoints), 0))",
        [],
        |r| r.get(0),
    )?)
}

/// Writes the head (and re-MACs the checkpoints) from the rows as they are: the migration that
/// brings these MACs, and key rotation.
pub(super) fn seal_existing(tx: &Transaction, key: &Key) -> Result<()> {
    for chain in [Chain::Access, Chain::Admin] {
        if let Some(mut c) = checkpoint(tx, chain)? {
            c.mac = Some(c.expected_mac(key));
            tx.execute(
                "UPDATE audit_checkpoints SET mac = ?1 WHERE chain = ?2",
                params![c.mac, c.chain],
            )?;
        }
    }
    tx.execute(
        "INSERT INTO site_key (id, key_id) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET key_id = excluded.key_id",
        [key_id(key)],
    )?;
    let (access_mac, admin_mac) = (tail(tx, Chain::Access)?, tail(tx, Chain::Admin)?);
    write_head(tx, key, max_id(tx)?, access_mac, admin_mac)
}

/// What identifies an audit key (and so the site key) in the database.
pub(super) fn key_id(key: &Key) -> Vec<u8> {
    record_mac(key, "key-id", &[])
}

/// Whether the database's log is chained under `key` (no other process rotated it away).
pub(super) fn key_is_current(conn: &rusqlite::Connection, key: &Key) -> Result<bool> {
    let stored: Option<Vec<u8>> =
        conn.query_row("SELECT key_id FROM site_key", [], |r| r.get(0)).optional()?;
    Ok(stored == Some(key_id(key)))
}

pub(super) fn write_head(
    tx: &Transaction,
    key: &Key,
    last_id: i64,
    access_mac: Vec<u8>,
    admin_mac: Vec<u8>,
) -> Result<()> {
    let mut head = Head { last_id, access_mac, admin_mac, mac: Vec::new() };
    head.mac = head.expected_mac(key);
    tx.execute(
        "INSERT INTO audit_head (id, last_id, access_mac, admin_mac, mac) VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET last_id = excluded.last_id, access_mac = excluded.access_mac,
         admin_mac = excluded.admin_mac, mac = excluded.mac",
        params![head.last_id, head.access_mac, head.admin_mac, head.mac],
    )?;
    Ok(())
}

/// What is wrong besides single rows: checkpoints or head edited, rows gone from the start or
/// the end, a chain gone, ids missing.
pub(super) fn problems(conn: &rusqlite::Connection, key: &Key) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for chain in [Chain::Access, Chain::Admin] {
        if let Some(c) = checkpoint(conn, chain)?
            && c.mac.as_deref() != Some(&c.expected_mac(key)[..])
        {
            found.push(format!("the {} checkpoint was edited", chain.as_str()));
        }
    }
    let max = max_id(conn)?;
    match head(conn)? {
        None => found.push("the audit head is missing".into()),
        Some(h) if h.mac != h.expected_mac(key) => found.push("the audit head was edited".into()),
        Some(h) => {
            if h.last_id != max {
                found.push(format!("the log ends at row {max}, its head at row {}", h.last_id));
            }
            for chain in [Chain::Access, Chain::Admin] {
                if tail(conn, chain)? != h.chain_mac(chain) {
                    found.push(format!("the {} chain's last rows were removed", chain.as_str()));
                }
            }
        }
    }
    let floor = checkpoint(conn, Chain::Access)?.map_or(0, |c| c.last_id);
    let present: i64 =
        conn.query_row("SELECT COUNT(*) FROM audit WHERE id > ?1", [floor], |r| r.get(0))?;
    if present != max - floor {
        found.push(format!("{} rows after row {floor} are missing", max - floor - present));
    }
    Ok(found)
}
