//! The face engine seam: what the gate asks of vision for each camera frame, in one call. The
//! model engine runs the face pipeline (and passive liveness when the door uses it); the fake
//! engine ([`super::fake`]) stands in for it without models.

use super::liveness::passive::{self, PassiveLiveness};
use super::liveness::{LivenessConfig, LivenessMode};
use super::quality::{self, QualityIssue};
use super::{Detection, Embedding, FacePipeline, Frame, VisionConfig, VisionError};
use std::path::Path;

/// What one frame gave.
#[derive(Debug)]
pub struct FrameResult {
    /// The largest face, in the analysed frame's coordinates, whatever the quality gate says.
    pub face: Option<Detection>,
    /// The embedding when the quality gate passed, else why it did not.
    pub probe: Result<Embedding, QualityIssue>,
    /// The passive-liveness score of the largest face when the engine judges liveness, whatever
    /// the quality gate says (as `eval-pad` scores it); `None` also when the face is too small
    /// to judge.
    pub liveness: Option<f32>,
}

/// Anything that turns a frame into a [`FrameResult`].
pub trait FaceEngine: Send {
    fn process(&mut self, frame: &Frame) -> Result<FrameResult, VisionError>;
}

/// Whether a liveness mode judges single frames with the passive models.
pub fn uses_passive(mode: LivenessMode) -> bool {
    matches!(mode, LivenessMode::Passive | LivenessMode::Both)
}

/// The face pipeline, with the passive-liveness models when the configured mode uses them.
pub struct ModelEngine {
    pipeline: FacePipeline,
    pad: Option<PassiveLiveness>,
    min_face_width: f32,
}

impl ModelEngine {
    /// Loads (and verifies) the models `config` needs from `models_dir`.
    pub fn load(models_dir: &Path, config: &VisionConfig) -> Result<Self, VisionError> {
        let pipeline = FacePipeline::load(models_dir, config)?;
        let LivenessConfig { mode, min_face_width, .. } = config.liveness;
        let pad = if uses_passive(mode) {
            Some(PassiveLiveness::load(models_dir, config.backend, config.threads)?)
        } else {
            None
        };
        Ok(Self { pipeline, pad, min_face_width })
    }
}

impl FaceEngine for ModelEngine {
    fn process(&mut self, frame: &Frame) -> Result<FrameResult, VisionError> {
        let work = self.pipeline.working_frame(frame);
        let analysis = self.pipeline.analyze_working(&work)?;
        let face = quality::dominant(&analysis.faces).cloned();
        let liveness = match (self.pad.as_mut(), &face) {
            (Some(pad), Some(face)) => {
                passive::face_score(pad, frame, work.width(), face, self.min_face_width)?
            }
            _ => None,
        };
        Ok(FrameResult { face, probe: analysis.outcome, liveness })
    }
}
