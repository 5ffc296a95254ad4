//! Residents: who may open the door, and until when.

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::audit::{AuditKind, Chain, append};
use super::refusal::Refusal;
use super::register_fields::{Field, FieldKey, open_birth_year, write_resident};
use super::{Result, Store, StoreError};
use crate::credentials::lockout::resident_key;

/// Whether a resident may use the door at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResidentStatus {
    Active,
    Suspended,
}

impl ResidentStatus {
    /// The stored (and typed) word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

impl std::str::FromStr for ResidentStatus {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            _ => Err(format!("unknown status `{text}` (active or suspended)")),
        }
    }
}

/// A resident as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resident {
    pub id: i64,
    /// What the resident types on the keypad.
    pub number: String,
    pub name: String,
    pub unit: String,
    pub status: ResidentStatus,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub birth_year: Option<i32>,
    pub created_at: i64,
    /// Face templates on file.
    pub templates: i64,
    /// This resident's cards open only together with their PIN.
    pub require_card_pin: bool,
}

impl Resident {
    /// How audit rows name this resident: pseudonymous.
    pub fn subject(&self) -> String {
        format!("resident#{}", self.id)
    }

    /// Whether access is valid at `now` (active and within the validity dates).
    pub(crate) fn valid_at(&self, now: i64) -> bool {
        self.status == ResidentStatus::Active
            && self.valid_from.is_none_or(|from| now >= from)
            && self.valid_until.is_none_or(|until| now < until)
    }

    /// Whether the resident is younger than `minor_age` in the year of `now`.
    pub(crate) fn is_minor(&self, now: i64, minor_age: i32) -> bool {
        let year = 1970 + (now / 31_556_952) as i32; // mean Gregorian year in seconds
        self.birth_year.is_some_and(|born| year - born < minor_age)
    }
}

/// The fields of a new resident, or of an edit (where `None` keeps the stored value).
#[derive(Debug, Clone, Default)]
pub struct NewResident {
    pub number: String,
    pub name: String,
    pub unit: String,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub birth_year: Option<i32>,
}

/// Checks a resident number: 1 to 12 digits, as typed on the keypad.
pub(crate) fn check_number(number: &str) -> Result<()> {
    if number.is_empty() || number.len() > 12 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::BadNumber(number.to_owned()).into());
    }
    Ok(())
}

/// Checks a new resident's number and name.
pub(crate) fn check_new(new: &NewResident) -> Result<()> {
    check_number(&new.number)?;
    if new.name.trim().is_empty() || new.name.chars().count() > 100 {
        return Err(Refusal::BadName.into());
    }
    Ok(())
}

const COLUMNS: &str = "r.id, r.number, r.name, r.unit, r.status, r.valid_from, r.valid_until, r.birth_year, r.created_at,
    (SELECT COUNT(*) FROM templates t WHERE t.resident_id = r.id), r.require_card_pin";

fn from_row(r: &Row, key: &FieldKey) -> rusqlite::Result<Resident> {
    let status: String = r.get(4)?;
    let id = r.get(0)?;
    Ok(Resident {
        id,
        number: r.get(1)?,
        name: key.open(Field::ResidentName, id, &r.get::<_, Vec<u8>>(2)?)?,
        unit: key.open(Field::ResidentUnit, id, &r.get::<_, Vec<u8>>(3)?)?,
        status: if status == "active" { ResidentStatus::Active } else { ResidentStatus::Suspended },
        valid_from: r.get(5)?,
        valid_until: r.get(6)?,
        birth_year: open_birth_year(key, id, r.get(7)?)?,
        created_at: r.get(8)?,
        templates: r.get(9)?,
        require_card_pin: r.get(10)?,
    })
}

impl Store {
    /// Adds a resident.
    pub fn add_resident(
        &mut self,
        new: &NewResident,
        now: i64,
        operator: &str,
    ) -> Result<Resident> {
        self.add_residents(std::slice::from_ref(new), now, operator)?;
        self.resident(&new.number)
    }

