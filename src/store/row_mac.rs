//! Row MACs: each template, PIN hash and card index carries an HMAC (under a key from the
//! credential root) over its resident id and its content, so a row copied onto another resident
//! or edited by hand fails verification. Such a row is skipped (it never matches, never
//! grants), audited once per process and handed to the gate as an alarm.

use hmac::{Hmac, KeyInit, Mac};
use rusqlite::{Transaction, TransactionBehavior, params};
use sha2::Sha256;

use super::audit::{AuditKind, Chain, append};
use super::{Result, Store};
use crate::keys::Key;

/// The owner-binding content of one security row.
pub(crate) enum Row<'a> {
    Template { resident: i64, salt: &'a [u8], vector: &'a [u8], model: &'a str },
    Pin { resident: i64, phc: &'a str },
    Card { resident: i64, index: &'a [u8] },
}

impl Row<'_> {
    fn table(&self) -> &'static str {
        match self {
            Row::Template { .. } => "template",
            Row::Pin { .. } => "PIN",
            Row::Card { .. } => "card",
        }
    }

    fn resident(&self) -> i64 {
        match self {
            Row::Template { resident, .. } | Row::Pin { resident, .. } => *resident,
            Row::Card { resident, .. } => *resident,
        }
    }

    fn hmac(&self, key: &Key) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0).expect("any key length");
        let fields: Vec<&[u8]> = match self {
            Row::Template { salt, vector, model, .. } => vec![salt, vector, model.as_bytes()],
            Row::Pin { phc, .. } => vec![phc.as_bytes()],
            Row::Card { index, .. } => vec![index],
        };
        for field in std::iter::once(self.table().as_bytes()).chain(fields) {
            m.update(&(field.len() as u64).to_le_bytes());
            m.update(field);
        }
        m.update(&self.resident().to_le_bytes());
        m
    }

    /// The MAC to store with this row.
    pub(crate) fn mac(&self, key: &Key) -> Vec<u8> {
        self.hmac(key).finalize().into_bytes().to_vec()
    }

    /// Whether `stored` is this row's MAC (in constant time); a missing MAC never is.
    pub(crate) fn verifies(&self, key: &Key, stored: Option<&[u8]>) -> bool {
        stored.is_some_and(|mac| self.hmac(key).verify_slice(mac).is_ok())
    }
}

/// A row the store cannot use: which table, which row, whose it claims to be, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rejected {
    pub table: &'static str,
    pub id: i64,
    pub resident: i64,
    pub why: RejectedWhy,
}

/// Why a row is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectedWhy {
    /// Its MAC fails, or its contents are malformed (a vector cut short or not of unit norm).
    FailsIntegrityCheck,
    /// A template made by a face model this build does not run.
    UnknownModel,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Rejected { table, id, resident, why } = self;
        let why = match why {
            RejectedWhy::FailsIntegrityCheck => "fails its integrity check",
            RejectedWhy::UnknownModel => "was made by an unknown model",
        };
        write!(f, "{table} row {id} of resident#{resident} {why}: left out")
    }
}

impl Store {
    /// Checks a row; a failure is skipped by the caller, audited once and queued as an alarm.
    pub(crate) fn row_ok(&self, row: &Row, id: i64, stored: Option<&[u8]>) -> Result<bool> {
        if row.verifies(&self.row_key, stored) {
            return Ok(true);
        }
        let why = RejectedWhy::FailsIntegrityCheck;
        let rejected = Rejected { table: row.table(), id, resident: row.resident(), why };
        self.reject(rejected)?;
        Ok(false)
    }

    /// Audits a rejected row (once per process) and queues it for the gate's alarm list.
    pub(crate) fn reject(&self, rejected: Rejected) -> Result<()> {
        if !self.reported.borrow_mut().insert(rejected.clone()) {
            return Ok(());
        }
        let subject = format!("resident#{}", rejected.resident);
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let now = super::unix_now();
        let detail = rejected.to_string();
        append(&tx, &self.audit_key, Chain::Admin, now, AuditKind::RowRejected, &subject, &detail)?;
        tx.commit()?;
        self.alarms.borrow_mut().push(rejected);
        Ok(())
    }

