//! What an entry of the site's bucket holds, by its key's prefix (contract names):
//! `r.<resident id>` a [`DoorRecord`], `v.<pass id>` a [`VisitorPassRecord`], `b.<booking id>`
//! a [`Booking`]. A pass that is revoked, used up or past its window and a booking that is done
//! or past its time are deleted from the bucket; a door removes its copy on the tombstone (and
//! refuses an expired pass by its own clock before that).
//!
//! PIN-reset codes travel inside the resident's door record ([`DoorRecord::pin_reset`]): a code
//! belongs to one resident, goes when the resident goes, and needs no ordering against the
//! record it depends on.

use crate::site::record::{DoorRecord, resident_of_key};
use crate::store::{Booking, VisitorPassRecord};

/// A bucket key of the kinds a replica stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKey {
    Resident(i64),
    Pass(i64),
    Booking(i64),
}

impl EntryKey {
    /// The key of `r.<id>`, `v.<id>` or `b.<id>` (ids above 0); `None` for any other key.
    pub fn parse(key: &str) -> Option<EntryKey> {
        if let Some(resident) = resident_of_key(key) {
            return Some(EntryKey::Resident(resident));
        }
        let (prefix, id) = key.split_once('.')?;
        if !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id = id.parse().ok().filter(|id: &i64| *id > 0)?;
        match prefix {
            "v" => Some(EntryKey::Pass(id)),
            "b" => Some(EntryKey::Booking(id)),
            _ => None,
        }
    }

    /// Whether the site's publisher owns keys of this kind (it deletes those it no longer
    /// publishes, and leaves any other key alone).
    pub fn is_published(key: &str) -> bool {
        EntryKey::parse(key).is_some()
    }
}

impl std::fmt::Display for EntryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryKey::Resident(id) => write!(f, "r.{id}"),
            EntryKey::Pass(id) => write!(f, "v.{id}"),
            EntryKey::Booking(id) => write!(f, "b.{id}"),
        }
    }
}

/// The value of a put, read by its key's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryValue {
    Resident(DoorRecord),
    Pass(VisitorPassRecord),
    Booking(Booking),
}

impl EntryValue {
    /// Reads a put's JSON for `key`.
    pub fn read(key: EntryKey, json: &[u8]) -> Result<EntryValue, serde_json::Error> {
        Ok(match key {
            EntryKey::Resident(_) => EntryValue::Resident(serde_json::from_slice(json)?),
            EntryKey::Pass(_) => EntryValue::Pass(serde_json::from_slice(json)?),
            EntryKey::Booking(_) => EntryValue::Booking(serde_json::from_slice(json)?),
        })
    }

    /// The key this value belongs under.
    pub fn key(&self) -> EntryKey {
        match self {
            EntryValue::Resident(record) => EntryKey::Resident(record.resident),
            EntryValue::Pass(pass) => EntryKey::Pass(pass.id),
            EntryValue::Booking(booking) => EntryKey::Booking(booking.id),
        }
    }

    /// The value's JSON, as it is put.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        match self {
            EntryValue::Resident(record) => serde_json::to_vec(record),
            EntryValue::Pass(pass) => serde_json::to_vec(pass),
            EntryValue::Booking(booking) => serde_json::to_vec(booking),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_one_resident_pass_or_booking_by_id() {
        for (text, key) in [
            ("r.7", EntryKey::Resident(7)),
            ("v.12", EntryKey::Pass(12)),
            ("b.3", EntryKey::Booking(3)),
        ] {
            assert_eq!(EntryKey::parse(text), Some(key));
            assert_eq!(key.to_string(), text);
        }
        for other in ["c.north", "v.", "v.0", "v.-2", "b.x", "v.+3", "x.1", "v.1.2"] {
            assert_eq!(EntryKey::parse(other), None, "{other}");
            assert!(!EntryKey::is_published(other), "{other}");
        }
    }
}