    /// Adds residents in one transaction: all of them, or none (the first bad one is the
    /// error). Returns how many were added.
    pub fn add_residents(
        &mut self,
        new: &[NewResident],
        now: i64,
        operator: &str,
    ) -> Result<usize> {
        for resident in new {
            check_new(resident)?;
            if self.find_resident(&resident.number)?.is_some() {
                return Err(StoreError::DuplicateResident(resident.number.clone()));
            }
        }
        let key = self.audit_key().clone();
        let fields = self.fields.clone();
        self.transaction(|tx| {
            for new in new {
                let inserted = tx.execute(
                    "INSERT INTO residents (number, name, unit, valid_from, valid_until, created_at)
                     VALUES (?1, X'', X'', ?2, ?3, ?4) ON CONFLICT (number) DO NOTHING",
                    params![new.number, new.valid_from, new.valid_until, now],
                )?;
                if inserted == 0 {
                    return Err(StoreError::DuplicateResident(new.number.clone()));
                }
                let id = tx.last_insert_rowid();
                write_resident(tx, &fields, id, new.name.trim(), &new.unit, new.birth_year)?;
                let subject = format!("resident#{id}");
                let detail = format!("by {operator}");
                append(tx, &key, Chain::Admin, now, AuditKind::ResidentAdded, &subject, &detail)?;
            }
            Ok(new.len())
        })
    }

    /// The resident with this number, if any.
    pub fn find_resident(&self, number: &str) -> Result<Option<Resident>> {
        let sql = format!("SELECT {COLUMNS} FROM residents r WHERE r.number = ?1");
        Ok(self.conn.query_row(&sql, [number], |r| from_row(r, &self.fields)).optional()?)
    }

    /// The resident with this number, or [`StoreError::UnknownResident`].
    pub fn resident(&self, number: &str) -> Result<Resident> {
        self.find_resident(number)?.ok_or_else(|| StoreError::UnknownResident(number.to_owned()))
    }

    /// The resident with this internal id.
    pub fn resident_by_id(&self, id: i64) -> Result<Resident> {
        let sql = format!("SELECT {COLUMNS} FROM residents r WHERE r.id = ?1");
        self.conn
            .query_row(&sql, [id], |r| from_row(r, &self.fields))
            .optional()?
            .ok_or_else(|| StoreError::UnknownResident(format!("#{id}")))
    }

    /// All residents, by number.
    pub(crate) fn residents(&self) -> Result<Vec<Resident>> {
        let sql = format!("SELECT {COLUMNS} FROM residents r ORDER BY r.number");
        let mut stmt = self.conn.prepare(&sql)?;
        let all =
            stmt.query_map([], |r| from_row(r, &self.fields))?.collect::<rusqlite::Result<_>>()?;
        Ok(all)
    }

    /// One page of residents by number (`limit` from `offset`), and how many there are in all.
    pub fn residents_page(&self, offset: usize, limit: usize) -> Result<(Vec<Resident>, usize)> {
        let sql = format!("SELECT {COLUMNS} FROM residents r ORDER BY r.number LIMIT ?1 OFFSET ?2");
        let mut stmt = self.conn.prepare(&sql)?;
        let page = stmt
            .query_map(params![limit as i64, offset as i64], |r| from_row(r, &self.fields))?
            .collect::<rusqlite::Result<_>>()?;
        let total: i64 = self.conn.query_row("SELECT COUNT(*) FROM residents", [], |r| r.get(0))?;
        Ok((page, total as usize))
    }

    /// Changes name, unit, dates, birth year or status; empty strings and `None` keep a value.
    pub(crate) fn edit_resident(
        &mut self,
        number: &str,
        edit: &NewResident,
        status: Option<ResidentStatus>,
        now: i64,
        operator: &str,
    ) -> Result<Resident> {
        let before = self.resident(number)?;
        let key = self.audit_key().clone();
        let fields = self.fields.clone();
        let name = if edit.name.is_empty() { before.name.clone() } else { edit.name.clone() };
        let unit = if edit.unit.is_empty() { before.unit.clone() } else { edit.unit.clone() };
        self.transaction(|tx| {
            tx.execute(
                "UPDATE residents SET status = ?1, valid_from = ?2, valid_until = ?3 WHERE id = ?4",
                params![
                    status.unwrap_or(before.status).as_str(),
                    edit.valid_from.or(before.valid_from),
                    edit.valid_until.or(before.valid_until),
                    before.id
                ],
            )?;
            let birth_year = edit.birth_year.or(before.birth_year);
            write_resident(tx, &fields, before.id, &name, &unit, birth_year)?;
            append(
                tx,
                &key,
                Chain::Admin,
                now,
                AuditKind::ResidentEdited,
                &before.subject(),
                &format!("by {operator}"),
            )
        })?;
        self.resident(number)
    }

