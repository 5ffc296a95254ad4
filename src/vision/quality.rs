//! The quality gate for enrolment and decisions: exactly one dominant face, large enough, inside
//! the frame, frontal and sharp. Each rejection is a [`QualityIssue`] a screen can turn into
//! guidance ("move closer", "look at the camera").

use serde::{Deserialize, Serialize};

use super::Point;
use super::detect::Detection;
use super::frame::Frame;

/// Thresholds of the quality gate (`[vision.quality]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    /// Smallest face box width, in pixels of the analysed frame.
    pub min_face_width: f32,
    /// A second face at least this fraction of the largest face's area means "one at a time".
    pub second_face_ratio: f32,
    /// Largest sideways nose offset |u|, in eye distances (0 is frontal).
    pub max_yaw: f32,
    /// Allowed range of the nose's height between eyes (0) and mouth (1); about 0.5 is level.
    pub pitch_range: [f32; 2],
    /// Largest tilt of the eye line, in degrees.
    pub max_roll_degrees: f32,
    /// Smallest variance of the Laplacian of the aligned grey crop.
    pub min_sharpness: f32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            min_face_width: 80.0,
            second_face_ratio: 0.5,
            max_yaw: 0.2,
            pitch_range: [0.3, 0.75],
            max_roll_degrees: 20.0,
            min_sharpness: 15.0,
        }
    }
}

/// Why a frame is not good enough, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityIssue {
    /// No face found: "look at the camera".
    NoFace,
    /// Another face nearly as large: "one person at a time".
    SeveralFaces,
    /// Face too small: "move closer".
    TooSmall,
    /// Face cut by the frame edge: "centre your face".
    OutOfFrame,
    /// Head turned, tilted or nodding: "look straight at the camera".
    NotFrontal,
    /// Motion or focus blur: "hold still".
    Blurry,
}

impl QualityIssue {
    /// Short English guidance (the UI has its own translated strings per variant).
    pub fn guidance(self) -> &'static str {
        match self {
            Self::NoFace => "look at the camera",
            Self::SeveralFaces => "one person at a time",
            Self::TooSmall => "move closer",
            Self::OutOfFrame => "centre your face in the frame",
            Self::NotFrontal => "look straight at the camera",
            Self::Blurry => "hold still",
        }
    }
}

/// Head pose read from the 5 landmarks, in the eye/mouth frame: `N − E = u·(eye₁ − eye₀) +
/// v·(M − E)`, with E the eye midpoint, M the mouth midpoint and N the nose tip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// Sideways nose offset in eye distances; changes with yaw, ~0 when frontal.
    pub u: f32,
    /// Nose height from the eye line (0) to the mouth (1); changes with pitch.
    pub v: f32,
    /// Tilt of the eye line, degrees.
    pub roll_degrees: f32,
}

/// The pose of a face, or `None` when the landmarks are degenerate.
pub(crate) fn pose(landmarks: &[Point; 5]) -> Option<Pose> {
    let [eye0, eye1, nose, mouth0, mouth1] = *landmarks;
    let e = midpoint(eye0, eye1);
    let m = midpoint(mouth0, mouth1);
    let a = [eye1[0] - eye0[0], eye1[1] - eye0[1]];
    let b = [m[0] - e[0], m[1] - e[1]];
    let n = [nose[0] - e[0], nose[1] - e[1]];
    let det = a[0] * b[1] - a[1] * b[0];
    if det.abs() < 1e-6 {
        return None;
    }
    Some(Pose {
        u: (n[0] * b[1] - n[1] * b[0]) / det,
        v: (a[0] * n[1] - a[1] * n[0]) / det,
        roll_degrees: a[1].atan2(a[0]).to_degrees(),
    })
}

fn midpoint(p: Point, q: Point) -> Point {
    [(p[0] + q[0]) / 2.0, (p[1] + q[1]) / 2.0]
}

/// Variance of the 4-neighbour Laplacian of the grey image: low when blurred.
pub(crate) fn sharpness(image: &Frame) -> f32 {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let grey: Vec<f32> = image
        .pixels()
        .chunks_exact(3)
        .map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)
        .collect();
    let mut values = Vec::with_capacity((w - 2) * (h - 2));
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            values.push(grey[i - 1] + grey[i + 1] + grey[i - w] + grey[i + w] - 4.0 * grey[i]);
        }
    }
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32
}

/// The largest face of a frame's detections.
pub fn dominant(detections: &[Detection]) -> Option<&Detection> {
    detections.iter().max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
}

