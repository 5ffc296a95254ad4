//! Face embedding with SFace: the aligned 112×112 crop, RGB, raw 0..255 values, NCHW → 128
//! numbers, L2-normalised.

use std::path::Path;

use zeroize::Zeroize;

use super::VisionError;
use super::align::ALIGNED_SIZE;
use super::backend::{self, BackendKind, Session};
use super::embedding::{EMBEDDING_DIM, Embedding};
use super::frame::Frame;

/// SFace's output tensor.
const OUTPUT: &str = "fc1";

/// The model input for an aligned crop: R, G and B planes, unscaled.
pub(crate) fn to_input(aligned: &Frame) -> Vec<f32> {
    let plane = aligned.pixels().len() / 3;
    let mut input = vec![0f32; 3 * plane];
    for (i, rgb) in aligned.pixels().chunks_exact(3).enumerate() {
        for (c, &v) in rgb.iter().enumerate() {
            input[c * plane + i] = v as f32;
        }
    }
    input
}

/// Runs SFace.
pub struct Recogniser {
    session: Box<dyn Session>,
}

impl Recogniser {
    pub fn new(backend: BackendKind, model: &Path, threads: usize) -> Result<Self, VisionError> {
        let size = ALIGNED_SIZE as usize;
        Ok(Self { session: backend::load(backend, model, [1, 3, size, size], threads)? })
    }

    /// The embedding of an aligned 112×112 face.
    pub fn embed(&mut self, aligned: &Frame) -> Result<Embedding, VisionError> {
        if (aligned.width(), aligned.height()) != (ALIGNED_SIZE, ALIGNED_SIZE) {
            return Err(VisionError::FrameSize {
                width: aligned.width(),
                height: aligned.height(),
            });
        }
        let mut input = to_input(aligned);
        let outputs = self.session.run(&input);
        input.zeroize();
        let mut outputs = outputs?;
        let output = outputs.get(OUTPUT)?;
        let result = <[f32; EMBEDDING_DIM]>::try_from(output.data.as_slice())
            .map_err(|_| {
                VisionError::Inference(format!(
                    "{OUTPUT} has {} values, expected {EMBEDDING_DIM}",
                    output.data.len()
                ))
            })
            .and_then(|raw| {
                Embedding::from_raw(raw).ok_or(VisionError::Inference("empty embedding".into()))
            });
        outputs.0.iter_mut().for_each(|o| o.data.zeroize());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_rgb_planes_unscaled() {
        let crop = Frame::from_rgb(2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(to_input(&crop), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
