//! The face path: frames → detection (YuNet) → 5-point alignment → embedding (SFace).
//!
//! Nothing here writes a frame, a crop or an embedding to disk; buffers that hold them are
//! zeroised when dropped.

mod embedding;

pub use embedding::{EMBEDDING_DIM, Embedding, dot};

use serde::{Deserialize, Serialize};

/// The `[vision]` config section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct VisionConfig {
    /// Minimum detector score (sqrt(cls × obj)) for a face to count.
    pub detection_threshold: f32,
}

impl Default for VisionConfig {
    fn default() -> Self {
        Self { detection_threshold: 0.5 }
    }
}
