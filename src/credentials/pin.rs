//! PINs: argon2id PHC strings with a random salt and the site's PIN pepper as argon2's secret.
//!
//! A PIN is 4–8 digits; anything else is refused before hashing (so a pasted megabyte never
//! reaches argon2). An unknown resident number is checked against a dummy hash made with the
//! same parameters, so the answer and the time are the same as for a wrong PIN.

use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keys::Key;

/// `[pin]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PinConfig {
    /// argon2 memory in KiB; tune with `facegate bench pin` to 100–250 ms on the Pi.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub min_digits: usize,
    pub max_digits: usize,
    /// Failures for one resident number before it is locked.
    pub max_failures: u32,
    /// First lock, doubled for each further failure.
    pub lock_seconds: i64,
    /// Longest lock.
    pub max_lock_seconds: i64,
    /// Failures on this keypad (any number) before the whole keypad is locked: against sweeping
    /// through resident numbers.
    pub terminal_max_failures: u32,
    /// The keypad's failure count starts again after this long without a failure.
    pub terminal_window_seconds: i64,
}

impl Default for PinConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            min_digits: 4,
            max_digits: 8,
            max_failures: 5,
            lock_seconds: 30,
            max_lock_seconds: 3_600,
            terminal_max_failures: 20,
            terminal_window_seconds: 600,
        }
    }
}

/// Why a PIN was not accepted as input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("a PIN is {min} to {max} digits")]
    Format { min: usize, max: usize },
    #[error("argon2 parameters are not usable: {0}")]
    Params(String),
    #[error("stored PIN hash is damaged")]
    Damaged,
}

/// A PIN as typed: digits only, zeroised when dropped, never printed.
pub struct Pin(Zeroizing<String>);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl Pin {
    /// Checks the format before anything else touches the PIN.
    pub fn parse(text: &str, config: &PinConfig) -> Result<Pin, PinError> {
        let ok = (config.min_digits..=config.max_digits).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(PinError::Format { min: config.min_digits, max: config.max_digits });
        }
        Ok(Pin(Zeroizing::new(text.to_owned())))
    }
}

/// Hashes and verifies PINs with the site's parameters and pepper.
pub struct PinHasher {
    pepper: Key,
    params: Params,
    dummy: String,
    verifications: AtomicU64,
}

impl PinHasher {
    pub fn new(config: &PinConfig, pepper: Key) -> Result<Self, PinError> {
        let params = Params::new(config.memory_kib, config.iterations, config.parallelism, None)
            .map_err(|e| PinError::Params(e.to_string()))?;
        let mut hasher =
            Self { pepper, params, dummy: String::new(), verifications: AtomicU64::new(0) };
        hasher.dummy = hasher.hash(&Pin(Zeroizing::new("00000000".into())))?;
        Ok(hasher)
    }

    fn argon2(&self) -> Argon2<'_> {
        Argon2::new_with_secret(
            &self.pepper.0,
            Algorithm::Argon2id,
            Version::V0x13,
            self.params.clone(),
        )
        .expect("a 32-byte pepper is within argon2's secret limit")
    }

    /// A new PHC string for a PIN (random salt).
    pub(crate) fn hash(&self, pin: &Pin) -> Result<String, PinError> {
        let hash = self
            .argon2()
            .hash_password(pin.0.as_bytes())
            .map_err(|e| PinError::Params(e.to_string()))?;
        Ok(hash.to_string())
    }

    /// Whether `pin` matches `stored`; with `None` (unknown number, or no PIN set) the dummy
    /// hash is verified instead and the answer is `false`. Exactly one argon2 verification
    /// runs either way.
    pub fn verify(&self, stored: Option<&str>, pin: &Pin) -> bool {
        let phc = stored.unwrap_or(&self.dummy);
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let matched = PasswordHash::new(phc)
            .is_ok_and(|hash| self.argon2().verify_password(pin.0.as_bytes(), &hash).is_ok());
        matched && stored.is_some()
    }

    /// How many argon2 verifications this hasher has run.
    pub(crate) fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}

/// Median milliseconds of one verification for a known and an unknown number
/// (`facegate bench pin`).
pub fn bench(config: &PinConfig, runs: usize) -> Result<(f64, f64), PinError> {
    let hasher = PinHasher::new(config, Key([7; 32]))?;
    let pin = Pin::parse("2580", &PinConfig::default())?;
    let stored = hasher.hash(&pin)?;
    let wrong = Pin::parse("1111", &PinConfig::default())?;
    let time = |stored: Option<&str>| {
        let mut ms: Vec<f64> = (0..runs.max(1))
            .map(|_| {
                let start = std::time::Instant::now();
                hasher.verify(stored, &wrong);
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        ms[ms.len() / 2]
    };
    Ok((time(Some(&stored)), time(None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small argon2 parameters keep unit tests fast; the structure is what is tested.
    fn quick() -> PinConfig {
        PinConfig { memory_kib: 256, iterations: 1, ..PinConfig::default() }
    }

    #[test]
    fn right_pin_matches_and_wrong_pin_does_not() {
        let h = PinHasher::new(&quick(), Key([1; 32])).unwrap();
        let stored = h.hash(&Pin::parse("2580", &quick()).unwrap()).unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(h.verify(Some(&stored), &Pin::parse("2580", &quick()).unwrap()));
        assert!(!h.verify(Some(&stored), &Pin::parse("2581", &quick()).unwrap()));
        let other_site = PinHasher::new(&quick(), Key([2; 32])).unwrap();
        assert!(
            !other_site.verify(Some(&stored), &Pin::parse("2580", &quick()).unwrap()),
            "the pepper is part of the hash"
        );
    }

    #[test]
    fn malformed_pins_are_refused_before_hashing() {
        for text in ["123", "123456789", "12a4", "", "１２３４", &"9".repeat(1 << 20)] {
            assert!(Pin::parse(text, &PinConfig::default()).is_err(), "{text:.10}");
        }
        assert_eq!(
            format!("{:?}", Pin::parse("2580", &PinConfig::default()).unwrap()),
            "Pin(<redacted>)"
        );
    }

    #[test]
    fn an_unknown_number_runs_one_verification_with_the_same_parameters() {
        let h = PinHasher::new(&quick(), Key([1; 32])).unwrap();
        let pin = Pin::parse("0000", &quick()).unwrap();
        let known = h.hash(&pin).unwrap();
        let params = |phc: &str| {
            PasswordHash::new(phc).map(|p| (p.algorithm.to_string(), p.params.to_string())).unwrap()
        };
        assert_eq!(params(&h.dummy), params(&known));
        let before = h.verifications();
        assert!(
            !h.verify(None, &Pin::parse("00000000", &quick()).unwrap()),
            "even the dummy's own PIN is refused"
        );
        assert!(h.verify(Some(&known), &pin));
        assert_eq!(h.verifications() - before, 2, "one verification each");
    }
}
