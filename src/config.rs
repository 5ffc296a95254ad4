//! The gate's configuration: one TOML file, one section per domain, a default for everything.
//!
//! Each domain owns its section's type (e.g. [`crate::vision::VisionConfig`]); this file only
//! composes them and loads the file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::{ConsentConfig, RetentionConfig, StoreConfig};
use crate::templates::MatchingConfig;
use crate::vision::VisionConfig;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub paths: PathsConfig,
    pub vision: VisionConfig,
    pub store: StoreConfig,
    pub matching: MatchingConfig,
    pub consent: ConsentConfig,
    pub retention: RetentionConfig,
}

/// Where the gate keeps its files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PathsConfig {
    /// Folder holding the ONNX model files named in `models/manifest.toml`.
    pub models: PathBuf,
}

impl Default for PathsConfig {
    fn default() -> Self {
        Self { models: PathBuf::from("models") }
    }
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
}

impl Config {
    /// Loads a config file; `None` gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else { return Ok(Self::default()) };
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.to_owned(), source })
    }
}
