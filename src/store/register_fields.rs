//! The register's personal fields (a resident's name, unit and birth year; a consent's operator
//! and guardian), sealed in the database with XChaCha20-Poly1305 under the register key (HKDF
//! purpose `register-fields` of the site key): a copy of the database file names nobody.
//!
//! Each value is `version (1) ‖ random 24-byte nonce ‖ ciphertext ‖ tag`; its table, column and
//! row id are the associated data, so a sealed value copied onto another row or column fails to
//! open. Listing decrypts in memory; a search opens only the rows its keyed filter lets through
//! ([`super::search_index`]). Older databases with clear values are sealed the
//! first time they are opened with the key ([`seal_clear_rows`]).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::TryRng;
use rusqlite::{Connection, Transaction, params};

use super::{Result, Store, StoreError};
use crate::keys::{Key, Purpose, SiteKey};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// A sealed column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    ResidentName,
    ResidentUnit,
    ResidentBirthYear,
    ConsentOperator,
    ConsentGuardian,
}

impl Field {
    fn column(self) -> &'static str {
        match self {
            Self::ResidentName => "residents.name",
            Self::ResidentUnit => "residents.unit",
            Self::ResidentBirthYear => "residents.birth_year",
            Self::ConsentOperator => "consents.operator",
            Self::ConsentGuardian => "consents.guardian",
        }
    }
}

/// The keys of the sealed fields and of their search filters ([`super::search_index`]).
#[derive(Clone)]
pub(super) struct FieldKey {
    seal: Key,
    search: Key,
}

impl FieldKey {
    pub fn from_site(key: &SiteKey) -> Self {
        Self {
            seal: key.derive(Purpose::RegisterFields),
            search: key.derive(Purpose::RegisterSearch),
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&self.seal.0))
    }

    /// The HMAC key of the residents' search filters.
    pub fn search(&self) -> &Key {
        &self.search
    }

    /// Seals one value of `field` in row `row`.
    pub fn seal(&self, field: Field, row: i64, plain: &str) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::SysRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| StoreError::Invalid(format!("the OS random source failed: {e}")))?;
        let aad = associated_data(field, row);
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: &aad })
            .map_err(|_| StoreError::Invalid("sealing a register field failed".into()))?;
        Ok([&[VERSION][..], &nonce, &sealed].concat())
    }

    /// Opens one sealed value; a wrong key, an edited value or one moved from another row or
    /// column is an error.
    pub fn open(&self, field: Field, row: i64, sealed: &[u8]) -> rusqlite::Result<String> {
        let broken = || {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Blob,
                format!(
                    "{} of row {row} does not open with this site key (wrong key, or the row was edited)",
                    field.column()
                )
                .into(),
            )
        };
        let (&version, rest) = sealed.split_first().ok_or_else(broken)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(broken());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = associated_data(field, row);
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| broken())?;
        String::from_utf8(plain).map_err(|_| broken())
    }

    /// Seals an optional value (`None` stays NULL).
    pub fn seal_opt(&self, field: Field, row: i64, plain: Option<&str>) -> Result<Option<Vec<u8>>> {
        plain.map(|p| self.seal(field, row, p)).transpose()
    }

    /// Opens an optional value.
    pub fn open_opt(
        &self,
        field: Field,
        row: i64,
        sealed: Option<Vec<u8>>,
    ) -> rusqlite::Result<Option<String>> {
        sealed.map(|s| self.open(field, row, &s)).transpose()
    }
}

fn associated_data(field: Field, row: i64) -> Vec<u8> {
    format!("facegate/v1/register|{}|{row}", field.column()).into_bytes()
}

