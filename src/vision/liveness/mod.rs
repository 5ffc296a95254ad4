//! Presentation-attack detection (PAD): is the face in front of the camera a live person, not a
//! printed photo or a phone screen? Only a yes/no about the presentation: no age, gender,
//! emotion or any other attribute is ever inferred.
//!
//! The passive layer ([`passive`]) scores single frames with two MiniFASNet models; the active
//! layer ([`active`]) asks for 2–3 random head turns judged from the landmarks. A door that
//! offers Face runs passive liveness unless its config turns it off with a stated reason (the
//! simulated photo camera does: its photos are not live captures, and MiniFASNet rightly
//! rejects many of them); `run` on a device refuses `off` without one.

pub mod active;
pub mod passive;

use serde::{Deserialize, Serialize};

/// Which liveness layers a door uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LivenessMode {
    Off,
    #[default]
    Passive,
    Active,
    Both,
}

/// `[vision.liveness]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LivenessConfig {
    pub mode: LivenessMode,
    /// Why a door that offers Face runs with `mode = "off"`; required for that on a device.
    pub off_reason: Option<String>,
    /// A frame passes when the mean real-probability of both models reaches this.
    pub threshold: f32,
    /// Faces narrower than this (pixels) are too small to judge.
    pub min_face_width: f32,
    /// The head-turn challenge's thresholds.
    pub active: active::ActiveParams,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        Self {
            mode: LivenessMode::Passive,
            off_reason: None,
            threshold: 0.8,
            min_face_width: 80.0,
            active: active::ActiveParams::default(),
        }
    }
}
