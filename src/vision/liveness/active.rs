//! The active layer: a random sequence of head-turn prompts judged from YuNet's 5 landmarks,
//! no extra model.
//!
//! In the eye/mouth frame `N − E = u·(eye₁ − eye₀) + v·(M − E)` ([`crate::vision::quality::pose`]),
//! a real head changes `u` with yaw (≈ 0.10 at 10°, 0.34 at 30°) while a flat photo keeps it
//! almost constant however it is moved, rolled, scaled or tilted. A prompt passes when the
//! smoothed `u` moves far enough the prompted way for a few frames in time, the eye distance
//! narrows as a turning head's does, and the head comes back to the baseline.

use serde::{Deserialize, Serialize};

use crate::vision::Point;
use crate::vision::quality::pose;

/// Thresholds of the challenge (`[vision.liveness.active]`); the defaults are the values the
/// shared fixtures were made with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ActiveParams {
    pub base_frames: usize,
    pub base_u_max: f32,
    pub roll_max: f32,
    pub min_iod: f32,
    pub det_min: f32,
    pub smooth: usize,
    pub delta_u: f32,
    pub hold_frames: usize,
    pub wrong_dir: f32,
    pub return_u: f32,
    pub t_turn: f32,
    pub t_return: f32,
    pub k_min: f32,
    pub k_max: f32,
    pub jump_max: f32,
    pub scale_jump: f32,
}

impl Default for ActiveParams {
    fn default() -> Self {
        Self {
            base_frames: 5,
            base_u_max: 0.12,
            roll_max: 25.0,
            min_iod: 45.0,
            det_min: 0.8,
            smooth: 3,
            delta_u: 0.12,
            hold_frames: 3,
            wrong_dir: 0.1,
            return_u: 0.07,
            t_turn: 3.0,
            t_return: 2.5,
            k_min: 0.22,
            k_max: 100.0,
            jump_max: 1.0,
            scale_jump: 0.4,
        }
    }
}

/// Which way to turn: `Plus` makes `u` grow (the nose moves toward the image's +x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Turn {
    #[serde(rename = "+")]
    Plus,
    #[serde(rename = "-")]
    Minus,
}

impl Turn {
    fn sign(self) -> f32 {
        match self {
            Turn::Plus => 1.0,
            Turn::Minus => -1.0,
        }
    }

    fn symbol(self) -> char {
        match self {
            Turn::Plus => '+',
            Turn::Minus => '-',
        }
    }
}

/// Why a challenge failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    WrongDirection(Turn),
    Timeout(Turn),
    NotAHeadTurn(Turn),
    NoReturn(Turn),
    FaceJumped,
    NoBaseline,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::WrongDirection(t) => write!(f, "turn {}: wrong direction", t.symbol()),
            Failure::Timeout(t) => write!(f, "turn {}: timeout", t.symbol()),
            Failure::NotAHeadTurn(t) => write!(f, "turn {}: not a head turn", t.symbol()),
            Failure::NoReturn(t) => write!(f, "turn {}: no return", t.symbol()),
            Failure::FaceJumped => f.write_str("face jumped"),
            Failure::NoBaseline => f.write_str("no frontal baseline"),
        }
    }
}

/// Where a challenge stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Collecting frontal frames.
    Baseline,
    /// Waiting for prompt `index` to be performed.
    Turning(usize),
    /// Prompt `index` done; waiting for the head to come back.
    Returning(usize),
    Passed,
    Failed(Failure),
}

/// One head-turn challenge.
pub struct HeadTurnChallenge {
    params: ActiveParams,
    prompts: Vec<Turn>,
    progress: Progress,
    baseline: Vec<(f32, f32)>,
    base_u: f32,
    base_iod: f32,
    recent: Vec<(f32, f32)>,
    step_started: f32,
    held: usize,
    last_face: Option<(Point, f32)>,
}

fn median(mut values: Vec<f32>) -> f32 {
    values.sort_by(f32::total_cmp);
    values[values.len() / 2]
}