/// Checks the detections of a `width × height` frame; on success returns the dominant face.
/// Sharpness is checked separately on the aligned crop ([`check_sharpness`]).
pub(crate) fn check_face<'a>(
    detections: &'a [Detection],
    width: u32,
    height: u32,
    config: &QualityConfig,
) -> Result<&'a Detection, QualityIssue> {
    let face = dominant(detections).ok_or(QualityIssue::NoFace)?;
    let crowded = detections.iter().any(|d| {
        !std::ptr::eq(d, face) && d.bbox.area() >= config.second_face_ratio * face.bbox.area()
    });
    if crowded {
        return Err(QualityIssue::SeveralFaces);
    }
    if face.bbox.width < config.min_face_width {
        return Err(QualityIssue::TooSmall);
    }
    let b = face.bbox;
    let inside =
        |p: Point| p[0] >= 0.0 && p[1] >= 0.0 && p[0] < width as f32 && p[1] < height as f32;
    if !inside([b.x, b.y]) || !inside([b.x + b.width - 1.0, b.y + b.height - 1.0]) {
        return Err(QualityIssue::OutOfFrame);
    }
    let frontal = pose(&face.landmarks).is_some_and(|p| {
        p.u.abs() <= config.max_yaw
            && (config.pitch_range[0]..=config.pitch_range[1]).contains(&p.v)
            && p.roll_degrees.abs() <= config.max_roll_degrees
    });
    if !frontal {
        return Err(QualityIssue::NotFrontal);
    }
    Ok(face)
}

/// Checks that an aligned crop is sharp enough.
pub(crate) fn check_sharpness(aligned: &Frame, config: &QualityConfig) -> Result<(), QualityIssue> {
    if sharpness(aligned) < config.min_sharpness { Err(QualityIssue::Blurry) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::align::TEMPLATE;
    use crate::vision::detect::BoundingBox;

    fn face(x: f32, width: f32, landmarks: [Point; 5]) -> Detection {
        Detection { bbox: BoundingBox { x, y: 10.0, width, height: width }, landmarks, score: 0.9 }
    }

    /// The template face, scaled ×2 and placed at (x, 10).
    fn frontal(x: f32) -> [Point; 5] {
        TEMPLATE.map(|p| [p[0] * 2.0 + x, p[1] * 2.0 + 10.0])
    }

    #[test]
    fn pose_of_the_template_is_frontal_and_level() {
        let p = pose(&TEMPLATE).unwrap();
        assert!(p.u.abs() < 0.01, "{p:?}");
        assert!((p.v - 0.495).abs() < 0.01, "{p:?}");
        assert!(p.roll_degrees.abs() < 0.5);
    }

    #[test]
    fn nose_moved_sideways_by_a_fifth_of_the_eye_distance_gives_u_of_a_fifth() {
        let mut lm = TEMPLATE;
        let eye_distance = TEMPLATE[1][0] - TEMPLATE[0][0];
        lm[2][0] += 0.2 * eye_distance;
        let p = pose(&lm).unwrap();
        assert!((p.u - 0.2 - pose(&TEMPLATE).unwrap().u).abs() < 0.01, "{p:?}");
    }

    #[test]
    fn gate_reasons_in_order() {
        let cfg = QualityConfig::default();
        assert_eq!(check_face(&[], 640, 480, &cfg), Err(QualityIssue::NoFace));
        let big = face(100.0, 224.0, frontal(100.0));
        assert!(check_face(std::slice::from_ref(&big), 640, 480, &cfg).is_ok());
        let twin = face(400.0, 200.0, frontal(400.0));
        assert_eq!(
            check_face(&[big.clone(), twin], 640, 480, &cfg),
            Err(QualityIssue::SeveralFaces)
        );
        let bystander = face(400.0, 60.0, frontal(400.0));
        assert_eq!(check_face(&[big.clone(), bystander], 640, 480, &cfg).unwrap(), &big);
        let small = face(100.0, 50.0, frontal(100.0));
        assert_eq!(check_face(&[small], 640, 480, &cfg), Err(QualityIssue::TooSmall));
        let edge = face(500.0, 224.0, frontal(500.0));
        assert_eq!(check_face(&[edge], 640, 480, &cfg), Err(QualityIssue::OutOfFrame));
        let mut turned = frontal(100.0);
        turned[2][0] += 30.0;
        assert_eq!(
            check_face(&[face(100.0, 224.0, turned)], 640, 480, &cfg),
            Err(QualityIssue::NotFrontal)
        );
    }

    #[test]
    fn blur_lowers_sharpness() {
        let size = 32u32;
        let checker: Vec<u8> = (0..size * size)
            .flat_map(|i| {
                let v = if (i % size + i / size).is_multiple_of(2) { 255 } else { 0 };
                [v, v, v]
            })
            .collect();
        let sharp = Frame::from_rgb(size, size, checker).unwrap();
        let flat = Frame::from_rgb(size, size, vec![128; (size * size * 3) as usize]).unwrap();
        assert!(sharpness(&sharp) > 1000.0);
        assert_eq!(sharpness(&flat), 0.0);
        let cfg = QualityConfig::default();
        assert_eq!(check_sharpness(&flat, &cfg), Err(QualityIssue::Blurry));
        assert!(check_sharpness(&sharp, &cfg).is_ok());
    }
}
