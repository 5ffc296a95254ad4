//! The gate's configuration: one TOML file, one section per domain, a default for everything.
//!
//! Each domain owns its section's type (e.g. [`crate::vision::VisionConfig`]); this file only
//! composes them and loads the file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::access::{AccessConfig, AccessConfigError};
use crate::credentials::readers::ReaderConfig;
use crate::credentials::{AttemptLimits, PinConfig};
use crate::door::{DoorConfig, DoorError};
use crate::runtime::camera::{CameraConfig, CameraConfigError};
use crate::runtime::gate::{GateConfig, GateConfigError, GateSettings};
use crate::site::SiteConfig;
use crate::store::consent::NoticeTerms;
use crate::store::{ConsentConfig, RetentionConfig, RetentionConfigError, StoreConfig};
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
    pub pin: PinConfig,
    pub attempts: AttemptLimits,
    pub access: AccessConfig,
    pub door: DoorConfig,
    pub gate: GateConfig,
    pub reader: ReaderConfig,
    pub camera: CameraConfig,
    pub site: SiteConfig,
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
    #[error("config file {path}: {source}")]
    Invalid { path: PathBuf, source: InvalidConfig },
}

/// A setting serde accepts but the gate cannot run with.
#[derive(Debug, thiserror::Error)]
pub enum InvalidConfig {
    #[error(transparent)]
    Access(#[from] AccessConfigError),
    #[error(transparent)]
    Door(#[from] DoorError),
    #[error("[reader] Wiegand pin BCM {0} is also a door pin")]
    WiegandPinTaken(u8),
    #[error(transparent)]
    Camera(#[from] CameraConfigError),
    #[error(transparent)]
    Gate(#[from] GateConfigError),
    #[error(transparent)]
    Retention(#[from] RetentionConfigError),
    #[error(
        "a door that offers face recognition needs liveness: set [vision.liveness] mode = \"passive\" or \"both\", or state why it is off with off_reason = \"...\""
    )]
    FaceWithoutLiveness,
}

impl Config {
    /// Loads a config file; `None` gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else { return Ok(Self::default()) };
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let config: Config = toml::from_str(&text)
            .map_err(|source| ConfigError::Parse { path: path.to_owned(), source })?;
        config
            .validate()
            .map_err(|source| ConfigError::Invalid { path: path.to_owned(), source })?;
        Ok(config)
    }

    /// Checks what serde cannot: policies and ranges.
    pub(crate) fn validate(&self) -> Result<(), InvalidConfig> {
        self.access.validate()?;
        self.door.validate()?;
        let pins = &self.door.pins;
        let door_pins = [
            pins.strike,
            pins.buzzer,
            pins.green_led,
            pins.red_led,
            pins.door_contact,
            pins.exit_button,
        ];
        let reader = &self.reader;
        if reader.kind == crate::credentials::readers::ReaderKind::Wiegand
            && let Some(pin) = [reader.wiegand_d0, reader.wiegand_d1]
                .into_iter()
                .find(|p| door_pins.contains(p) || pins.fire == Some(*p))
        {
            return Err(InvalidConfig::WiegandPinTaken(pin));
        }
        self.camera.validate()?;
        self.gate.validate()?;
        self.retention.validate()?;
        Ok(())
    }

    /// What a gate on a device needs beyond [`Self::validate`]: a face door with liveness off
    /// must say why (the simulator's photo camera may run without).
    pub(crate) fn check_for_device(&self) -> Result<(), InvalidConfig> {
        let liveness = &self.vision.liveness;
        let reason = liveness.off_reason.as_deref().is_some_and(|r| !r.trim().is_empty());
        if self.access.methods.contains(&crate::access::Method::Face)
            && liveness.mode == crate::vision::liveness::LivenessMode::Off
            && !reason
        {
            return Err(InvalidConfig::FaceWithoutLiveness);
        }
        Ok(())
    }

    /// What the gate needs of this configuration.
    pub fn gate_settings(&self) -> GateSettings {
        GateSettings {
            gate: self.gate.clone(),
            access: self.access.clone(),
            pin: self.pin.clone(),
            attempts: self.attempts.clone(),
            matching: self.matching.clone(),
            liveness: self.vision.liveness.clone(),
            notice: self.notice_terms(),
            max_offline_secs: self.site.max_offline_hours.saturating_mul(3600) as i64,
            door: None,
        }
    }

    /// What the consent notice tells residents under this configuration.
    pub fn notice_terms(&self) -> NoticeTerms {
        NoticeTerms::new(&self.consent, &self.retention, &self.store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path))
    }

    #[test]
    fn defaults_are_valid_and_a_face_only_door_is_refused() {
        assert!(Config::default().validate().is_ok());
        let err = load("[access]\nmethods = [\"face\"]\n").unwrap_err().to_string();
        assert!(err.contains("face-only door"), "{err}");
        assert!(load("[retention]\nmoved_out_days = 400\n").is_err());
        assert!(load("[vision]\nthreshold_typo = 1\n").is_err(), "unknown keys are errors");
    }

    #[test]
    fn a_turned_screen_or_an_unusable_camera_setting_is_refused_at_start() {
        let err = load("[gate]\nrotation = 45\n").unwrap_err().to_string();
        assert!(err.contains("rotation"), "{err}");
        assert!(load("[gate]\nrotation = 270\n").is_ok());
        let err = load("[camera]\nwidth = 32\n").unwrap_err().to_string();
        assert!(err.contains("[camera]"), "{err}");
        assert!(load("[camera]\nfps = 0\n").is_err());
        assert!(load("[camera]\ndevice = 2\nwidth = 1280\nheight = 720\n").is_ok());
    }

    #[test]
    fn the_shipped_sample_configs_load_and_the_pi_samples_run_both_liveness_layers() {
        use crate::vision::liveness::LivenessMode;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hardware");
        for name in ["pi4-usb-wiegand.toml", "pi5-camera-rc522.toml", "sim.toml"] {
            let config =
                Config::load(Some(&dir.join(name))).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mode = config.vision.liveness.mode;
            if name.starts_with("pi") {
                assert_eq!(mode, LivenessMode::Both, "{name}");
                assert!(config.check_for_device().is_ok(), "{name}");
            } else {
                assert_eq!(mode, LivenessMode::Off, "{name}: the photo camera is not live");
                assert!(config.vision.liveness.off_reason.is_some(), "{name} says why");
            }
        }
    }

    #[test]
    fn a_face_door_ships_with_liveness_and_turns_it_off_only_with_a_reason() {
        let default = Config::default();
        assert_ne!(default.vision.liveness.mode, crate::vision::liveness::LivenessMode::Off);
        assert!(default.check_for_device().is_ok());
        let off = load("[vision.liveness]\nmode = \"off\"\n").unwrap();
        let err = off.check_for_device().unwrap_err().to_string();
        assert!(err.contains("off_reason"), "{err}");
        let blank = load("[vision.liveness]\nmode = \"off\"\noff_reason = \" \"\n").unwrap();
        assert!(blank.check_for_device().is_err(), "a blank reason is no reason");
        let said =
            "[vision.liveness]\nmode = \"off\"\noff_reason = \"lobby camera faces a poster\"\n";
        assert!(load(said).unwrap().check_for_device().is_ok());
        let no_face =
            load("[access]\nmethods = [\"pin\", \"card\"]\n[vision.liveness]\nmode = \"off\"\n");
        assert!(no_face.unwrap().check_for_device().is_ok(), "no face, no liveness needed");
    }
}
