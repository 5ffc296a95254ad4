//! The whole face path for one frame, with each stage callable on its own (for `bench`).

use std::borrow::Cow;
use std::path::Path;

use super::align::align_face;
use super::backend::check_available;
use super::detect::{Detection, Detector};
use super::quality::{self, QualityIssue};
use super::recogniser::Recogniser;
use super::{Embedding, Frame, VisionConfig, VisionError, models};

/// What one frame gave: the faces found and, when the dominant face passed the quality gate,
/// its embedding. Coordinates are in the analysed (shrunk) frame.
#[derive(Debug)]
pub struct FaceAnalysis {
    pub faces: Vec<Detection>,
    pub outcome: Result<Embedding, QualityIssue>,
}

/// Detector, embedder and the settings that tie them together.
pub struct FacePipeline {
    detector: Detector,
    recogniser: Recogniser,
    config: VisionConfig,
}

impl FacePipeline {
    /// Verifies the model files in `models_dir` against the manifest and loads them.
    pub fn load(models_dir: &Path, config: &VisionConfig) -> Result<Self, VisionError> {
        check_available(config.backend)?;
        let detector_path = models::verified(models_dir, models::DETECTOR)?;
        let recogniser_path = models::verified(models_dir, models::RECOGNISER)?;
        Ok(Self {
            detector: Detector::new(config.backend, detector_path, config.threads),
            recogniser: Recogniser::new(config.backend, &recogniser_path, config.threads)?,
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &VisionConfig {
        &self.config
    }

    /// The frame the pipeline works on: shrunk to `max_side` (borrowed when it already fits).
    pub fn working_frame<'a>(&self, frame: &'a Frame) -> Cow<'a, Frame> {
        frame.fit_within(self.config.max_side)
    }

    /// Faces in a working frame, best first, in its coordinates.
    pub fn detect(&mut self, work: &Frame) -> Result<Vec<Detection>, VisionError> {
        let threshold = self.config.detection_threshold;
        let small = work.fit_within(self.config.detect_max_side);
        let faces = self.detector.detect(&small, threshold)?;
        let factor = work.width() as f32 / small.width() as f32;
        Ok(if small.width() == work.width() {
            faces
        } else {
            faces.iter().map(|d| d.scaled(factor)).collect()
        })
    }

    /// The aligned 112×112 crop of a face; `None` for degenerate landmarks.
    pub fn align(&self, work: &Frame, face: &Detection) -> Option<Frame> {
        align_face(work, &face.landmarks)
    }

    /// The embedding of an aligned crop; with `flip_fusion`, fused with its mirror image's.
    pub fn embed(&mut self, aligned: &Frame) -> Result<Embedding, VisionError> {
        let embedding = self.recogniser.embed(aligned)?;
        if !self.config.flip_fusion {
            return Ok(embedding);
        }
        let mirrored = self.recogniser.embed(&aligned.mirrored())?;
        Embedding::mean(&[embedding, mirrored])
            .ok_or_else(|| VisionError::Inference("a face and its mirror image cancel out".into()))
    }

    /// What the gate does with each frame: detect, check quality, align, check sharpness, embed.
    pub fn analyze(&mut self, frame: &Frame) -> Result<FaceAnalysis, VisionError> {
        self.analyze_working(&self.working_frame(frame))
    }

    /// [`Self::analyze`] on a frame already shrunk by [`Self::working_frame`].
    pub(crate) fn analyze_working(&mut self, work: &Frame) -> Result<FaceAnalysis, VisionError> {
        let faces = self.detect(work)?;
        let outcome =
            match quality::check_face(&faces, work.width(), work.height(), &self.config.quality) {
                Err(issue) => Err(issue),
                Ok(face) => match self.align(work, face) {
                    None => Err(QualityIssue::NotFrontal),
                    Some(aligned) => match quality::check_sharpness(&aligned, &self.config.quality)
                    {
                        Err(issue) => Err(issue),
                        Ok(()) => Ok(self.embed(&aligned)?),
                    },
                },
            };
        Ok(FaceAnalysis { faces, outcome })
    }

    /// The embedding of the largest face in a working frame ([`Self::working_frame`]) without
    /// the quality gate, `None` when no face is found: how `eval` measures recognition itself.
    pub fn embed_largest(&mut self, work: &Frame) -> Result<Option<Embedding>, VisionError> {
        let faces = self.detect(work)?;
        let Some(face) = quality::dominant(&faces) else { return Ok(None) };
        match self.align(work, face) {
            Some(aligned) => self.embed(&aligned).map(Some),
            None => Ok(None),
        }
    }

    /// The embedding of the one good face in a photo, for enrolment from image files.
    pub fn embed_image_file(&mut self, path: &Path) -> Result<Embedding, VisionError> {
        let frame = Frame::open_within(path, self.config.max_side)?;
        self.analyze(&frame)?.outcome.map_err(VisionError::Quality)
    }
}
