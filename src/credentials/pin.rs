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
    /// Unforgiven failures on this keypad (any number) at which the whole keypad locks:
    /// against sweeping through resident numbers.
    pub terminal_max_failures: u32,
    /// One keypad failure is forgiven per this many seconds; once locked, a guesser gets one
    /// try per this long (288 a day at 300 s).
    pub terminal_seconds_per_failure: i64,
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
            max_lock_seconds: 300,
            terminal_max_failures: 20,
            terminal_seconds_per_failure: 300,
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
    #[error("this PIN is too easy to guess: {0}; choose another")]
    Weak(WeakPin),
    #[error("an admin PIN is at least {0} digits")]
    AdminTooShort(usize),
    #[error("an admin PIN must differ from the admin's door PIN")]
    SameAsDoorPin,
}

/// The shortest admin-mode PIN.
pub const ADMIN_PIN_MIN_DIGITS: usize = 6;

/// Why a PIN is refused when it is set or changed (the PIN itself is never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakPin {
    #[error("it repeats one digit or a short group of digits (like 0000 or 1212)")]
    Repeated,
    #[error("its digits run up or down in order (like 1234 or 9876)")]
    Sequential,
    #[error("it contains the resident number")]
    ResidentNumber,
    #[error("it contains the resident's birth year")]
    BirthYear,
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

    /// How many digits the PIN has.
    pub fn digits(&self) -> usize {
        self.0.len()
    }

    /// Refuses the PINs a guesser tries first: repeated digits or digit groups, digits in
    /// order up or down, the resident's own number, their birth year.
    pub fn refuse_weak(&self, number: &str, birth_year: Option<i32>) -> Result<(), PinError> {
        let digits = self.0.as_bytes();
        let repeats = (1..=digits.len() / 2).any(|group| {
            digits.len().is_multiple_of(group)
                && digits.chunks(group).all(|c| c == &digits[..group])
        });
        let steps: Vec<i16> =
            digits.windows(2).map(|w| i16::from(w[1]) - i16::from(w[0])).collect();
        let runs = steps.iter().all(|&d| d == 1) || steps.iter().all(|&d| d == -1);
        let contains = |part: &str| part.len() >= 3 && self.0.contains(part);
        let weakness = if repeats {
            Some(WeakPin::Repeated)
        } else if runs {
            Some(WeakPin::Sequential)
        } else if contains(number)
            || number.len() > 4 && number.get(number.len() - 4..).is_some_and(contains)
        {
            Some(WeakPin::ResidentNumber)
        } else if birth_year.is_some_and(|year| contains(&year.to_string())) {
            Some(WeakPin::BirthYear)
        } else {
            None
        };
        weakness.map_or(Ok(()), |w| Err(PinError::Weak(w)))
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

    /// Whether `stored` was made with this hasher's algorithm and parameters (after a change of
    /// `[pin]`'s argon2 settings, a right PIN is rehashed so that every hash costs the same).
    pub(crate) fn is_current(&self, stored: &str) -> bool {
        let shape = |phc: &str| {
            PasswordHash::new(phc).ok().map(|h| (h.algorithm.to_string(), h.params.to_string()))
        };
        shape(stored).is_some_and(|s| Some(s) == shape(&self.dummy))
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
    fn the_weakest_pins_are_refused_with_the_reason_and_without_the_pin() {
        let weak = |text: &str, number: &str, year: Option<i32>| match Pin::parse(
            text,
            &PinConfig::default(),
        )
        .unwrap()
        .refuse_weak(number, year)
        {
            Err(PinError::Weak(w)) => Some(w),
            Ok(()) => None,
            Err(e) => panic!("{e}"),
        };
        for text in ["0000", "1111", "99999999", "1212", "123123", "121212"] {
            assert_eq!(weak(text, "1201", None), Some(WeakPin::Repeated), "{text}");
        }
        for text in ["1234", "0123", "4321", "9876", "345678"] {
            assert_eq!(weak(text, "1201", None), Some(WeakPin::Sequential), "{text}");
        }
        assert_eq!(weak("1201", "1201", None), Some(WeakPin::ResidentNumber));
        assert_eq!(weak("312019", "31201", None), Some(WeakPin::ResidentNumber));
        assert_eq!(weak("1985", "1201", Some(1985)), Some(WeakPin::BirthYear));
        assert_eq!(weak("198507", "1201", Some(1985)), Some(WeakPin::BirthYear));
        for text in ["2580", "8642", "1379", "7294", "1985"] {
            assert_eq!(weak(text, "1201", None), None, "{text} is allowed");
        }
        let message = PinError::Weak(WeakPin::BirthYear).to_string();
        assert!(message.contains("birth year") && !message.contains("1985"), "{message}");
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
        assert!(h.is_current(&known));
        let stronger = PinConfig { memory_kib: 512, ..quick() };
        assert!(!PinHasher::new(&stronger, Key([1; 32])).unwrap().is_current(&known));
    }
}
