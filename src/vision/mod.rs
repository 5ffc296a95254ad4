//! The face path: frames → detection (YuNet) → 5-point alignment → embedding (SFace).
//!
//! Nothing here writes a frame, a crop or an embedding to disk; buffers that hold them are
//! zeroised when dropped.

pub mod align;
pub mod backend;
pub mod detect;
mod embedding;
pub mod engine;
pub mod evaluation;
pub mod fake;
pub mod frame;
pub mod liveness;
pub mod models;
mod pipeline;
pub mod quality;
pub mod recogniser;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use backend::BackendKind;
pub use detect::Detection;
pub use embedding::{EMBEDDING_DIM, Embedding, dot};
pub use engine::{FaceEngine, FrameResult, ModelEngine};
pub use fake::FakeEngine;
pub use frame::Frame;
pub use pipeline::{FaceAnalysis, FacePipeline};
pub use quality::{QualityConfig, QualityIssue};

/// A point in pixels, `[x, y]`.
pub type Point = [f32; 2];

/// The `[vision]` config section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct VisionConfig {
    /// Inference engine.
    pub backend: BackendKind,
    /// Threads for inference (1 leaves a core for the UI on a Pi; 0 lets the engine choose).
    pub threads: usize,
    /// Minimum detector score √(cls × obj) for a face to count.
    pub detection_threshold: f32,
    /// Frames are analysed after shrinking their longer side to at most this many pixels.
    pub max_side: u32,
    /// Detection runs on a copy shrunk further to this longer side (smaller is faster; faces
    /// must stay above ~20 px there).
    pub detect_max_side: u32,
    /// Each face is also embedded mirrored left to right, and the two embeddings are fused
    /// (one more recogniser run per face; fewer false rejections, see README "Face recognition").
    pub flip_fusion: bool,
    /// The quality gate.
    pub quality: QualityConfig,
    /// Presentation-attack detection.
    pub liveness: liveness::LivenessConfig,
}

impl Default for VisionConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Tract,
            threads: 1,
            detection_threshold: 0.5,
            max_side: 640,
            detect_max_side: 640,
            flip_fusion: true,
            quality: QualityConfig::default(),
            liveness: liveness::LivenessConfig::default(),
        }
    }
}

/// What can go wrong on the face path.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error("model manifest {path}: {reason} (run `{}`)", models::FETCH_COMMAND)]
    Manifest { path: PathBuf, reason: String },
    #[error(
        "model file {path} is missing or unreadable ({source}): run `{}`",
        models::FETCH_COMMAND
    )]
    ModelMissing { path: PathBuf, source: std::io::Error },
    #[error(
        "model file {path} is not the pinned one (sha256 {actual}, expected {expected}): run `{}`",
        models::FETCH_COMMAND
    )]
    ModelChecksum { path: PathBuf, expected: String, actual: String },
    #[error("cannot load model {path}: {reason}")]
    ModelLoad { path: PathBuf, reason: String },
    #[error("inference backend unavailable: {0}")]
    BackendUnavailable(String),
    #[error("model output {expected:?} not found (model gives {found:?})")]
    ModelOutput { expected: String, found: Vec<String> },
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("frame size {width}x{height} is not usable")]
    FrameSize { width: u32, height: u32 },
    #[error("frame of {width}x{height} needs {} bytes, got {len}", *width as usize * *height as usize * 3)]
    FrameLength { width: u32, height: u32, len: usize },
    #[error("cannot read image {path}: {source}")]
    ImageRead { path: PathBuf, source: std::io::Error },
    #[error("cannot decode image {path}: {reason}")]
    ImageDecode { path: PathBuf, reason: String },
    #[error("camera: {0}")]
    Camera(String),
    #[error("face not usable: {}", .0.guidance())]
    Quality(QualityIssue),
}