    /// The rows rejected since the last call, for the gate's alarm list.
    pub fn take_rejected(&self) -> Vec<Rejected> {
        std::mem::take(&mut self.alarms.borrow_mut())
    }
}

/// MACs every existing template, PIN hash and card index (the migration that brings row MACs).
pub(super) fn seal_existing(tx: &Transaction, key: &Key) -> Result<()> {
    let templates = super::faces::all_rows(tx)?;
    for (id, resident, salt, vector, model, _) in &templates {
        let row = Row::Template { resident: *resident, salt, vector, model };
        tx.execute("UPDATE templates SET mac = ?1 WHERE id = ?2", params![row.mac(key), id])?;
    }
    let pins: Vec<(i64, String)> = tx
        .prepare("SELECT resident_id, phc FROM pins")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (resident, phc) in &pins {
        let mac = Row::Pin { resident: *resident, phc }.mac(key);
        tx.execute("UPDATE pins SET mac = ?1 WHERE resident_id = ?2", params![mac, resident])?;
    }
    let cards: Vec<(i64, i64, Vec<u8>)> = tx
        .prepare("SELECT id, resident_id, card_index FROM cards")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, resident, index) in &cards {
        let mac = Row::Card { resident: *resident, index }.mac(key);
        tx.execute("UPDATE cards SET mac = ?1 WHERE id = ?2", params![mac, id])?;
    }
    Ok(())
}

/// Re-MACs every PIN hash and card index under a new row key (a site-key rotation). A row that
/// fails its MAC under the old key gets none under the new one: it stays rejected.
pub(super) fn remac_credentials(tx: &Transaction, old: &Key, new: &Key) -> Result<()> {
    let pins: Vec<(i64, String, Option<Vec<u8>>)> = tx
        .prepare("SELECT resident_id, phc, mac FROM pins")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (resident, phc, mac) in &pins {
        let row = Row::Pin { resident: *resident, phc };
        if row.verifies(old, mac.as_deref()) {
            let mac = row.mac(new);
            tx.execute("UPDATE pins SET mac = ?1 WHERE resident_id = ?2", params![mac, resident])?;
        }
    }
    type CardRow = (i64, i64, Vec<u8>, Option<Vec<u8>>);
    let cards: Vec<CardRow> = tx
        .prepare("SELECT id, resident_id, card_index, mac FROM cards")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, resident, index, mac) in &cards {
        let row = Row::Card { resident: *resident, index };
        if row.verifies(old, mac.as_deref()) {
            tx.execute("UPDATE cards SET mac = ?1 WHERE id = ?2", params![row.mac(new), id])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KEY_LEN;

    #[test]
    fn a_mac_binds_the_row_to_its_resident_and_content() {
        let key = Key([3; KEY_LEN]);
        let mac = Row::Pin { resident: 1, phc: "$argon2id$x" }.mac(&key);
        assert!(Row::Pin { resident: 1, phc: "$argon2id$x" }.verifies(&key, Some(&mac)));
        assert!(!Row::Pin { resident: 2, phc: "$argon2id$x" }.verifies(&key, Some(&mac)));
        assert!(!Row::Pin { resident: 1, phc: "$argon2id$y" }.verifies(&key, Some(&mac)));
        assert!(!Row::Card { resident: 1, index: b"$argon2id$x" }.verifies(&key, Some(&mac)));
        assert!(!Row::Pin { resident: 1, phc: "$argon2id$x" }.verifies(&key, None));
        assert!(
            !Row::Pin { resident: 1, phc: "$argon2id$x" }.verifies(&Key([4; KEY_LEN]), Some(&mac))
        );
    }
}
