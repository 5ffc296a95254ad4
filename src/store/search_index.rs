//! The residents search, and each resident's search filter, which lets a search open only the
//! rows that may match instead of every sealed name and unit.
//!
//! A filter is a 512-bit Bloom filter of the characters and of the pairs of adjacent characters
//! of the resident's name and of their unit (lower-cased), each setting two bits chosen by
//! HMAC-SHA256 under the register's search key (HKDF purpose `register-search` of the site key).
//! A search computes the same bits for its text: a row whose filter lacks one of them cannot
//! contain the text in its name or unit and stays sealed; the rows left (the matches and a few
//! more) are opened and checked exactly, so a search finds what opening every row would find. A
//! row without a filter (written by an older version; filled in when the store is opened with
//! its key) is always opened.
//!
//! What a copy of the database without the key shows: no character can be tested without the
//! key, and no name is in it. But equal names and units have equal filters; residents who share
//! characters share bits (a family's surname, a building's units); the bits set grow with the
//! length of the name; and over many rows the bits of the most frequent characters are the most
//! frequent, so someone with the file and a table of common surnames could guess which rows
//! share a common one.

use hmac::{Hmac, KeyInit, Mac};
use rusqlite::params;
use sha2::Sha256;

use super::register_fields::Field;
use super::{Resident, Result, Store};
use crate::keys::Key;

/// Bytes of a filter.
const FILTER_LEN: usize = 64;

/// The bits a text's characters and pairs of adjacent characters set (lower-cased).
fn bits(key: &Key, text: &str) -> Vec<usize> {
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0).expect("any key length");
    let mut bits = Vec::new();
    for gram in chars.windows(1).chain(chars.windows(2)) {
        let mut mac = keyed.clone();
        mac.update(gram.iter().collect::<String>().as_bytes());
        let tag = mac.finalize().into_bytes();
        for at in [0, 2] {
            bits.push(usize::from(u16::from_le_bytes([tag[at], tag[at + 1]])) % (FILTER_LEN * 8));
        }
    }
    bits
}

/// The search filter of a resident's name and unit.
pub(super) fn filter(key: &Key, name: &str, unit: &str) -> Vec<u8> {
    let mut filter = vec![0u8; FILTER_LEN];
    for bit in bits(key, name).into_iter().chain(bits(key, unit)) {
        filter[bit / 8] |= 1 << (bit % 8);
    }
    filter
}

/// Whether a row with this filter may contain the text of these bits (always, without one).
fn may_match(filter: Option<&[u8]>, bits: &[usize]) -> bool {
    match filter {
        Some(filter) if filter.len() == FILTER_LEN => {
            bits.iter().all(|bit| filter[bit / 8] & (1 << (bit % 8)) != 0)
        }
        _ => true,
    }
}

impl Store {
    /// Residents whose number, name or unit contains `text` (case-insensitive), by number.
    pub fn search_residents(&self, text: &str) -> Result<Vec<Resident>> {
        self.matching(text)?.into_iter().map(|id| self.resident_by_id(id)).collect()
    }

    /// One page (`limit` from `offset`) of [`Store::search_residents`], and how many match in
    /// all: only the page's residents are read whole.
    pub fn search_residents_page(
        &self,
        text: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Resident>, usize)> {
        let ids = self.matching(text)?;
        let page = ids.iter().skip(offset).take(limit).map(|&id| self.resident_by_id(id));
        Ok((page.collect::<Result<_>>()?, ids.len()))
    }

