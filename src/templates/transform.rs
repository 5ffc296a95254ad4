//! The secret orthogonal transform behind a salted template (DESIGN.md): three rounds of
//! (permutation, ±1 signs, normalised Walsh–Hadamard), drawn from a ChaCha20 stream seeded by
//! `HMAC-SHA256(template_key, salt)`. Orthogonal, so inner products are kept exactly.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha20Rng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::vision::EMBEDDING_DIM;

const ROUNDS: usize = 3;
const D: usize = EMBEDDING_DIM;

/// A vector of the embedding's length.
pub type Vector = [f32; D];

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct Round {
    /// Output `i` takes input `perm[i]`.
    perm: [u8; D],
    /// Bit `i` set: output `i` is negated (after the permutation).
    signs: u128,
}

/// One template's transform. Kept in memory only, never stored.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Transform {
    rounds: [Round; ROUNDS],
}

impl Transform {
    /// The transform drawn from a 32-byte seed.
    pub(crate) fn from_seed(seed: [u8; 32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let rounds = std::array::from_fn(|_| {
            let mut perm: [u8; D] = std::array::from_fn(|i| i as u8);
            perm.shuffle(&mut rng);
            let signs = u128::from(rand::RngExt::random::<u64>(&mut rng))
                | (u128::from(rand::RngExt::random::<u64>(&mut rng)) << 64);
            Round { perm, signs }
        });
        Self { rounds }
    }

    /// `T(v)`.
    pub fn apply(&self, v: &Vector) -> Vector {
        let mut x = *v;
        let mut tmp = [0f32; D];
        for round in &self.rounds {
            for (i, out) in tmp.iter_mut().enumerate() {
                let value = x[round.perm[i] as usize];
                *out = if round.signs >> i & 1 == 1 { -value } else { value };
            }
            x = tmp;
            walsh_hadamard(&mut x);
        }
        tmp.zeroize();
        x
    }

    /// `T⁻¹(t)`: only needed to re-key templates in memory during a key rotation.
    pub(crate) fn invert(&self, t: &Vector) -> Vector {
        let mut x = *t;
        let mut tmp = [0f32; D];
        for round in self.rounds.iter().rev() {
            walsh_hadamard(&mut x);
            for (i, &value) in x.iter().enumerate() {
                tmp[round.perm[i] as usize] =
                    if round.signs >> i & 1 == 1 { -value } else { value };
            }
            x = tmp;
        }
        tmp.zeroize();
        x
    }
}

/// In-place fast Walsh–Hadamard transform scaled by 1/√d: orthonormal and its own inverse.
fn walsh_hadamard(x: &mut Vector) {
    let mut half = 1;
    while half < D {
        for block in (0..D).step_by(2 * half) {
            for i in block..block + half {
                let (a, b) = (x[i], x[i + half]);
                x[i] = a + b;
                x[i + half] = a - b;
            }
        }
        half *= 2;
    }
    let scale = 1.0 / (D as f32).sqrt();
    x.iter_mut().for_each(|v| *v *= scale);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::dot;

    fn vector(seed: u64) -> Vector {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        std::array::from_fn(|_| rand::RngExt::random::<f32>(&mut rng) - 0.5)
    }

    #[test]
    fn walsh_hadamard_of_a_unit_vector_is_flat_and_self_inverse() {
        let mut e = [0f32; D];
        e[0] = 1.0;
        walsh_hadamard(&mut e);
        assert!(e.iter().all(|v| (v - 1.0 / (D as f32).sqrt()).abs() < 1e-6));
        walsh_hadamard(&mut e);
        assert!((e[0] - 1.0).abs() < 1e-6 && e[1..].iter().all(|v| v.abs() < 1e-6));
    }

    #[test]
    fn keeps_inner_products_and_inverts() {
        let t = Transform::from_seed([3; 32]);
        let (a, b) = (vector(1), vector(2));
        assert!((dot(&t.apply(&a), &t.apply(&b)) - dot(&a, &b)).abs() < 1e-5);
        let back = t.invert(&t.apply(&a));
        assert!(back.iter().zip(&a).all(|(x, y)| (x - y).abs() < 1e-6));
    }

    #[test]
    fn different_seeds_give_different_transforms() {
        let a = vector(1);
        let (t1, t2) = (Transform::from_seed([1; 32]), Transform::from_seed([2; 32]));
        assert_ne!(t1.apply(&a), t2.apply(&a));
        assert_eq!(t1.apply(&a), Transform::from_seed([1; 32]).apply(&a), "deterministic per seed");
    }
}
