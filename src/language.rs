//! The languages the gate speaks: on the touchscreen and in the notice residents read.

use serde::{Deserialize, Serialize};

/// A language of the screen and the notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Zh,
    En,
}

impl std::str::FromStr for Language {
    type Err = String;

    /// `zh` or `en`, as in the config file.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "zh" => Ok(Self::Zh),
            "en" => Ok(Self::En),
            _ => Err(format!("unknown language `{text}` (zh or en)")),
        }
    }
}
