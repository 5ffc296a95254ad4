//! The names of a site and of its doors: `^[a-z0-9][a-z0-9-]{0,31}$`, checked once on parse, so
//! that they can go into broker subjects, user names and file names as they are.

use std::fmt;
use std::str::FromStr;

/// A site or door name that does not fit `^[a-z0-9][a-z0-9-]{0,31}$`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} id {value:?} must be 1 to 32 characters of a-z, 0-9 and '-', starting with a letter \
     or digit"
)]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
}

fn is_valid(value: &str) -> bool {
    let bytes = value.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (1..=32).contains(&bytes.len())
        && allowed(&bytes[0])
        && bytes[1..].iter().all(|b| allowed(b) || *b == b'-')
}

macro_rules! id_type {
    ($name:ident, $kind:literal) => {
        #[doc = concat!("A validated ", $kind, " id.")]
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(value: &str) -> Result<Self, IdError> {
                if is_valid(value) {
                    Ok($name(value.to_string()))
                } else {
                    Err(IdError { kind: $kind, value: value.to_string() })
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(value: String) -> Result<Self, IdError> {
                value.parse()
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
    fn ids_that_fit_subjects_and_file_names_parse() {
        for ok in ["a", "north-gate", "0", "a-", &"x".repeat(32)] {
            assert_eq!(ok.parse::<DoorId>().unwrap().as_str(), ok);
        }
    }

    #[test]
    fn ids_that_could_break_a_subject_or_a_path_are_refused() {
        let bad =
            ["", "-a", "North", "a.b", "a_b", "a b", "a>", "a*", "../x", "é", &"x".repeat(33)];
        for value in bad {
            let err = value.parse::<SiteId>().unwrap_err();
            assert_eq!(err, IdError { kind: "site", value: value.to_string() });
        }
        assert!(serde_json::from_str::<DoorId>("\"North\"").is_err(), "checked when read, too");
        let door: DoorId = serde_json::from_str("\"north\"").unwrap();
        assert_eq!(serde_json::to_string(&door).unwrap(), "\"north\"");
    }
}