impl HeadTurnChallenge {
    pub fn new(params: ActiveParams, prompts: Vec<Turn>) -> Self {
        Self {
            params,
            prompts,
            progress: Progress::Baseline,
            baseline: Vec::new(),
            base_u: 0.0,
            base_iod: 0.0,
            recent: Vec::new(),
            step_started: 0.0,
            held: 0,
            last_face: None,
        }
    }

    /// A random sequence of 2 or 3 prompts.
    pub(crate) fn random_prompts(rng: &mut impl rand::Rng) -> Vec<Turn> {
        use rand::RngExt;
        let count = rng.random_range(2..=3);
        (0..count).map(|_| if rng.random::<bool>() { Turn::Plus } else { Turn::Minus }).collect()
    }

    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// The current prompt, for the screen.
    pub fn prompt(&self) -> Option<Turn> {
        match self.progress {
            Progress::Turning(i) => self.prompts.get(i).copied(),
            _ => None,
        }
    }

    /// Feeds one frame's landmarks at time `t` (seconds) with the detector's score.
    pub fn push(&mut self, t: f32, landmarks: &[Point; 5], score: f32) -> Progress {
        if matches!(self.progress, Progress::Passed | Progress::Failed(_)) {
            return self.progress;
        }
        let Some(p) = pose(landmarks) else { return self.progress };
        let [e0, e1, ..] = *landmarks;
        let iod = (e1[0] - e0[0]).hypot(e1[1] - e0[1]);
        if score < self.params.det_min
            || iod < self.params.min_iod
            || p.roll_degrees.abs() > self.params.roll_max
        {
            return self.progress;
        }
        let centre = [(e0[0] + e1[0]) / 2.0, (e0[1] + e1[1]) / 2.0];
        if let Some((last, last_iod)) = self.last_face {
            let moved = (centre[0] - last[0]).hypot(centre[1] - last[1]);
            if moved > self.params.jump_max * last_iod
                || (iod / last_iod - 1.0).abs() > self.params.scale_jump
            {
                return self.fail(Failure::FaceJumped);
            }
        }
        self.last_face = Some((centre, iod));
        self.recent.push((p.u, iod));
        if self.recent.len() > self.params.smooth {
            self.recent.remove(0);
        }
        let u = median(self.recent.iter().map(|r| r.0).collect());
        let smooth_iod = median(self.recent.iter().map(|r| r.1).collect());
        match self.progress {
            Progress::Baseline => {
                if p.u.abs() <= self.params.base_u_max {
                    self.baseline.push((p.u, iod));
                }
                if self.baseline.len() >= self.params.base_frames {
                    self.base_u = median(self.baseline.iter().map(|b| b.0).collect());
                    self.base_iod = median(self.baseline.iter().map(|b| b.1).collect());
                    self.start_step(Progress::Turning(0), t);
                }
            }
            Progress::Turning(i) => {
                let turn = self.prompts[i];
                let shift = turn.sign() * (u - self.base_u);
                if shift <= -self.params.wrong_dir {
                    return self.fail(Failure::WrongDirection(turn));
                }
                self.held = if shift >= self.params.delta_u { self.held + 1 } else { 0 };
                if self.held >= self.params.hold_frames {
                    // A turning head's eye distance shrinks like 1 − cos(yaw) ≈ k·Δu².
                    let k = (1.0 - smooth_iod / self.base_iod) / (shift * shift);
                    if !(self.params.k_min..=self.params.k_max).contains(&k) {
                        return self.fail(Failure::NotAHeadTurn(turn));
                    }
                    self.start_step(Progress::Returning(i), t);
                } else if t - self.step_started > self.params.t_turn {
                    return self.fail(Failure::Timeout(turn));
                }
            }
            Progress::Returning(i) => {
                if (u - self.base_u).abs() <= self.params.return_u {
                    let next = if i + 1 == self.prompts.len() {
                        Progress::Passed
                    } else {
                        Progress::Turning(i + 1)
                    };
                    self.start_step(next, t);
                } else if t - self.step_started > self.params.t_return {
                    return self.fail(Failure::NoReturn(self.prompts[i]));
                }
            }
            Progress::Passed | Progress::Failed(_) => {}
        }
        self.progress
    }

