//! Presentation-attack detection (PAD): is the face in front of the camera a live person, not a
//! printed photo or a phone screen? Only a yes/no about the presentation: no age, gender,
//! emotion or any other attribute is ever inferred.
//!
//! The passive layer ([`passive`]) scores single frames with two MiniFASNet models; the active
//! layer ([`active`]) asks for 2–3 random head turns judged from the landmarks. PAD is off
//! for the development photo set and the simulated photo camera: those photos are not live
//! captures, and MiniFASNet rightly rejects many of them.

pub mod active;
pub mod passive;

use serde::{Deserialize, Serialize};

/// Which liveness layers a door uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LivenessMode {
    #[default]
    Off,
    Passive,
    Active,
    Both,
}

/// `[vision.liveness]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LivenessConfig {
    pub mode: LivenessMode,
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
            mode: LivenessMode::Off,
            threshold: 0.8,
            min_face_width: 80.0,
            active: active::ActiveParams::default(),
        }
    }
}
