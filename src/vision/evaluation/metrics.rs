//! Verification error rates from genuine and impostor scores (ISO/IEC 19795 naming).
//!
//! A pair is accepted when its score is at or above the threshold. FMR is the fraction of
//! impostor pairs accepted, FNMR the fraction of genuine pairs rejected. A pair with an image
//! where no face was found scores −∞, so it is always rejected.

use serde::Serialize;

/// Scores of the two kinds of pairs, sorted ascending.
pub struct Scores {
    genuine: Vec<f32>,
    impostor: Vec<f32>,
}

/// One operating point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OperatingPoint {
    pub threshold: f32,
    pub fmr: f64,
    pub fnmr: f64,
}

impl Scores {
    pub fn new(mut genuine: Vec<f32>, mut impostor: Vec<f32>) -> Self {
        genuine.sort_by(f32::total_cmp);
        impostor.sort_by(f32::total_cmp);
        Self { genuine, impostor }
    }

    pub(crate) fn genuine_pairs(&self) -> usize {
        self.genuine.len()
    }

    pub(crate) fn impostor_pairs(&self) -> usize {
        self.impostor.len()
    }

    /// FMR and FNMR when accepting scores `>= threshold`.
    pub fn at(&self, threshold: f32) -> OperatingPoint {
        let below = |v: &[f32]| v.partition_point(|&s| s < threshold);
        let fnmr = ratio(below(&self.genuine), self.genuine.len());
        let fmr = ratio(self.impostor.len() - below(&self.impostor), self.impostor.len());
        OperatingPoint { threshold, fmr, fnmr }
    }

    /// The lowest threshold whose FMR is at most `target`, and its FNMR.
    pub fn at_fmr(&self, target: f64) -> OperatingPoint {
        let allowed = (target * self.impostor.len() as f64).floor() as usize;
        let threshold = match self.impostor.len().checked_sub(allowed + 1) {
            // Just above the highest impostor score that must be rejected.
            Some(i) => next_up(self.impostor[i]),
            None => f32::NEG_INFINITY,
        };
        self.at(threshold)
    }

    /// The equal error rate: where FMR and FNMR cross, as their mean at the closest threshold.
    pub(crate) fn eer(&self) -> OperatingPoint {
        self.curve()
            .into_iter()
            .min_by(|a, b| (a.fmr - a.fnmr).abs().total_cmp(&(b.fmr - b.fnmr).abs()))
            .map(|p| OperatingPoint {
                fmr: (p.fmr + p.fnmr) / 2.0,
                fnmr: (p.fmr + p.fnmr) / 2.0,
                ..p
            })
            .unwrap_or(OperatingPoint { threshold: 0.0, fmr: 0.0, fnmr: 0.0 })
    }

    /// Every distinct operating point, by rising threshold (the DET curve).
    pub(crate) fn curve(&self) -> Vec<OperatingPoint> {
        let mut thresholds: Vec<f32> =
            self.genuine.iter().chain(&self.impostor).copied().filter(|s| s.is_finite()).collect();
        thresholds.sort_by(f32::total_cmp);
        thresholds.dedup();
        thresholds.push(f32::INFINITY);
        thresholds.into_iter().map(|t| self.at(t)).collect()
    }
}

fn ratio(count: usize, total: usize) -> f64 {
    if total == 0 { 0.0 } else { count as f64 / total as f64 }
}

/// The smallest float above `x`.
fn next_up(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f32::from_bits(1);
    }
    let bits = x.to_bits();
    f32::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores() -> Scores {
        // 4 genuine, 10 impostor pairs.
        Scores::new(
            vec![0.9, 0.8, 0.5, f32::NEG_INFINITY],
            vec![0.1, 0.2, 0.3, 0.6, 0.0, -0.1, 0.05, 0.15, 0.25, 0.35],
        )
    }

    #[test]
    fn rates_at_a_threshold_by_hand() {
        let p = scores().at(0.5);
        assert_eq!(p.fnmr, 0.25, "only the failed acquisition is below 0.5");
        assert_eq!(p.fmr, 0.1, "only the 0.6 impostor is at or above 0.5");
    }

    #[test]
    fn threshold_at_fmr() {
        // FMR ≤ 0.1 allows one impostor: the threshold sits just above the second highest (0.35).
        let p = scores().at_fmr(0.1);
        assert!(p.threshold > 0.35 && p.threshold < 0.3501);
        assert_eq!((p.fmr, p.fnmr), (0.1, 0.25));
        // FMR ≤ 0.01 allows none: just above 0.6, so the 0.5 genuine pair is rejected too.
        let p = scores().at_fmr(0.01);
        assert_eq!((p.fmr, p.fnmr), (0.0, 0.5));
    }

    #[test]
    fn eer_of_separable_scores_is_zero_and_of_identical_ones_is_half() {
        let s = Scores::new(vec![0.8, 0.9], vec![0.1, 0.2]);
        assert_eq!(s.eer().fmr, 0.0);
        assert!(s.eer().threshold > 0.2 && s.eer().threshold <= 0.8);
        let same = Scores::new(vec![0.5; 4], vec![0.5; 4]);
        assert_eq!(same.eer().fmr, 0.5);
    }

    #[test]
    fn curve_runs_from_accept_all_to_reject_all() {
        let curve = scores().curve();
        assert_eq!(curve.first().unwrap().fmr, 1.0);
        let last = curve.last().unwrap();
        assert_eq!((last.fmr, last.fnmr), (0.0, 1.0));
        assert!(curve.windows(2).all(|w| w[0].fmr >= w[1].fmr && w[0].fnmr <= w[1].fnmr));
    }
}