    /// The ids of the residents whose number, name or unit contains `text` (case-insensitive),
    /// by number; a name or unit is opened only where the row's filter lets the text through.
    fn matching(&self, text: &str) -> Result<Vec<i64>> {
        let needle = text.to_lowercase();
        let wanted = bits(self.fields.search(), text);
        let contains = |field, id, sealed: &[u8]| -> rusqlite::Result<bool> {
            Ok(self.fields.open(field, id, sealed)?.to_lowercase().contains(&needle))
        };
        let found = |r: &rusqlite::Row, id| -> rusqlite::Result<bool> {
            Ok(r.get_ref(1)?.as_str()?.to_lowercase().contains(&needle)
                || may_match(r.get_ref(4)?.as_blob_or_null()?, &wanted)
                    && (contains(Field::ResidentName, id, r.get_ref(2)?.as_blob()?)?
                        || contains(Field::ResidentUnit, id, r.get_ref(3)?.as_blob()?)?))
        };
        let mut stmt = self
            .conn
            .prepare("SELECT id, number, name, unit, search FROM residents ORDER BY number")?;
        let mut rows = stmt.query([])?;
        let mut ids = Vec::new();
        while let Some(r) = rows.next()? {
            let id = r.get(0)?;
            if found(r, id)? {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Writes the search filter of each resident without one (rows of an older version) whose
    /// name and unit open with this store's key; returns how many it wrote.
    pub(super) fn fill_search_filters(&mut self) -> Result<usize> {
        let missing: Vec<(i64, Vec<u8>, Vec<u8>)> = self
            .conn
            .prepare(
                "SELECT id, name, unit FROM residents
                 WHERE search IS NULL AND typeof(name) = 'blob' AND typeof(unit) = 'blob'",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let key = self.fields.clone();
        let filters: Vec<(i64, Vec<u8>)> = missing
            .into_iter()
            .filter_map(|(id, name, unit)| {
                let name = key.open(Field::ResidentName, id, &name).ok()?;
                let unit = key.open(Field::ResidentUnit, id, &unit).ok()?;
                Some((id, filter(key.search(), &name, &unit)))
            })
            .collect();
        if filters.is_empty() {
            return Ok(0);
        }
        self.transaction(|tx| {
            for (id, filter) in &filters {
                tx.execute(
                    "UPDATE residents SET search = ?1 WHERE id = ?2 AND search IS NULL",
                    params![filter, id],
                )?;
            }
            Ok(filters.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KEY_LEN, SiteKey};
    use crate::store::NewResident;
    use crate::store::register_fields::FieldKey;

    const PEOPLE: [(&str, &str, &str); 8] = [
        ("1201", "王小明", "3-1201"),
        ("1202", "王小红", "3-1202"),
        ("1301", "李伟", "3-1301"),
        ("2101", "Li Wei", "5-2101"),
        ("2102", "Olivia Wang", "5-2102"),
        ("88", "Zhang San", "B-12"),
        ("9001", "İlkay Şahin", "Ä-3"),
        ("120", "张三丰", "1-120"),
    ];

    const QUERIES: [&str; 20] = [
        "王", "王小", "小明", "明", "李伟", "li", "LI WEI", "wang", "liv", "1201", "12", "3-12",
        "b-1", "5-", "ä", "İLK", "三", "张三", "nobody", "e",
    ];

    fn store() -> Store {
        let mut store = Store::in_memory(&SiteKey::from_bytes([7; KEY_LEN])).unwrap();
        for (number, name, unit) in PEOPLE {
            let new = NewResident {
                number: number.into(),
                name: name.into(),
                unit: unit.into(),
                ..Default::default()
            };
            store.add_resident(&new, 1, "wang").unwrap();
        }
        store
    }

    /// The search as it was before the filters: every row opened and compared.
    fn opening_every_row(store: &Store, text: &str) -> Vec<Resident> {
        let needle = text.to_lowercase();
        let mut all = store.residents().unwrap();
        all.retain(|r| {
            [&r.number, &r.name, &r.unit].iter().any(|f| f.to_lowercase().contains(&needle))
        });
        all
    }

    fn numbers(residents: &[Resident]) -> Vec<&str> {
        residents.iter().map(|r| r.number.as_str()).collect()
    }

    #[test]
    fn a_search_finds_what_opening_every_row_finds() {
        let store = store();
        for query in QUERIES {
            let old = opening_every_row(&store, query);
            let new = store.search_residents(query).unwrap();
            assert_eq!(numbers(&new), numbers(&old), "{query}");
            assert_eq!(new, old, "{query}: the same residents, whole");
            let (page, total) = store.search_residents_page(query, 1, 2).unwrap();
            let expected: Vec<_> = old.iter().skip(1).take(2).cloned().collect();
            assert_eq!((page, total), (expected, old.len()), "{query}: a page");
        }
        assert_eq!(numbers(&store.search_residents("王小").unwrap()), ["1201", "1202"]);
        assert_eq!(numbers(&store.search_residents("liv").unwrap()), ["2102"]);
        assert!(store.search_residents("nobody").unwrap().is_empty());
    }

    #[test]
    fn a_filter_lets_through_the_texts_a_row_contains_and_keeps_most_others_sealed() {
        let key = Key([3; KEY_LEN]);
        let row = filter(&key, "王小明", "3-1201");
        for text in ["王小明", "小明", "王", "3-12", "1201", "01"] {
            assert!(may_match(Some(row.as_slice()), &bits(&key, text)), "{text}");
        }
        let sealed = ["李伟", "Olivia", "5-2102", "王小红"];
        assert!(sealed.iter().all(|text| !may_match(Some(row.as_slice()), &bits(&key, text))));
        assert!(may_match(None, &bits(&key, "李伟")), "a row without a filter is opened");
        let other = filter(&Key([4; KEY_LEN]), "王小明", "3-1201");
        assert_ne!(row, other, "another key, another filter");
    }

    #[test]
    fn rows_without_a_filter_are_found_and_given_one_when_opened_with_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate.db");
        let key = SiteKey::from_bytes([7; KEY_LEN]);
        let mut store =
            Store::ready(rusqlite::Connection::open(&path).unwrap(), &path, &key).unwrap();
        let new =
            NewResident { number: "1201".into(), name: "王小明".into(), ..Default::default() };
        store.add_resident(&new, 1, "wang").unwrap();
        store.conn.execute("UPDATE residents SET search = NULL", []).unwrap();
        assert_eq!(numbers(&store.search_residents("小明").unwrap()), ["1201"]);
        drop(store);
        let filters = || {
            let raw = rusqlite::Connection::open(&path).unwrap();
            raw.query_row("SELECT COUNT(search) FROM residents", [], |r| r.get::<_, i64>(0))
                .unwrap()
        };
        drop(Store::open_with_key(&path, &SiteKey::from_bytes([8; KEY_LEN])).unwrap());
        assert_eq!(filters(), 0, "a wrong key writes no filter");
        let mut store = Store::open_with_key(&path, &key).unwrap();
        assert_eq!(filters(), 1);
        assert_eq!(numbers(&store.search_residents("小明").unwrap()), ["1201"]);

        let rotated = SiteKey::from_bytes([9; KEY_LEN]);
        store.rotate_key(&rotated, 2).unwrap();
        assert_eq!(numbers(&store.search_residents("小明").unwrap()), ["1201"], "after a rotation");
        let raw = rusqlite::Connection::open(&path).unwrap();
        let stored: Vec<u8> =
            raw.query_row("SELECT search FROM residents", [], |r| r.get(0)).unwrap();
        let search = FieldKey::from_site(&rotated);
        assert_eq!(stored, filter(search.search(), "王小明", ""), "re-keyed with the rotation");
    }
}
