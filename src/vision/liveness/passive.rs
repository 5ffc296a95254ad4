//! The passive layer: two MiniFASNet models (crop scales 2.7 and 4.0, 80×80, BGR, raw 0..255
//! values, NCHW); the score is the mean probability of class 1 ("real") over both.
//!
//! The crop is the face box scaled about its centre, shrunk if the scaled box would not fit the
//! frame, shifted back inside it (never padded), with corners truncated to whole pixels and
//! inclusive; it is resized to 80×80 bilinearly without keeping the aspect ratio.

use std::path::Path;

use super::super::backend::{self, BackendKind, Session};
use super::super::detect::{BoundingBox, Detection};
use super::super::{FacePipeline, Frame, VisionError, models};

/// Side of the models' input.
pub const INPUT_SIZE: usize = 80;

/// The two models: file and crop scale.
pub const MODELS: [(&str, f32); 2] =
    [("minifasnet_v2_80x80.onnx", 2.7), ("minifasnet_v1se_80x80.onnx", 4.0)];

/// The inclusive pixel box `(left, top, right, bottom)` a model looks at.
pub(crate) fn crop_box(
    face: &BoundingBox,
    width: u32,
    height: u32,
    scale: f32,
) -> (u32, u32, u32, u32) {
    let (w, h) = (width as f32, height as f32);
    let scale = scale.min((h - 1.0) / face.height).min((w - 1.0) / face.width);
    let (new_w, new_h) = (face.width * scale, face.height * scale);
    let (cx, cy) = (face.x + face.width / 2.0, face.y + face.height / 2.0);
    let (mut left, mut top) = (cx - new_w / 2.0, cy - new_h / 2.0);
    let (mut right, mut bottom) = (cx + new_w / 2.0, cy + new_h / 2.0);
    if left < 0.0 {
        right -= left;
        left = 0.0;
    }
    if top < 0.0 {
        bottom -= top;
        top = 0.0;
    }
    if right > w - 1.0 {
        left -= right - (w - 1.0);
        right = w - 1.0;
    }
    if bottom > h - 1.0 {
        top -= bottom - (h - 1.0);
        bottom = h - 1.0;
    }
    let clamp = |v: f32, max: f32| v.max(0.0).min(max) as u32;
    (clamp(left, w - 1.0), clamp(top, h - 1.0), clamp(right, w - 1.0), clamp(bottom, h - 1.0))
}

/// The model input for a crop: bilinear resize to 80×80 (pixel centres at +0.5), BGR planes.
pub(crate) fn to_input(
    frame: &Frame,
    (left, top, right, bottom): (u32, u32, u32, u32),
) -> Vec<f32> {
    let (cw, ch) = ((right - left + 1) as f32, (bottom - top + 1) as f32);
    let (sx, sy) = (cw / INPUT_SIZE as f32, ch / INPUT_SIZE as f32);
    let plane = INPUT_SIZE * INPUT_SIZE;
    let mut input = vec![0f32; 3 * plane];
    let px = |x: u32, y: u32| frame.pixel(left + x.min(right - left), top + y.min(bottom - top));
    for oy in 0..INPUT_SIZE {
        let fy = ((oy as f32 + 0.5) * sy - 0.5).max(0.0);
        let (y0, wy) = (fy.floor() as u32, fy - fy.floor());
        for ox in 0..INPUT_SIZE {
            let fx = ((ox as f32 + 0.5) * sx - 0.5).max(0.0);
            let (x0, wx) = (fx.floor() as u32, fx - fx.floor());
            let (a, b, c, d) = (px(x0, y0), px(x0 + 1, y0), px(x0, y0 + 1), px(x0 + 1, y0 + 1));
            for (plane_index, channel) in [2usize, 1, 0].into_iter().enumerate() {
                let top_row = a[channel] as f32 * (1.0 - wx) + b[channel] as f32 * wx;
                let bottom_row = c[channel] as f32 * (1.0 - wx) + d[channel] as f32 * wx;
                input[plane_index * plane + oy * INPUT_SIZE + ox] =
                    top_row * (1.0 - wy) + bottom_row * wy;
            }
        }
    }
    input
}

/// Both models, loaded.
pub struct PassiveLiveness {
    sessions: Vec<(Box<dyn Session>, f32)>,
}

