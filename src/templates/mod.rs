//! Protected ("salted") face templates and matching (DESIGN.md).
//!
//! A stored template is `T_s(e)`: the embedding under a secret orthogonal transform chosen by
//! `HMAC-SHA256(template_key, salt)` with a random 16-byte salt per template. A stolen database
//! holds no usable biometric, two sites' (or two enrolments') templates cannot be linked, and a
//! template is revoked by deleting it. Scores are exactly the raw cosine, because the transform
//! keeps inner products.

mod matcher;
mod operating;
mod transform;

use hmac::{Hmac, KeyInit, Mac};
use rand::TryRng;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::keys::{Key, Purpose, SiteKey};
use crate::vision::{EMBEDDING_DIM, Embedding, dot};

pub use matcher::{Gallery, GalleryEntry, Identification};
pub use operating::{MatchingConfig, expected_fmr, threshold_at_fmr};
pub use transform::{Transform, Vector};

/// Bytes of a template's salt.
pub const SALT_LEN: usize = 16;

/// The recogniser whose embeddings the templates hold; a template of another model is refused.
pub const MODEL: &str = "sface-2021dec/v1";
/// How far a stored vector's norm may be from 1 (f32 rounding through the transform is far
/// below this).
const NORM_TOLERANCE: f32 = 1e-3;

/// The template key: seeds every template's transform.
#[derive(Clone)]
pub struct TemplateKey(Key);

impl TemplateKey {
    pub fn from_site(site: &SiteKey) -> Self {
        Self(site.derive(Purpose::Template))
    }

    /// The transform of the template with this salt.
    pub fn transform(&self, salt: &[u8; SALT_LEN]) -> Transform {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0.0).expect("any key length");
        mac.update(salt);
        let mut seed: [u8; 32] = mac.finalize().into_bytes().into();
        let transform = Transform::from_seed(seed);
        seed.zeroize();
        transform
    }
}

/// What is stored for one template.
#[derive(Clone, PartialEq, Zeroize, ZeroizeOnDrop)]
pub struct ProtectedTemplate {
    pub salt: [u8; SALT_LEN],
    pub vector: Vector,
}

impl std::fmt::Debug for ProtectedTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProtectedTemplate(<redacted>)")
    }
}

impl ProtectedTemplate {
    /// Protects an embedding under a fresh random salt.
    pub fn protect(key: &TemplateKey, embedding: &Embedding) -> Self {
        let mut salt = [0u8; SALT_LEN];
        rand::rngs::SysRng.try_fill_bytes(&mut salt).expect("the OS random source works");
        Self::protect_with_salt(key, embedding, salt)
    }

    /// Protects an embedding under a given salt (tests use fixed salts).
    pub fn protect_with_salt(
        key: &TemplateKey,
        embedding: &Embedding,
        salt: [u8; SALT_LEN],
    ) -> Self {
        Self { salt, vector: key.transform(&salt).apply(embedding.as_slice()) }
    }

    /// The score of a probe against this template: the cosine of the underlying embeddings.
    pub fn score(&self, key: &TemplateKey, probe: &Embedding) -> f32 {
        dot(&self.vector, &key.transform(&self.salt).apply(probe.as_slice()))
    }

    /// The same template under a new key and salt, without re-enrolment (key rotation).
    pub(crate) fn rekey(&self, old: &TemplateKey, new: &TemplateKey) -> Self {
        let mut raw = old.transform(&self.salt).invert(&self.vector);
        let mut salt = [0u8; SALT_LEN];
        rand::rngs::SysRng.try_fill_bytes(&mut salt).expect("the OS random source works");
        let vector = new.transform(&salt).apply(&raw);
        raw.zeroize();
        Self { salt, vector }
    }

    /// The embedding under the template (zeroised when dropped); it never leaves this module.
    fn recover(&self, key: &TemplateKey) -> Option<Embedding> {
        let mut raw = key.transform(&self.salt).invert(&self.vector);
        let embedding = Embedding::from_raw(raw);
        raw.zeroize();
        embedding
    }

    /// The vector as stored: little-endian f32s.
    pub fn vector_bytes(&self) -> Vec<u8> {
        self.vector.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// Reads a stored row back; `None` when the lengths are wrong or the vector is not of unit
    /// norm (the transform keeps norms, and embeddings have norm 1: a longer forged vector
    /// would out-score genuine templates).
    pub fn from_bytes(salt: &[u8], vector: &[u8]) -> Option<Self> {
        let salt: [u8; SALT_LEN] = salt.try_into().ok()?;
        if vector.len() != EMBEDDING_DIM * 4 {
            return None;
        }
        let vector: Vector = std::array::from_fn(|i| {
            f32::from_le_bytes(vector[i * 4..i * 4 + 4].try_into().expect("4 bytes"))
        });
        let norm = dot(&vector, &vector).sqrt();
        (norm - 1.0).abs().le(&NORM_TOLERANCE).then_some(Self { salt, vector })
    }
}

/// Two residents (ids, the lower first) and the highest score between their templates.
pub type ResidentPair = (i64, i64, f32);

/// How close enrolled residents are to each other (`admin calibrate`): the highest score
/// between templates of different residents, per pair of residents, highest first. The
/// templates (with their resident ids) are recovered in memory only for this.
pub(crate) fn closest_pairs(
    key: &TemplateKey,
    templates: &[(i64, ProtectedTemplate)],
) -> Vec<ResidentPair> {
    let embeddings: Vec<(i64, Embedding)> =
        templates.iter().filter_map(|(r, t)| t.recover(key).map(|e| (*r, e))).collect();
    matcher::closest_pairs(&embeddings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KEY_LEN;

    fn embedding(seed: u64) -> Embedding {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Embedding::from_raw(std::array::from_fn(|_| rand::RngExt::random::<f32>(&mut rng) - 0.5))
            .unwrap()
    }

    fn key(byte: u8) -> TemplateKey {
        TemplateKey::from_site(&SiteKey::from_bytes([byte; KEY_LEN]))
    }

    #[test]
    fn protected_score_equals_the_raw_cosine() {
        let k = key(1);
        let (a, b) = (embedding(1), embedding(2));
        let t = ProtectedTemplate::protect(&k, &a);
        assert!((t.score(&k, &b) - a.cosine(&b)).abs() < 1e-5);
        assert!((t.score(&k, &a) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn rekeyed_templates_score_the_same_and_the_old_key_fails() {
        let (old, new) = (key(1), key(2));
        let (a, b) = (embedding(1), embedding(2));
        let t = ProtectedTemplate::protect(&old, &a);
        let moved = t.rekey(&old, &new);
        assert!((moved.score(&new, &b) - t.score(&old, &b)).abs() < 1e-5);
        assert!(moved.score(&old, &a) < 0.5, "the old key no longer opens the template");
    }

    #[test]
    fn bytes_round_trip_and_bad_lengths_are_refused() {
        let t = ProtectedTemplate::protect(&key(1), &embedding(3));
        assert_eq!(ProtectedTemplate::from_bytes(&t.salt, &t.vector_bytes()), Some(t.clone()));
        assert_eq!(ProtectedTemplate::from_bytes(&t.salt[..3], &t.vector_bytes()), None);
        assert_eq!(ProtectedTemplate::from_bytes(&t.salt, &t.vector_bytes()[1..]), None);
    }
}
