//! The door record: what a door needs of one resident, published by the site under
//! `r.<resident id>` in the site's bucket. It carries no name, unit, birth year, guardian or
//! consent operator; a display name only when the site greets by name and the resident agreed.
//!
//! Security rows (PIN hash, card indexes, templates) travel with their row MACs: the door shares
//! the site key, so a row copied onto another resident fails its MAC at the door as it would at
//! the site. Byte fields are hex in the JSON.

use serde::{Deserialize, Serialize};

use crate::store::ResidentStatus;
use crate::store::admin_pins::AdminPinEntry;
use crate::store::pin_resets::PinResetRecord;

/// One resident as a door sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoorRecord {
    /// The resident's id in the register (also their id in every door database).
    pub resident: i64,
    /// What they type on the keypad.
    pub number: String,
    pub status: ResidentStatus,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub created_at: i64,
    pub require_card_pin: bool,
    pub pin: Option<PinEntry>,
    pub cards: Vec<CardEntry>,
    /// The active consents the templates were enrolled under (id and notice version; not who
    /// recorded them).
    pub consents: Vec<ConsentEntry>,
    pub templates: Vec<TemplateEntry>,
    /// Only with `greet_by_name` and the resident's agreement.
    pub display_name: Option<String>,
    /// The resident's open PIN-reset code (its keyed index only); a code used at a door stays
    /// used there until the site, told by that door's `pin` message, removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_reset: Option<PinResetRecord>,
    /// The admin-mode PIN, for a resident who has one (they open admin mode only at doors
    /// whose `[gate] admins` lists them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_pin: Option<AdminPinEntry>,
}

/// A PIN hash (argon2id PHC under the site's pepper) with its row MAC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinEntry {
    pub phc: String,
    pub updated_at: i64,
    #[serde(with = "hex_opt")]
    pub credential_root: Option<Vec<u8>>,
    #[serde(with = "hex_opt")]
    pub mac: Option<Vec<u8>>,
}

/// A card's keyed index (never its UID) with its row MAC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardEntry {
    pub id: i64,
    #[serde(with = "hex_bytes")]
    pub index: Vec<u8>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    #[serde(with = "hex_opt")]
    pub credential_root: Option<Vec<u8>>,
    #[serde(with = "hex_opt")]
    pub mac: Option<Vec<u8>>,
}

/// The consent a resident's templates belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentEntry {
    pub id: i64,
    pub granted_at: i64,
    pub text_version: String,
    pub text_sha256: String,
}

/// A protected template (salted vector) with its row MAC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateEntry {
    pub id: i64,
    pub consent_id: i64,
    #[serde(with = "hex_bytes")]
    pub salt: Vec<u8>,
    #[serde(with = "hex_bytes")]
    pub vector: Vec<u8>,
    pub model: String,
    pub created_at: i64,
    #[serde(with = "hex_opt")]
    pub mac: Option<Vec<u8>>,
}

impl DoorRecord {
    /// The record's key in the site's bucket.
    pub fn key(&self) -> String {
        resident_key(self.resident)
    }
}

/// The bucket key of a resident's record: `r.<id>`.
pub fn resident_key(resident: i64) -> String {
    format!("r.{resident}")
}

/// The resident id of a bucket key `r.<id>`.
pub fn resident_of_key(key: &str) -> Option<i64> {
    key.strip_prefix("r.")?.parse().ok().filter(|id: &i64| *id > 0)
}

/// Bytes as a hex string.
pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Optional bytes as a hex string or null.
pub(crate) mod hex_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => s.serialize_str(&hex::encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| hex::decode(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_residents_by_id_only() {
        assert_eq!(resident_key(42), "r.42");
        assert_eq!(resident_of_key("r.42"), Some(42));
        for other in ["v.1", "r.", "r.x", "r.-1", "r.0", "c.north"] {
            assert_eq!(resident_of_key(other), None, "{other}");
        }
    }
}
