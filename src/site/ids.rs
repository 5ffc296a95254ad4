//! The names of doors: `^[a-z0-9][a-z0-9-]{0,31}$`, checked once, here.

use serde::{Deserialize, Serialize};

/// A door's id, as broker subjects, KV keys and visitor passes name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DoorId(String);

/// Why a text is not a door id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a door id: 1 to 32 lowercase letters, digits or '-', starting with a letter or digit"
)]
pub struct DoorIdError(pub String);

impl DoorId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for DoorId {
    type Err = DoorIdError;

    fn from_str(text: &str) -> Result<Self, DoorIdError> {
        let lower_or_digit = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let ok = matches!(text.as_bytes().first(), Some(&b) if lower_or_digit(b))
            && text.len() <= 32
            && text.bytes().all(|b| lower_or_digit(b) || b == b'-');
        if !ok {
            return Err(DoorIdError(text.chars().take(40).collect()));
        }
        Ok(Self(text.to_owned()))
    }
}

impl TryFrom<String> for DoorId {
    type Error = DoorIdError;

    fn try_from(text: String) -> Result<Self, DoorIdError> {
        text.parse()
    }
}

impl From<DoorId> for String {
    fn from(id: DoorId) -> String {
        id.0
    }
}

impl std::fmt::Display for DoorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn door_ids_follow_the_contract() {
        for good in ["a", "north-gate", "0", &"a".repeat(32), "b2-"] {
            assert_eq!(good.parse::<DoorId>().unwrap().as_str(), good);
        }
        for bad in ["", "-a", "North", "a.b", "a_b", &"a".repeat(33), "门"] {
            assert!(bad.parse::<DoorId>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<DoorId>("\"A\"").is_err());
    }
}
