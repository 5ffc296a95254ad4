//! Face detection with YuNet: preprocessing, the model's own output decoding, and NMS.
//!
//! YuNet takes a BGR, 0..255, NCHW image whose sides are multiples of 32 (the frame is padded
//! at the bottom and right). For each stride s ∈ {8, 16, 32} it gives, per grid cell, a class
//! score, an objectness score, a box (offset and log-size in units of s) and 5 landmarks. The
//! detection score is √(cls·obj).

use std::collections::HashMap;
use std::path::PathBuf;

use super::backend::{self, BackendKind, Outputs, Session};
use super::frame::Frame;
use super::{Point, VisionError};

/// The strides of YuNet's three output heads.
pub const STRIDES: [usize; 3] = [8, 16, 32];

/// Boxes overlapping more than this (intersection over union) are one face.
pub const NMS_IOU: f32 = 0.3;

/// Compiled models kept for different input sizes (tract optimises per shape).
const MAX_CACHED_SHAPES: usize = 8;

/// An axis-aligned box: top-left corner and size, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl BoundingBox {
    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    /// Intersection over union with another box.
    pub(crate) fn iou(&self, other: &BoundingBox) -> f32 {
        let left = self.x.max(other.x);
        let top = self.y.max(other.y);
        let right = (self.x + self.width).min(other.x + other.width);
        let bottom = (self.y + self.height).min(other.y + other.height);
        let inter = (right - left).max(0.0) * (bottom - top).max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// One detected face. Landmarks, in image order: the eye on the image's left, the other eye,
/// nose tip, mouth corner on the image's left, the other mouth corner.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub bbox: BoundingBox,
    pub landmarks: [Point; 5],
    pub score: f32,
}

impl Detection {
    /// The same detection with every coordinate multiplied by `factor`.
    pub(crate) fn scaled(&self, factor: f32) -> Detection {
        let b = self.bbox;
        Detection {
            bbox: BoundingBox {
                x: b.x * factor,
                y: b.y * factor,
                width: b.width * factor,
                height: b.height * factor,
            },
            landmarks: self.landmarks.map(|p| [p[0] * factor, p[1] * factor]),
            score: self.score,
        }
    }
}

/// One stride's raw outputs, as flat row-major slices over the grid.
pub struct Head<'a> {
    pub stride: usize,
    pub cls: &'a [f32],
    pub obj: &'a [f32],
    pub bbox: &'a [f32],
    pub kps: &'a [f32],
}

/// Decodes one head for an input of `width × height` (multiples of 32), keeping scores at or
/// above `threshold`.
pub(crate) fn decode_head(
    head: &Head,
    width: usize,
    height: usize,
    threshold: f32,
) -> Vec<Detection> {
    let cols = width / head.stride;
    let rows = height / head.stride;
    let stride = head.stride as f32;
    let cells = (rows * cols)
        .min(head.cls.len())
        .min(head.obj.len())
        .min(head.bbox.len() / 4)
        .min(head.kps.len() / 10);
    let mut found = Vec::new();
    for i in 0..cells {
        let score = (head.cls[i].clamp(0.0, 1.0) * head.obj[i].clamp(0.0, 1.0)).sqrt();
        if score < threshold || !score.is_finite() {
            continue;
        }
        let (col, row) = ((i % cols) as f32, (i / cols) as f32);
        let b = &head.bbox[i * 4..i * 4 + 4];
        let cx = (col + b[0]) * stride;
        let cy = (row + b[1]) * stride;
        let w = b[2].exp() * stride;
        let h = b[3].exp() * stride;
        let k = &head.kps[i * 10..i * 10 + 10];
        let landmarks =
            std::array::from_fn(|n| [(k[2 * n] + col) * stride, (k[2 * n + 1] + row) * stride]);
        found.push(Detection {
            bbox: BoundingBox { x: cx - w / 2.0, y: cy - h / 2.0, width: w, height: h },
            landmarks,
            score,
        });
    }
    found
}

/// Greedy non-maximum suppression: best score first, dropping boxes that overlap a kept one by
/// more than `iou`.
pub(crate) fn nms(mut detections: Vec<Detection>, iou: f32) -> Vec<Detection> {
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for d in detections {
        if kept.iter().all(|k| k.bbox.iou(&d.bbox) <= iou) {
            kept.push(d);
        }
    }
    kept
}

/// The model input for a frame: BGR planes, 0..255, padded to multiples of 32.
/// Returns the tensor and its padded `(width, height)`.
pub(crate) fn to_input(frame: &Frame) -> (Vec<f32>, usize, usize) {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (pw, ph) = (w.div_ceil(32) * 32, h.div_ceil(32) * 32);
    let plane = pw * ph;
    let mut input = vec![0f32; 3 * plane];
    for (y, row) in frame.pixels().chunks_exact(w * 3).enumerate() {
        for (x, rgb) in row.chunks_exact(3).enumerate() {
            let at = y * pw + x;
            input[at] = rgb[2] as f32;
            input[plane + at] = rgb[1] as f32;
            input[2 * plane + at] = rgb[0] as f32;
        }
    }
    (input, pw, ph)
}

/// Runs YuNet on frames of any size.
pub struct Detector {
    backend: BackendKind,
    model: PathBuf,
    threads: usize,
    sessions: HashMap<(usize, usize), Box<dyn Session>>,
}

impl Detector {
    /// A detector for the (already verified) model file.
    pub fn new(backend: BackendKind, model: PathBuf, threads: usize) -> Self {
        Self { backend, model, threads, sessions: HashMap::new() }
    }

