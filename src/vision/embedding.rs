//! A face embedding: the 128 numbers SFace gives for an aligned face, L2-normalised.
//!
//! An embedding is biometric data. It lives only in memory, is zeroised when dropped, and has no
//! `Debug` output of its values, so it cannot reach a log by accident.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of an SFace embedding.
pub const EMBEDDING_DIM: usize = 128;

/// An L2-normalised face embedding.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Embedding([f32; EMBEDDING_DIM]);

impl Embedding {
    /// Normalises `values` to unit length. Returns `None` for a zero or non-finite vector.
    pub fn from_raw(mut values: [f32; EMBEDDING_DIM]) -> Option<Self> {
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if !norm.is_finite() || norm == 0.0 {
            values.zeroize();
            return None;
        }
        values.iter_mut().for_each(|v| *v /= norm);
        Some(Self(values))
    }

    /// The unit-length values.
    pub fn as_slice(&self) -> &[f32; EMBEDDING_DIM] {
        &self.0
    }

    /// Cosine similarity with another embedding (both are unit length).
    pub fn cosine(&self, other: &Embedding) -> f32 {
        dot(&self.0, &other.0)
    }

    /// The normalised mean of several embeddings: how enrolment fuses good frames.
    pub fn mean(items: &[Embedding]) -> Option<Self> {
        let mut sum = [0f32; EMBEDDING_DIM];
        for item in items {
            sum.iter_mut().zip(item.0.iter()).for_each(|(s, v)| *s += v);
        }
        Self::from_raw(sum)
    }
}

impl std::fmt::Debug for Embedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Embedding(<redacted>)")
    }
}

/// Dot product of two equal-length vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_raw_normalises_and_rejects_zero() {
        let mut raw = [0f32; EMBEDDING_DIM];
        raw[0] = 3.0;
        raw[1] = 4.0;
        let e = Embedding::from_raw(raw).unwrap();
        assert!((e.as_slice()[0] - 0.6).abs() < 1e-6);
        assert!((e.cosine(&e) - 1.0).abs() < 1e-6);
        assert!(Embedding::from_raw([0f32; EMBEDDING_DIM]).is_none());
        assert!(Embedding::from_raw([f32::NAN; EMBEDDING_DIM]).is_none());
    }

    #[test]
    fn debug_never_shows_values() {
        let mut raw = [0f32; EMBEDDING_DIM];
        raw[5] = 0.123;
        let e = Embedding::from_raw(raw).unwrap();
        assert_eq!(format!("{e:?}"), "Embedding(<redacted>)");
    }
}
