//! A model-free [`FaceEngine`] for tests and demos without model files: a frame made by
//! [`FakeEngine::frame`] shows one frontal, good-quality face whose identity and liveness are
//! written in its first pixel; any other frame (an empty scene, a photo) shows nobody. Each
//! identity has its own embedding, orthogonal to every other one's, so recognition is exact.
//! [`FakeEngine::turned_frame`] shows the same face with the head turned (the nose moved
//! sideways, the eyes narrowed), for the head-turn challenge; [`turn_head`] is that movement,
//! which `bench gate` also applies to a real photo's landmarks.

use super::align::TEMPLATE;
use super::detect::{BoundingBox, Detection};
use super::embedding::EMBEDDING_DIM;
use super::engine::{FaceEngine, FrameResult};
use super::quality::QualityIssue;
use super::{Embedding, Frame, Point, VisionError};

/// The first pixel's red value that marks a fake face.
const MARK: u8 = 251;
/// The size of a fake frame.
const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
/// The face box: 224 pixels wide, centred; the landmarks are the alignment template's, twice
/// as large (eyes 70 pixels apart, as close to the camera as the head-turn challenge wants).
const FACE: BoundingBox = BoundingBox { x: 48.0, y: 8.0, width: 224.0, height: 224.0 };
const SCALE: f32 = 2.0;
/// The second pixel's red value of a turned head, and how far it turns: the nose moves by this
/// share of the eye distance, the eyes and mouth corners narrow toward the middle by the other.
const TURNED_PLUS: u8 = 1;
const TURNED_MINUS: u8 = 2;
const TURN_NOSE: f32 = 0.3;
const TURN_NARROW: f32 = 0.12;

/// The fake engine; `judges_liveness` stands for a door whose engine has the passive models.
#[derive(Debug, Clone, Copy, Default)]
pub struct FakeEngine {
    pub judges_liveness: bool,
}

impl FakeEngine {
    /// A frame showing person `identity` (1 to 127); `live` is the liveness score the engine
    /// reports for it, in 255ths (a printed photo: 0, a live face: 255).
    pub fn frame(identity: u8, live: u8) -> Frame {
        let mut pixels = vec![128u8; (WIDTH * HEIGHT * 3) as usize];
        pixels[..3].copy_from_slice(&[MARK, identity, live]);
        Frame::from_rgb(WIDTH, HEIGHT, pixels).expect("a fake frame has a valid size")
    }

    /// A frame of person `identity` with the head turned toward the image's +x (`plus`) or -x:
    /// its landmarks move as a yawing head's do.
    pub fn turned_frame(identity: u8, live: u8, plus: bool) -> Frame {
        let mut frame = Self::frame(identity, live).pixels().to_vec();
        frame[3] = if plus { TURNED_PLUS } else { TURNED_MINUS };
        Frame::from_rgb(WIDTH, HEIGHT, frame).expect("a fake frame has a valid size")
    }

    /// The embedding the engine gives for `identity`.
    pub fn embedding(identity: u8) -> Embedding {
        let mut raw = [0f32; EMBEDDING_DIM];
        raw[identity as usize % EMBEDDING_DIM] = 1.0;
        Embedding::from_raw(raw).expect("a one-hot vector is not zero")
    }
}

/// Moves a frontal face's landmarks as a head turned toward the image's +x (`toward` = 1) or −x
/// (−1) moves them: the nose by 0.3 eye distances, the eyes and mouth corners 12 % toward the
/// middle (what the head-turn challenge sees of a ≈ 30° yaw).
pub fn turn_head(landmarks: &mut [Point; 5], toward: f32) {
    let (left, right) = (landmarks[0][0], landmarks[1][0]);
    let middle = (left + right) / 2.0;
    for p in [0, 1, 3, 4] {
        landmarks[p][0] = middle + (landmarks[p][0] - middle) * (1.0 - TURN_NARROW);
    }
    landmarks[2][0] += toward * TURN_NOSE * (right - left) * (1.0 - TURN_NARROW);
}

impl FaceEngine for FakeEngine {
    fn process(&mut self, frame: &Frame) -> Result<FrameResult, VisionError> {
        let [mark, identity, live] = frame.pixel(0, 0);
        if mark != MARK || identity == 0 {
            return Ok(FrameResult {
                face: None,
                probe: Err(QualityIssue::NoFace),
                liveness: None,
            });
        }
        let mut landmarks = TEMPLATE.map(|[x, y]| [x * SCALE + FACE.x, y * SCALE + FACE.y]);
        let turn = match frame.pixel(1, 0)[0] {
            TURNED_PLUS => 1.0,
            TURNED_MINUS => -1.0,
            _ => 0.0,
        };
        if turn != 0.0 {
            turn_head(&mut landmarks, turn);
        }
        let face = Detection { bbox: FACE, landmarks, score: 0.95 };
        Ok(FrameResult {
            face: Some(face),
            probe: Ok(Self::embedding(identity)),
            liveness: self.judges_liveness.then_some(live as f32 / 255.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fake_face_is_recognised_as_its_identity_and_anything_else_shows_nobody() {
        let mut engine = FakeEngine { judges_liveness: true };
        let result = engine.process(&FakeEngine::frame(7, 255)).unwrap();
        let probe = result.probe.unwrap();
        assert!(probe.cosine(&FakeEngine::embedding(7)) > 0.99);
        assert!(probe.cosine(&FakeEngine::embedding(8)).abs() < 1e-6);
        assert_eq!(result.liveness, Some(1.0));
        let photo = engine.process(&FakeEngine::frame(7, 0)).unwrap();
        assert_eq!(photo.liveness, Some(0.0));
        let empty = Frame::from_rgb(640, 480, vec![40; 640 * 480 * 3]).unwrap();
        let nobody = engine.process(&empty).unwrap();
        assert!(nobody.face.is_none() && nobody.probe.is_err_and(|i| i == QualityIssue::NoFace));
        let without = FakeEngine::default().process(&FakeEngine::frame(7, 255)).unwrap();
        assert_eq!(without.liveness, None, "no liveness score without the models");
    }
}