impl PassiveLiveness {
    /// Loads both models after checking them against the manifest.
    pub fn load(
        models_dir: &Path,
        backend: BackendKind,
        threads: usize,
    ) -> Result<Self, VisionError> {
        let sessions = MODELS
            .iter()
            .map(|&(file, scale)| {
                let path = models::verified(models_dir, file)?;
                Ok((backend::load(backend, &path, [1, 3, INPUT_SIZE, INPUT_SIZE], threads)?, scale))
            })
            .collect::<Result<_, VisionError>>()?;
        Ok(Self { sessions })
    }

    /// The logits of model `index` for a prepared input (parity checks).
    pub fn logits(&mut self, index: usize, input: &[f32]) -> Result<Vec<f32>, VisionError> {
        Ok(self.sessions[index].0.run(input)?.get("logits")?.data.clone())
    }

    /// The mean real-probability of a face in a frame.
    pub fn score(&mut self, frame: &Frame, face: &BoundingBox) -> Result<f32, VisionError> {
        let mut total = 0.0;
        for (session, scale) in &mut self.sessions {
            let input = to_input(frame, crop_box(face, frame.width(), frame.height(), *scale));
            let outputs = session.run(&input)?;
            total += outputs.get("prob")?.data.get(1).copied().unwrap_or(0.0);
        }
        Ok(total / self.sessions.len() as f32)
    }
}

/// The liveness score of a face detected in the working frame (`work_width` pixels wide),
/// judged on the full-resolution `frame` (more detail for the models); `None` when the face is
/// narrower than `min_width` there. The gate and `eval-pad` both score faces with this.
pub(crate) fn face_score(
    pad: &mut PassiveLiveness,
    frame: &Frame,
    work_width: u32,
    face: &Detection,
    min_width: f32,
) -> Result<Option<f32>, VisionError> {
    let bbox = face.scaled(frame.width() as f32 / work_width as f32).bbox;
    if bbox.width < min_width {
        return Ok(None);
    }
    pad.score(frame, &bbox).map(Some)
}

/// The liveness score of every face at least `min_width` pixels wide in a frame.
pub fn face_scores(
    faces: &mut FacePipeline,
    pad: &mut PassiveLiveness,
    frame: &Frame,
    min_width: f32,
) -> Result<Vec<f32>, VisionError> {
    let work = faces.working_frame(frame);
    let found = faces.detect(&work)?;
    found
        .iter()
        .filter_map(|d| face_score(pad, frame, work.width(), d, min_width).transpose())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, w: f32, h: f32) -> BoundingBox {
        BoundingBox { x, y, width: w, height: h }
    }

    #[test]
    fn crop_is_scaled_about_the_centre() {
        // A 100×100 face centred at (320, 240) in 640×480, scale 2.7: 270×270 around the centre.
        assert_eq!(
            crop_box(&face(270.0, 190.0, 100.0, 100.0), 640, 480, 2.7),
            (185, 105, 455, 375)
        );
    }

    #[test]
    fn crop_near_an_edge_is_shifted_inside_and_shrunk_if_too_big() {
        // Near the left edge: shifted right, not padded.
        let (l, _, r, _) = crop_box(&face(0.0, 190.0, 100.0, 100.0), 640, 480, 2.7);
        assert_eq!((l, r), (0, 270));
        // Scale 4.0 of a 200-px face would exceed 480: shrunk to fit (scale 479/200).
        let (_, t, _, b) = crop_box(&face(220.0, 140.0, 200.0, 200.0), 640, 480, 4.0);
        assert_eq!((t, b), (0, 479));
    }

    #[test]
    fn input_is_bgr_and_a_flat_crop_stays_flat() {
        let frame = Frame::from_rgb(160, 160, [10u8, 20, 30].repeat(160 * 160)).unwrap();
        let input = to_input(&frame, (0, 0, 159, 159));
        let plane = INPUT_SIZE * INPUT_SIZE;
        assert_eq!(input.len(), 3 * plane);
        assert!(input[..plane].iter().all(|&v| v == 30.0), "first plane is blue");
        assert!(input[2 * plane..].iter().all(|&v| v == 10.0), "last plane is red");
    }
}