/// Writes a resident's sealed name, unit and birth year into their row, and the search filter
/// of their name and unit.
pub(super) fn write_resident(
    tx: &Transaction,
    key: &FieldKey,
    id: i64,
    name: &str,
    unit: &str,
    birth_year: Option<i32>,
) -> Result<()> {
    let year = birth_year.map(|y| y.to_string());
    tx.execute(
        "UPDATE residents SET name = ?1, unit = ?2, birth_year = ?3, search = ?4 WHERE id = ?5",
        params![
            key.seal(Field::ResidentName, id, name)?,
            key.seal(Field::ResidentUnit, id, unit)?,
            key.seal_opt(Field::ResidentBirthYear, id, year.as_deref())?,
            super::search_index::filter(key.search(), name, unit),
            id
        ],
    )?;
    Ok(())
}

/// Writes a consent's sealed operator and guardian into its row.
pub(super) fn write_consent(
    tx: &Transaction,
    key: &FieldKey,
    id: i64,
    operator: &str,
    guardian: Option<&str>,
) -> Result<()> {
    tx.execute(
        "UPDATE consents SET operator = ?1, guardian = ?2 WHERE id = ?3",
        params![
            key.seal(Field::ConsentOperator, id, operator)?,
            key.seal_opt(Field::ConsentGuardian, id, guardian)?,
            id
        ],
    )?;
    Ok(())
}

/// Opens a sealed birth year.
pub(super) fn open_birth_year(
    key: &FieldKey,
    id: i64,
    sealed: Option<Vec<u8>>,
) -> rusqlite::Result<Option<i32>> {
    key.open_opt(Field::ResidentBirthYear, id, sealed)?
        .map(|y| {
            y.parse().map_err(|_| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Blob,
                    "a sealed birth year is not a number".into(),
                )
            })
        })
        .transpose()
}

const CLEAR_RESIDENTS: &str =
    "typeof(name) = 'text' OR typeof(unit) = 'text' OR typeof(birth_year) = 'integer'";
const CLEAR_CONSENTS: &str = "typeof(operator) = 'text' OR typeof(guardian) = 'text'";

impl Store {
    /// Seals the values an older version left in the clear, once the audit chain shows that
    /// this is the database's own key (a wrong key must not seal names for good); returns how
    /// many rows it sealed.
    pub(super) fn seal_clear_register(&mut self) -> Result<usize> {
        let count = |table: &str, clear: &str| {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {clear}");
            self.conn.query_row(&sql, [], |r| r.get::<_, i64>(0))
        };
        if count("residents", CLEAR_RESIDENTS)? + count("consents", CLEAR_CONSENTS)? == 0
            || self.verify_audit()?.first_broken.is_some()
        {
            return Ok(0);
        }
        seal_clear_rows(&mut self.conn, &self.fields)
    }
}

/// Seals the values an older version left in the clear, in one transaction.
fn seal_clear_rows(conn: &mut Connection, key: &FieldKey) -> Result<usize> {
    let tx = conn.transaction()?;
    type Clear = (i64, String, String, Option<i32>);
    let residents: Vec<Clear> = tx
        .prepare(&format!(
            "SELECT id, name, unit, birth_year FROM residents WHERE {CLEAR_RESIDENTS}"
        ))?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, name, unit, birth_year) in &residents {
        write_resident(&tx, key, *id, name, unit, *birth_year)?;
    }
    let consents: Vec<(i64, String, Option<String>)> = tx
        .prepare(&format!("SELECT id, operator, guardian FROM consents WHERE {CLEAR_CONSENTS}"))?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, operator, guardian) in &consents {
        write_consent(&tx, key, *id, operator, guardian.as_deref())?;
    }
    tx.commit()?;
    Ok(residents.len() + consents.len())
}

