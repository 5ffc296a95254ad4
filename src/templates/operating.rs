//! The decision threshold as a site property: a stranger's chance to be taken for one of N
//! residents per attempt is about N × the per-comparison false-match rate (FMR), so the 1:N
//! threshold rises with the gallery until N × FMR is the configured stranger acceptance.
//!
//! FMR at a threshold comes from the dev set (`facegate eval`, the gate's own pipeline and
//! templates): a line in log-FMR through its points at 1e-2 and 1e-4. Past 1e-4 (5 of the dev
//! set's 47 575 impostor comparisons) it is an extrapolation. The measured tail falls ever faster
//! (0.089 of threshold per decade from 1e-2 to 1e-3, 0.046 from 1e-3 to 1e-4), so the line's
//! thresholds err on the strangers' side: fewer strangers, more residents asked to try again,
//! than the true curve.

use serde::{Deserialize, Serialize};

/// Dev-set operating points (threshold, FMR per comparison) of `facegate eval --frames 2
/// --enrol-photos 3` with the gate's default probe (flip fusion, two frames fused), read from the
/// protocol the gate runs: a probe against one template averaged from 3 photos, as `admin enrol`
/// stores. Impostors score higher against an averaged template than against one photo (0.393 at
/// 1e-3 where photo against photo needs 0.384), so these points keep more strangers out.
const DEV_SET_FMR: [(f32, f64); 3] = [(0.304, 1e-2), (0.393, 1e-3), (0.439, 1e-4)];

/// Decades of FMR per unit of threshold, through the first and last dev-set points.
fn slope() -> f64 {
    let [(t0, f0), .., (t2, f2)] = DEV_SET_FMR;
    (f2.log10() - f0.log10()) / f64::from(t2 - t0)
}

/// The expected FMR per comparison at a threshold.
pub fn expected_fmr(threshold: f32) -> f64 {
    let (t0, f0) = DEV_SET_FMR[0];
    10f64.powf(f0.log10() + slope() * f64::from(threshold - t0)).min(1.0)
}

/// The threshold whose expected FMR per comparison is `fmr`.
pub fn threshold_at_fmr(fmr: f64) -> f32 {
    let (t0, f0) = DEV_SET_FMR[0];
    t0 + ((fmr.log10() - f0.log10()) / slope()) as f32
}

/// `[matching]`: how a probe is decided.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MatchingConfig {
    /// Smallest score that ever matches; 1:1 checks (face as a second factor) and enrolment's
    /// checks use it as is. 0.42 is FMR ≈ 2e-4 per comparison against an averaged template on
    /// the dev set (≈ 1e-4 photo against photo).
    pub threshold: f32,
    /// The chance per attempt that a stranger is taken for one of the residents (1e-4: 1 in
    /// 10 000). The 1:N threshold is the larger of `threshold` and the one whose FMR is this
    /// divided by the number of enrolled residents.
    pub stranger_acceptance: f64,
    /// The best resident must beat the second best by this much, or the result is "unknown".
    pub margin: f32,
    /// A face session decides on the fused embeddings of its first this many good frames.
    pub fuse_frames: usize,
}

impl Default for MatchingConfig {
    fn default() -> Self {
        Self { threshold: 0.42, stranger_acceptance: 1e-4, margin: 0.05, fuse_frames: 2 }
    }
}

impl MatchingConfig {
    /// The 1:N threshold for a gallery of `residents` enrolled residents.
    pub fn threshold_for(&self, residents: usize) -> f32 {
        let per_comparison = self.stranger_acceptance / residents.max(1) as f64;
        self.threshold.max(threshold_at_fmr(per_comparison))
    }

    /// The chance per attempt that a stranger matches one of `residents` at `threshold`.
    pub fn stranger_rate(residents: usize, threshold: f32) -> f64 {
        (residents as f64 * expected_fmr(threshold)).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_fmr_follows_the_dev_set_points_and_inverts() {
        let [(t0, f0), _, (t2, f2)] = DEV_SET_FMR;
        assert!((expected_fmr(t0) / f0 - 1.0).abs() < 1e-4);
        assert!((expected_fmr(t2) / f2 - 1.0).abs() < 1e-4);
        for fmr in [1e-3, 1e-5, 1e-8] {
            assert!((expected_fmr(threshold_at_fmr(fmr)) / fmr - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn the_threshold_rises_with_the_gallery_to_keep_strangers_out() {
        let config = MatchingConfig::default();
        assert!(config.threshold_for(0) >= config.threshold, "never below the configured floor");
        let mut last = config.threshold;
        for residents in [10, 100, 1_000, 10_000] {
            let threshold = config.threshold_for(residents);
            assert!(threshold > last, "{residents} residents: {threshold} after {last}");
            let rate = MatchingConfig::stranger_rate(residents, threshold);
            assert!((rate / config.stranger_acceptance - 1.0).abs() < 1e-3, "{residents}: {rate}");
            last = threshold;
        }
    }
}