    /// The verdict when the frames stop: anything unfinished is a timeout.
    pub fn finish(&mut self) -> Progress {
        self.progress = match self.progress {
            Progress::Baseline => Progress::Failed(Failure::NoBaseline),
            Progress::Turning(i) => Progress::Failed(Failure::Timeout(self.prompts[i])),
            Progress::Returning(i) => Progress::Failed(Failure::NoReturn(self.prompts[i])),
            done => done,
        };
        self.progress
    }

    fn start_step(&mut self, step: Progress, t: f32) {
        self.progress = step;
        self.step_started = t;
        self.held = 0;
    }

    fn fail(&mut self, failure: Failure) -> Progress {
        self.progress = Progress::Failed(failure);
        self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::align::TEMPLATE;

    /// Frames of a head that yaws (nose shifts sideways, eyes narrow) or of a photo moved around.
    fn frame(yaw_u: f32, narrow: f32, shift_x: f32) -> [Point; 5] {
        let mut lm = TEMPLATE.map(|p| [p[0] * 1.5 + 100.0 + shift_x, p[1] * 1.5 + 100.0]);
        let cx = (lm[0][0] + lm[1][0]) / 2.0;
        for p in [0, 1, 3, 4] {
            lm[p][0] = cx + (lm[p][0] - cx) * (1.0 - narrow);
        }
        lm[2][0] += yaw_u * (lm[1][0] - lm[0][0]);
        lm
    }

    fn run(prompts: Vec<Turn>, frames: impl IntoIterator<Item = [Point; 5]>) -> Progress {
        let mut c = HeadTurnChallenge::new(ActiveParams::default(), prompts);
        for (i, lm) in frames.into_iter().enumerate() {
            c.push(i as f32 / 15.0, &lm, 0.95);
        }
        c.finish()
    }

    #[test]
    fn a_head_turning_right_then_back_passes_one_prompt() {
        let frames = (0..10)
            .map(|_| frame(0.0, 0.0, 0.0))
            .chain((0..6).map(|_| frame(0.3, 0.12, 0.0)))
            .chain((0..6).map(|_| frame(0.0, 0.0, 0.0)));
        assert_eq!(run(vec![Turn::Plus], frames), Progress::Passed);
    }

    #[test]
    fn a_photo_slid_sideways_never_passes() {
        let frames = (0..90).map(|i| frame(0.0, 0.0, (i as f32 * 0.3).sin() * 40.0));
        assert_eq!(
            run(vec![Turn::Plus, Turn::Minus], frames),
            Progress::Failed(Failure::Timeout(Turn::Plus))
        );
    }

    #[test]
    fn a_photo_rolled_and_scaled_in_the_plane_never_passes() {
        let frames = (0..90).map(|i| {
            let (angle, scale) =
                ((i as f32 * 0.2).sin() * 20f32.to_radians(), 1.0 + 0.15 * (i as f32 * 0.1).sin());
            let (sin, cos) = angle.sin_cos();
            frame(0.0, 0.0, 0.0).map(|[x, y]| {
                let (dx, dy) = ((x - 180.0) * scale, (y - 200.0) * scale);
                [180.0 + dx * cos - dy * sin, 200.0 + dx * sin + dy * cos]
            })
        });
        assert_eq!(
            run(vec![Turn::Minus, Turn::Plus], frames),
            Progress::Failed(Failure::Timeout(Turn::Minus))
        );
    }

    #[test]
    fn a_sideways_nose_without_narrowing_eyes_is_not_a_head_turn() {
        let frames =
            (0..10).map(|_| frame(0.0, 0.0, 0.0)).chain((0..6).map(|_| frame(0.3, 0.0, 0.0)));
        assert_eq!(
            run(vec![Turn::Plus], frames),
            Progress::Failed(Failure::NotAHeadTurn(Turn::Plus))
        );
    }
}