    /// Requires (or stops requiring) the resident's PIN after their card.
    pub(crate) fn set_require_card_pin(
        &mut self,
        number: &str,
        required: bool,
        now: i64,
        operator: &str,
    ) -> Result<()> {
        let resident = self.resident(number)?;
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            tx.execute(
                "UPDATE residents SET require_card_pin = ?1 WHERE id = ?2",
                params![required, resident.id],
            )?;
            append(
                tx,
                &key,
                Chain::Admin,
                now,
                AuditKind::CardPinPolicy,
                &resident.subject(),
                &format!("required={required} by {operator}"),
            )
        })
    }

    /// Deletes a resident and everything about them (consent, templates, PIN, cards, keypad
    /// lockout); only pseudonymous audit rows remain.
    pub(crate) fn remove_resident(&mut self, number: &str, now: i64, operator: &str) -> Result<()> {
        let resident = self.resident(number)?;
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            tx.execute("DELETE FROM lockouts WHERE key = ?1", [resident_key(&resident.number)])?;
            tx.execute("DELETE FROM residents WHERE id = ?1", [resident.id])?;
            append(
                tx,
                &key,
                Chain::Admin,
                now,
                AuditKind::ResidentRemoved,
                &resident.subject(),
                &format!("by {operator}"),
            )
        })?;
        self.checkpoint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KEY_LEN, SiteKey};

    pub fn resident(number: &str) -> NewResident {
        NewResident {
            number: number.into(),
            name: "Test Resident".into(),
            unit: "3-1201".into(),
            ..Default::default()
        }
    }

    #[test]
    fn add_find_edit_remove() {
        let mut s = Store::in_memory(&SiteKey::from_bytes([1; KEY_LEN])).unwrap();
        let r = s.add_resident(&resident("1201"), 10, "manager").unwrap();
        assert_eq!((r.number.as_str(), r.templates), ("1201", 0));
        assert!(matches!(
            s.add_resident(&resident("1201"), 11, "m"),
            Err(StoreError::DuplicateResident(_))
        ));
        assert!(matches!(s.add_resident(&resident("12a"), 11, "m"), Err(StoreError::Refused(_))));
        let edited = s
            .edit_resident(
                "1201",
                &NewResident { valid_until: Some(100), ..Default::default() },
                None,
                12,
                "m",
            )
            .unwrap();
        assert_eq!((edited.valid_until, edited.name.as_str()), (Some(100), "Test Resident"));
        assert!(edited.valid_at(99) && !edited.valid_at(100));
        let locked = crate::credentials::LockoutState {
            failures: 5,
            locked_until: Some(99),
            last_failure_at: Some(12),
        };
        s.set_lockout(&resident_key("1201"), &locked).unwrap();
        s.remove_resident("1201", 13, "m").unwrap();
        assert_eq!(s.lockout(&resident_key("1201")).unwrap(), Default::default());
        assert!(matches!(s.resident("1201"), Err(StoreError::UnknownResident(_))));
        let log = s.audit_entries(None).unwrap();
        assert_eq!(
            log.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            ["resident_added", "resident_edited", "resident_removed"]
        );
        assert!(
            log.iter().all(|e| !e.detail.contains("Test Resident") && !e.subject.contains("1201"))
        );
    }

    #[test]
    fn a_batch_is_added_whole_or_not_at_all() {
        let mut s = Store::in_memory(&SiteKey::from_bytes([1; KEY_LEN])).unwrap();
        let batch = [resident("1"), resident("2"), resident("1")];
        assert!(
            matches!(s.add_residents(&batch, 1, "m"), Err(StoreError::DuplicateResident(n)) if n == "1")
        );
        assert_eq!(s.residents_page(0, 10).unwrap().1, 0, "nothing of a failed batch stays");
        let long = NewResident { name: "名".repeat(100), ..resident("3") };
        assert_eq!(s.add_residents(&[resident("1"), resident("2"), long], 1, "m").unwrap(), 3);
        let (page, total) = s.residents_page(1, 1).unwrap();
        assert_eq!((page[0].number.as_str(), total), ("2", 3));
        let too_long = NewResident { name: "名".repeat(101), ..resident("4") };
        assert!(matches!(s.add_residents(&[too_long], 1, "m"), Err(StoreError::Refused(_))));
    }

    #[test]
    fn minors_by_birth_year() {
        let mut r = Resident {
            id: 1,
            number: "1".into(),
            name: "x".into(),
            unit: "u".into(),
            status: ResidentStatus::Active,
            valid_from: None,
            valid_until: None,
            birth_year: Some(2015),
            created_at: 0,
            templates: 0,
            require_card_pin: false,
        };
        let year_2026 = 1_780_000_000; // mid-2026
        assert!(r.is_minor(year_2026, 14));
        r.birth_year = Some(2000);
        assert!(!r.is_minor(year_2026, 14));
        r.birth_year = None;
        assert!(!r.is_minor(year_2026, 14));
    }
}