/// Re-seals every value under a new key (key rotation), inside the rotation's transaction.
pub(super) fn reseal_all(tx: &Transaction, old: &FieldKey, new: &FieldKey) -> Result<()> {
    type Sealed = (i64, Vec<u8>, Vec<u8>, Option<Vec<u8>>);
    let residents: Vec<Sealed> = tx
        .prepare("SELECT id, name, unit, birth_year FROM residents")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, name, unit, year) in residents {
        let name = old.open(Field::ResidentName, id, &name)?;
        let unit = old.open(Field::ResidentUnit, id, &unit)?;
        let year = open_birth_year(old, id, year)?;
        write_resident(tx, new, id, &name, &unit, year)?;
    }
    let consents: Vec<(i64, Vec<u8>, Option<Vec<u8>>)> = tx
        .prepare("SELECT id, operator, guardian FROM consents")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, operator, guardian) in consents {
        let operator = old.open(Field::ConsentOperator, id, &operator)?;
        let guardian = old.open_opt(Field::ConsentGuardian, id, guardian)?;
        write_consent(tx, new, id, &operator, guardian.as_deref())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KEY_LEN;

    #[test]
    fn a_sealed_value_opens_only_in_its_own_row_and_column_with_its_own_key() {
        let key = FieldKey::from_site(&SiteKey::from_bytes([1; KEY_LEN]));
        let sealed = key.seal(Field::ResidentName, 7, "Li Wei").unwrap();
        assert_eq!(key.open(Field::ResidentName, 7, &sealed).unwrap(), "Li Wei");
        assert!(!sealed.windows(6).any(|w| w == b"Li Wei"));
        assert_ne!(sealed, key.seal(Field::ResidentName, 7, "Li Wei").unwrap(), "a fresh nonce");
        assert!(key.open(Field::ResidentName, 8, &sealed).is_err(), "moved to another row");
        assert!(key.open(Field::ResidentUnit, 7, &sealed).is_err(), "moved to another column");
        let other = FieldKey::from_site(&SiteKey::from_bytes([2; KEY_LEN]));
        let err = other.open(Field::ResidentName, 7, &sealed).unwrap_err();
        assert!(err.to_string().contains("residents.name of row 7"), "{err}");
        let mut edited = sealed.clone();
        *edited.last_mut().unwrap() ^= 1;
        assert!(key.open(Field::ResidentName, 7, &edited).is_err(), "edited");
    }

    #[test]
    fn clear_rows_of_an_older_version_are_sealed_when_opened_with_their_own_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate.db");
        let key = SiteKey::from_bytes([1; KEY_LEN]);
        let conn = Connection::open(&path).unwrap();
        let mut store = Store::ready(conn, &path, &key).unwrap();
        let new = crate::store::NewResident {
            number: "1201".into(),
            name: "x".into(),
            unit: "x".into(),
            ..Default::default()
        };
        store.add_resident(&new, 1, "manager").unwrap();
        store.conn.execute_batch(
            "UPDATE residents SET name = 'Zhang San', unit = '3-1201', birth_year = 2015;
             INSERT INTO consents (resident_id, granted_at, text_version, text_sha256, operator, guardian)
             VALUES (1, 2, '1', 'h', 'Office Wang', 'Zhang Da');",
        ).unwrap();
        drop(store);
        let kinds = || {
            let raw = Connection::open(&path).unwrap();
            raw.query_row(
                "SELECT typeof(r.name) || typeof(r.unit) || typeof(r.birth_year) || typeof(c.operator) || typeof(c.guardian)
                 FROM residents r JOIN consents c ON c.resident_id = r.id",
                [],
                |r| r.get::<_, String>(0),
            )
            .unwrap()
        };
        let wrong = Store::open_with_key(&path, &SiteKey::from_bytes([2; KEY_LEN])).unwrap();
        drop(wrong);
        assert_eq!(kinds(), "texttextintegertexttext", "a wrong key seals nothing");
        let store = Store::open_with_key(&path, &key).unwrap();
        assert_eq!(kinds(), "blobblobblobblobblob");
        let resident = store.resident("1201").unwrap();
        assert_eq!((resident.name.as_str(), resident.unit.as_str()), ("Zhang San", "3-1201"));
        assert_eq!(resident.birth_year, Some(2015));
        let consent = store.consent("1201").unwrap().unwrap();
        assert_eq!(
            (consent.operator.as_str(), consent.guardian.as_deref()),
            ("Office Wang", Some("Zhang Da"))
        );
    }
}
