//! Alignment: the similarity transform that maps the 5 landmarks onto the standard 112×112
//! ArcFace template, and the bilinear warp that cuts out the aligned face.

use super::Point;
use super::frame::Frame;

/// Side of the aligned face crop SFace expects.
pub const ALIGNED_SIZE: u32 = 112;

/// Where the 5 landmarks of a frontal face sit in the 112×112 crop (the ArcFace template).
pub const TEMPLATE: [Point; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// A 2×3 affine map `[a b tx; c d ty]`: `(x, y) → (a·x + b·y + tx, c·x + d·y + ty)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine(pub [[f32; 3]; 2]);

impl Affine {
    pub fn apply(&self, p: Point) -> Point {
        let m = &self.0;
        [m[0][0] * p[0] + m[0][1] * p[1] + m[0][2], m[1][0] * p[0] + m[1][1] * p[1] + m[1][2]]
    }

    /// The inverse map, or `None` when the map is degenerate.
    pub(crate) fn inverse(&self) -> Option<Affine> {
        let [[a, b, tx], [c, d, ty]] = self.0;
        let det = a * d - b * c;
        if det.abs() < 1e-12 || !det.is_finite() {
            return None;
        }
        let (ia, ib, ic, id) = (d / det, -b / det, -c / det, a / det);
        Some(Affine([[ia, ib, -(ia * tx + ib * ty)], [ic, id, -(ic * tx + id * ty)]]))
    }
}

/// The least-squares similarity (rotation, uniform scale, translation; no reflection) taking
/// `src` points onto `dst` points: Umeyama's solution, which in 2-D has a closed form.
pub(crate) fn similarity(src: &[Point], dst: &[Point]) -> Option<Affine> {
    let n = src.len().min(dst.len());
    if n < 2 {
        return None;
    }
    let mean = |pts: &[Point]| {
        let s = pts[..n]
            .iter()
            .fold([0.0f64; 2], |acc, p| [acc[0] + p[0] as f64, acc[1] + p[1] as f64]);
        [s[0] / n as f64, s[1] / n as f64]
    };
    let (ms, md) = (mean(src), mean(dst));
    // With centred points s and d: a = Σ s·d, b = Σ s×d, var = Σ |s|²; then the best rotation
    // angle is atan2(b, a) and the best scale √(a² + b²) / var.
    let (mut a, mut b, mut var) = (0.0f64, 0.0f64, 0.0f64);
    for (p, q) in src[..n].iter().zip(&dst[..n]) {
        let (sx, sy) = (p[0] as f64 - ms[0], p[1] as f64 - ms[1]);
        let (dx, dy) = (q[0] as f64 - md[0], q[1] as f64 - md[1]);
        a += sx * dx + sy * dy;
        b += sx * dy - sy * dx;
        var += sx * sx + sy * sy;
    }
    if var < 1e-12 {
        return None;
    }
    let (sc, ss) = (a / var, b / var); // scale·cos θ, scale·sin θ
    let tx = md[0] - (sc * ms[0] - ss * ms[1]);
    let ty = md[1] - (ss * ms[0] + sc * ms[1]);
    Some(Affine([[sc as f32, -ss as f32, tx as f32], [ss as f32, sc as f32, ty as f32]]))
}

/// Cuts out a `size × size` image: output pixel `(x, y)` takes the bilinear sample at
/// `to_frame(x, y)` in `frame`; samples outside the frame are black.
pub(crate) fn warp(frame: &Frame, to_frame: &Affine, size: u32) -> Frame {
    let (w, h) = (frame.width() as i64, frame.height() as i64);
    let px = frame.pixels();
    let fetch = |x: i64, y: i64, c: usize| -> f32 {
        if x < 0 || y < 0 || x >= w || y >= h {
            0.0
        } else {
            px[((y * w + x) * 3) as usize + c] as f32
        }
    };
    let mut out = Vec::with_capacity((size * size * 3) as usize);
    for y in 0..size {
        for x in 0..size {
            let [sx, sy] = to_frame.apply([x as f32, y as f32]);
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            for c in 0..3 {
                let top = fetch(x0, y0, c) * (1.0 - fx) + fetch(x0 + 1, y0, c) * fx;
                let bottom = fetch(x0, y0 + 1, c) * (1.0 - fx) + fetch(x0 + 1, y0 + 1, c) * fx;
                out.push((top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    Frame::from_rgb(size, size, out).expect("size × size × 3 bytes")
}

/// The aligned 112×112 face for the given landmarks, or `None` for degenerate landmarks.
pub(crate) fn align_face(frame: &Frame, landmarks: &[Point; 5]) -> Option<Frame> {
    let to_template = similarity(landmarks, &TEMPLATE)?;
    Some(warp(frame, &to_template.inverse()?, ALIGNED_SIZE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Point, b: Point) -> bool {
        (a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3
    }

    #[test]
    fn recovers_a_known_similarity() {
        // Rotate 90° (x, y) → (−y, x), scale 2, then shift by (10, 20):
        // (1, 0) → (10, 22); (0, 1) → (8, 20); (0, 0) → (10, 20).
        let src = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let dst = [[10.0, 20.0], [10.0, 22.0], [8.0, 20.0]];
        let m = similarity(&src, &dst).unwrap();
        let expected = Affine([[0.0, -2.0, 10.0], [2.0, 0.0, 20.0]]);
        for (row, want) in m.0.iter().zip(expected.0.iter()) {
            for (v, w) in row.iter().zip(want) {
                assert!((v - w).abs() < 1e-5, "{m:?}");
            }
        }
    }

    #[test]
    fn template_maps_onto_itself_and_shifted_faces_shift_back() {
        let m = similarity(&TEMPLATE, &TEMPLATE).unwrap();
        assert!(TEMPLATE.iter().all(|&p| close(m.apply(p), p)));
        let shifted = TEMPLATE.map(|p| [p[0] * 3.0 + 100.0, p[1] * 3.0 + 50.0]);
        let m = similarity(&shifted, &TEMPLATE).unwrap();
        assert!(shifted.iter().zip(TEMPLATE).all(|(&s, t)| close(m.apply(s), t)));
    }

    #[test]
    fn least_squares_for_noisy_points() {
        // Noise that sums to zero and has no rotational or scaling part (a shear): the best
        // fit is still the identity, although no point maps exactly.
        let src = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]];
        let dst = [[0.5, 0.0], [9.5, 0.0], [-0.5, 10.0], [10.5, 10.0]];
        let m = similarity(&src, &dst).unwrap();
        let identity = Affine([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
        for (row, want) in m.0.iter().zip(identity.0.iter()) {
            for (v, w) in row.iter().zip(want) {
                assert!((v - w).abs() < 1e-5, "{m:?}");
            }
        }
    }

    #[test]
    fn degenerate_landmarks_give_none() {
        assert!(similarity(&[[1.0, 1.0]; 5], &TEMPLATE).is_none());
        assert!(
            align_face(&Frame::from_rgb(4, 4, vec![0; 48]).unwrap(), &[[2.0, 2.0]; 5]).is_none()
        );
    }

    #[test]
    fn inverse_undoes_the_map() {
        let m = Affine([[0.5, -1.0, 3.0], [1.0, 0.5, -7.0]]);
        let p = [4.0, -2.5];
        assert!(close(m.inverse().unwrap().apply(m.apply(p)), p));
    }

    #[test]
    fn warp_samples_bilinearly_with_black_outside() {
        // A 2×1 frame: black then white. Half a pixel in is mid-grey; outside is black.
        let frame = Frame::from_rgb(2, 1, vec![0, 0, 0, 255, 255, 255]).unwrap();
        let half = Affine([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]);
        let out = warp(&frame, &half, 2);
        assert_eq!(out.pixel(0, 0), [128, 128, 128]);
        assert_eq!(out.pixel(1, 0), [128, 128, 128], "between white and the black border");
        assert_eq!(out.pixel(0, 1), [0, 0, 0]);
    }
}
