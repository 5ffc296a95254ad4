//! Site and door ids: `^[a-z0-9][a-z0-9-]{0,31}$`, so they fit NATS subjects, bucket names and
//! broker user names as they are.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An id that is not `^[a-z0-9][a-z0-9-]{0,31}$`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} id {given:?} is not valid: 1 to 32 characters a-z, 0-9 and '-', starting with a letter or digit"
)]
pub struct IdError {
    what: &'static str,
    given: String,
}

fn check(what: &'static str, text: &str) -> Result<(), IdError> {
    let mut bytes = text.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if first_ok && rest_ok && text.len() <= 32 {
        Ok(())
    } else {
        Err(IdError { what, given: text.chars().take(40).collect() })
    }
}

macro_rules! id_type {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A valid ", $what, " id.")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                check($what, text)?;
                Ok(Self(text.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(text: String) -> Result<Self, IdError> {
                check($what, &text)?;
                Ok(Self(text))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(SiteId, "site");
id_type!(DoorId, "door");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fit_subjects_and_user_names_only() {
        for good in ["a", "north-gate", "0", "b2", &"x".repeat(32)] {
            assert!(good.parse::<DoorId>().is_ok(), "{good}");
        }
        for bad in ["", "-a", "North", "a.b", "a*", "a>", "a b", "门", &"x".repeat(33)] {
            let err = bad.parse::<SiteId>().unwrap_err();
            assert!(err.to_string().contains("site id"), "{err}");
        }
        let json: Result<DoorId, _> = serde_json::from_str("\"a.>\"");
        assert!(json.is_err(), "a door id read from a file is checked too");
    }
}