    /// All faces scoring at least `threshold`, best first, in frame coordinates.
    pub fn detect(&mut self, frame: &Frame, threshold: f32) -> Result<Vec<Detection>, VisionError> {
        let (mut input, pw, ph) = to_input(frame);
        let outputs = self.session(pw, ph)?.run(&input);
        zeroize::Zeroize::zeroize(&mut input);
        let outputs = outputs?;
        let mut found = Vec::new();
        for stride in STRIDES {
            let head = head(&outputs, stride)?;
            found.extend(decode_head(&head, pw, ph, threshold));
        }
        Ok(nms(found, NMS_IOU))
    }

    fn session(
        &mut self,
        width: usize,
        height: usize,
    ) -> Result<&mut Box<dyn Session>, VisionError> {
        if !self.sessions.contains_key(&(width, height)) {
            if self.sessions.len() >= MAX_CACHED_SHAPES {
                self.sessions.clear();
            }
            let session =
                backend::load(self.backend, &self.model, [1, 3, height, width], self.threads)?;
            self.sessions.insert((width, height), session);
        }
        Ok(self.sessions.get_mut(&(width, height)).expect("inserted above"))
    }
}

fn head(outputs: &Outputs, stride: usize) -> Result<Head<'_>, VisionError> {
    let get = |kind: &str| outputs.get(&format!("{kind}_{stride}")).map(|o| o.data.as_slice());
    Ok(Head { stride, cls: get("cls")?, obj: get("obj")?, bbox: get("bbox")?, kps: get("kps")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64×32 input has a 4×8 grid at stride 8: cell 10 is column 2, row 1.
    #[test]
    fn decodes_one_cell_by_hand() {
        let cells = 4 * 8;
        let mut cls = vec![0.0; cells];
        let mut obj = vec![0.0; cells];
        let mut bbox = vec![0.0; cells * 4];
        let mut kps = vec![0.0; cells * 10];
        cls[10] = 0.81;
        obj[10] = 1.0;
        // Centre offset (0.5, 0.25) cells, size e^0 = 1 cell wide, e^ln2 = 2 cells high.
        bbox[40..44].copy_from_slice(&[0.5, 0.25, 0.0, 2f32.ln()]);
        // First landmark at offset (1, 2) cells from the cell's corner.
        kps[100] = 1.0;
        kps[101] = 2.0;
        let head = Head { stride: 8, cls: &cls, obj: &obj, bbox: &bbox, kps: &kps };
        let found = decode_head(&head, 64, 32, 0.5);
        assert_eq!(found.len(), 1);
        let d = &found[0];
        assert!((d.score - 0.9).abs() < 1e-6, "score is sqrt(0.81 * 1.0)");
        // centre = ((2 + 0.5) * 8, (1 + 0.25) * 8) = (20, 10); size 8 × 16.
        assert_eq!(d.bbox, BoundingBox { x: 16.0, y: 2.0, width: 8.0, height: 16.0 });
        assert_eq!(d.landmarks[0], [24.0, 24.0]);
        assert_eq!(d.landmarks[1], [16.0, 8.0]);
    }

    #[test]
    fn scores_are_clamped_and_thresholded() {
        let head = Head {
            stride: 32,
            cls: &[1.7, 0.2],
            obj: &[-0.5, 0.2],
            bbox: &[0.0; 8],
            kps: &[0.0; 20],
        };
        assert!(decode_head(&head, 64, 32, 0.1).iter().all(|d| (d.score - 0.2).abs() < 1e-6));
        assert!(decode_head(&head, 64, 32, 0.5).is_empty());
    }

    #[test]
    fn short_outputs_never_index_out_of_bounds() {
        let head =
            Head { stride: 8, cls: &[0.9; 32], obj: &[0.9; 32], bbox: &[0.0; 7], kps: &[0.0; 10] };
        assert_eq!(decode_head(&head, 64, 32, 0.5).len(), 1);
    }

    fn det(x: f32, score: f32) -> Detection {
        Detection {
            bbox: BoundingBox { x, y: 0.0, width: 10.0, height: 10.0 },
            landmarks: [[0.0; 2]; 5],
            score,
        }
    }

    #[test]
    fn iou_by_hand() {
        // Two 10×10 boxes shifted by 5: intersection 50, union 150.
        assert!((det(0.0, 1.0).bbox.iou(&det(5.0, 1.0).bbox) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(det(0.0, 1.0).bbox.iou(&det(20.0, 1.0).bbox), 0.0);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        // The best box (x = 2) suppresses x = 0 (IoU 80/120) and x = 6 (IoU 60/140 = 0.43);
        // the box at 30 overlaps nothing.
        let kept = nms(vec![det(0.0, 0.8), det(2.0, 0.9), det(30.0, 0.6), det(6.0, 0.7)], 0.3);
        let xs: Vec<f32> = kept.iter().map(|d| d.bbox.x).collect();
        assert_eq!(xs, vec![2.0, 30.0]);
        let kept = nms(vec![det(0.0, 0.8), det(8.0, 0.7)], 0.3);
        assert_eq!(kept.len(), 2, "IoU 2/18 is below the threshold");
    }

    #[test]
    fn input_is_bgr_planes_padded_to_32() {
        let frame = Frame::from_rgb(33, 1, [10u8, 20, 30].repeat(33)).unwrap();
        let (input, w, h) = to_input(&frame);
        assert_eq!((w, h), (64, 32));
        assert_eq!(input.len(), 3 * 64 * 32);
        assert_eq!((input[0], input[64 * 32], input[2 * 64 * 32]), (30.0, 20.0, 10.0));
        assert_eq!(input[32], 30.0);
        assert_eq!(input[33], 0.0, "padding is black");
        assert_eq!(input[64], 0.0, "second row is padding");
    }
}
