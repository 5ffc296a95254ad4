//! What the gate needs of the configuration: its own `[gate]` section and the sections of the
//! domains it drives, gathered by the CLI from the config file.

use serde::{Deserialize, Serialize};

use crate::access::AccessConfig;
use crate::credentials::{AttemptLimits, PinConfig};
use crate::language::Language;
use crate::site::ids::DoorId;
use crate::store::consent::NoticeTerms;
use crate::templates::MatchingConfig;
use crate::vision::liveness::LivenessConfig;

/// `[gate]`: timings and what the result screen says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GateConfig {
    /// The camera closes and PIN/card are offered after this long without a decision.
    pub face_timeout_ms: u64,
    /// How long the result stays on screen.
    pub result_ms: u64,
    /// Greet a resident by name on the result screen (off, the default: just "Welcome", for
    /// privacy). The name is shown on the screen only, never written to the log.
    pub greet_by_name: bool,
    /// The language the screen starts in (and returns to when idle).
    pub language: Language,
    /// Resident numbers of the managers and caretakers who get admin mode after their PIN or
    /// card. Admins are residents so that they use the same credentials, lockout and audit.
    pub admins: Vec<String>,
    /// Admin mode ends after this long without a tap.
    pub admin_timeout_ms: u64,
    /// Good frames fused into one template when enrolling at the gate.
    pub enrol_frames: usize,
    /// The touchscreen's rotation in degrees (0, 90, 180, 270), for a display mounted turned.
    pub rotation: u16,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            face_timeout_ms: 10_000,
            result_ms: 4_000,
            greet_by_name: false,
            language: Language::Zh,
            admins: Vec::new(),
            admin_timeout_ms: 60_000,
            enrol_frames: 3,
            rotation: 0,
        }
    }
}

/// A `[gate]` setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateConfigError {
    #[error("[gate] rotation = {0} must be 0, 90, 180 or 270 (degrees)")]
    Rotation(u16),
}

impl GateConfig {
    /// Checks what serde cannot.
    pub(crate) fn validate(&self) -> Result<(), GateConfigError> {
        if ![0, 90, 180, 270].contains(&self.rotation) {
            return Err(GateConfigError::Rotation(self.rotation));
        }
        Ok(())
    }
}

/// The settings a gate runs with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateSettings {
    pub gate: GateConfig,
    pub access: AccessConfig,
    pub pin: PinConfig,
    pub attempts: AttemptLimits,
    pub matching: MatchingConfig,
    pub liveness: LivenessConfig,
    /// The notice residents read, and the consent and retention rules behind it.
    pub notice: NoticeTerms,
    /// On a door of a site: Face stops when the replica last caught up longer ago than this.
    pub max_offline_secs: i64,
    /// This door's id in site mode (visitor passes and enrolment bookings name doors); `None`
    /// on a standalone gate.
    pub door: Option<DoorId>,
}
