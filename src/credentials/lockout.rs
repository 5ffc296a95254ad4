//! Lockout after repeated failures: per resident number (PINs), with a doubling back-off; per
//! keypad, as a leaky bucket against sweeping through numbers; and per terminal for the card
//! reader (sweeps through card numbers) and the face camera (strangers and photos trying again
//! and again). Pure functions over a state the store keeps, so a restart does not reset a lock;
//! [`simulate`] reports what the keypad policy allows.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::pin::PinConfig;

/// What is known about one lock key (a resident number, or the keypad).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockoutState {
    /// Failures counted (for the keypad: failures not yet forgiven).
    pub failures: u32,
    pub locked_until: Option<i64>,
    /// The last failure (for the keypad: the time up to which failures have been forgiven).
    pub last_failure_at: Option<i64>,
}

/// The lock key of a resident number (known or not: unknown numbers lock the same way).
pub fn resident_key(number: &str) -> String {
    format!("{RESIDENT_PREFIX}{number}")
}

/// The resident number of a [`resident_key`], `None` for any other key.
pub fn number_of_key(key: &str) -> Option<&str> {
    key.strip_prefix(RESIDENT_PREFIX)
}

const RESIDENT_PREFIX: &str = "resident:";

/// The lock key of an admin's admin-mode PIN.
pub fn admin_key(number: &str) -> String {
    format!("admin:{number}")
}

/// The lock key of this keypad.
pub const TERMINAL_KEY: &str = "terminal";
/// The lock key of this door's card reader (unknown and revoked cards).
pub const CARD_READER_KEY: &str = "card-reader";
/// The lock key of this door's face camera (faces not recognised, or not live).
pub const FACE_CAMERA_KEY: &str = "face-camera";

/// `[attempts]`: the back-off of the card reader and the face camera. A sweep or a stranger
/// gets `max_failures` tries, then one try per lock, each lock twice the last, up to
/// `max_lock_seconds`; the count drops by one for each `window_seconds` without a failure
/// after the last lock has ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AttemptLimits {
    pub max_failures: u32,
    pub window_seconds: i64,
    pub lock_seconds: i64,
    pub max_lock_seconds: i64,
}

impl Default for AttemptLimits {
    fn default() -> Self {
        Self { max_failures: 5, window_seconds: 3_600, lock_seconds: 30, max_lock_seconds: 3_600 }
    }
}

impl LockoutState {
    /// Seconds left on the lock at `now`, if locked.
    pub(crate) fn remaining(&self, now: i64) -> Option<i64> {
        self.locked_until.filter(|&until| until > now).map(|until| until - now)
    }

    /// After a wrong PIN for a resident number: locked at `max_failures`, then each further
    /// failure doubles the lock, up to `max_lock_seconds`.
    pub(crate) fn after_resident_failure(self, now: i64, config: &PinConfig) -> Self {
        let failures = self.failures.saturating_add(1);
        let locked_until = (failures >= config.max_failures).then(|| {
            let doublings = (failures - config.max_failures).min(20);
            now + (config.lock_seconds << doublings).min(config.max_lock_seconds)
        });
        Self { failures, locked_until, last_failure_at: Some(now) }
    }

    /// After any wrong PIN on the keypad: one failure is forgiven every
    /// `terminal_seconds_per_failure`, never all at once after a quiet spell. With
    /// `terminal_max_failures` unforgiven the keypad locks until the next one is forgiven, so a
    /// guesser gets that many tries at once and then one per `terminal_seconds_per_failure`.
    pub(crate) fn after_terminal_failure(self, now: i64, config: &PinConfig) -> Self {
        let per = config.terminal_seconds_per_failure.max(1);
        let (left, since) = match self.last_failure_at {
            Some(since) if now > since => {
                let forgiven = u32::try_from((now - since) / per).unwrap_or(u32::MAX);
                match self.failures.checked_sub(forgiven).filter(|&n| n > 0) {
                    Some(left) => (left, since + i64::from(forgiven) * per),
                    None => (0, now),
                }
            }
            Some(since) => (self.failures, since),
            None => (0, now),
        };
        let failures = left.saturating_add(1);
        let over = failures.checked_sub(config.terminal_max_failures.max(1));
        let locked_until = over.map(|over| since + (i64::from(over) + 1) * per);
        Self { failures, locked_until, last_failure_at: Some(since) }
    }

    /// After a failed card or face attempt: the count drops by one for each quiet window since
    /// the later of the last failure and the end of the last lock, then counts this failure; at
    /// `max_failures` the reader or camera locks, doubling with each further failure. The count
    /// is never forgotten at once: waiting out a window buys one try.
    pub(crate) fn after_attempt_failure(self, now: i64, limits: &AttemptLimits) -> Self {
        let quiet_since = self.last_failure_at.max(self.locked_until).unwrap_or(now);
        let windows = (now - quiet_since).max(0) / limits.window_seconds.max(1);
        let forgotten = u32::try_from(windows).unwrap_or(u32::MAX);
        let failures = self.failures.saturating_sub(forgotten).saturating_add(1);
        let locked_until = (failures >= limits.max_failures).then(|| {
            let doublings = (failures - limits.max_failures).min(20);
            now + (limits.lock_seconds << doublings).min(limits.max_lock_seconds)
        });
        Self { failures, locked_until, last_failure_at: Some(now) }
    }
}

/// What the PIN policy allows, simulated with its own rules (`facegate bench keypad`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KeypadFigures {
    /// Wrong PINs a guesser gets checked per day, sweeping through numbers as fast as the
    /// keypad allows, averaged over the simulated days.
    pub guesses_per_day: f64,
    /// The same on the first day (the keypad's burst included).
    pub guesses_first_day: u64,
    /// The longest a resident alone waits, mistyping up to ten times before the right PIN.
    pub resident_worst_lock_seconds: i64,
}

/// Seconds a guesser needs to type a number and a PIN.
const GUESS_SECONDS: i64 = 5;

/// Runs a guesser for `days` against `numbers` resident numbers, and a resident who mistypes.
pub fn simulate(config: &PinConfig, numbers: usize, days: i64) -> KeypadFigures {
    let end = days.max(1) * 86_400;
    let mut keypad = LockoutState::default();
    let mut own: HashMap<usize, LockoutState> = HashMap::new();
    let (mut t, mut guesses, mut first_day, mut next) = (0, 0u64, 0u64, 0usize);
    let numbers = numbers.max(1);
    while t < end {
        if let Some(wait) = keypad.remaining(t) {
            t += wait;
            continue;
        }
        let unlocked = |k: &usize| own.get(k).is_none_or(|s| s.remaining(t).is_none());
        let Some(number) = (0..numbers).map(|k| (next + k) % numbers).find(unlocked) else {
            t += GUESS_SECONDS;
            continue;
        };
        let state = own.get(&number).copied().unwrap_or_default();
        own.insert(number, state.after_resident_failure(t, config));
        keypad = keypad.after_terminal_failure(t, config);
        guesses += 1;
        first_day += u64::from(t < 86_400);
        next = number + 1;
        t += GUESS_SECONDS;
    }
    let mut worst = 0;
    for mistakes in 1..=10 {
        let (mut state, mut t) = (LockoutState::default(), 0);
        for _ in 0..mistakes {
            if let Some(wait) = state.remaining(t) {
                worst = worst.max(wait);
                t += wait;
            }
            state = state.after_resident_failure(t, config);
            t += GUESS_SECONDS;
        }
        worst = worst.max(state.remaining(t).unwrap_or(0));
    }
    KeypadFigures {
        guesses_per_day: guesses as f64 / days.max(1) as f64,
        guesses_first_day: first_day,
        resident_worst_lock_seconds: worst,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_at_the_fifth_failure_and_doubles_to_five_minutes() {
        let config = PinConfig::default();
        let mut state = LockoutState::default();
        for n in 1..=4 {
            state = state.after_resident_failure(100, &config);
            assert_eq!(state.remaining(100), None, "failure {n}");
        }
        state = state.after_resident_failure(100, &config);
        assert_eq!(state.remaining(100), Some(30));
        assert_eq!(state.remaining(130), None);
        state = state.after_resident_failure(130, &config);
        assert_eq!(state.remaining(130), Some(60));
        for _ in 0..30 {
            state = state.after_resident_failure(1_000, &config);
        }
        assert_eq!(state.remaining(1_000), Some(300));
    }

    #[test]
    fn the_keypad_forgives_one_failure_at_a_time_not_all_after_a_quiet_spell() {
        let config = PinConfig { terminal_max_failures: 3, ..PinConfig::default() };
        let per = config.terminal_seconds_per_failure;
        let mut state = LockoutState::default();
        state = state.after_terminal_failure(0, &config).after_terminal_failure(10, &config);
        assert_eq!(state.remaining(10), None);
        state = state.after_terminal_failure(10, &config);
        assert_eq!(state.remaining(10), Some(per - 10), "locked until one is forgiven");
        // Eleven quiet minutes forgive two failures, not all three.
        state = state.after_terminal_failure(660, &config);
        assert_eq!((state.failures, state.remaining(660)), (2, None));
        state = state.after_terminal_failure(661, &config);
        assert!(state.remaining(661).is_some());
        // A long quiet spell forgives everything.
        state = state.after_terminal_failure(100_000, &config);
        assert_eq!((state.failures, state.remaining(100_000)), (1, None));
    }

    #[test]
    fn a_guesser_gets_a_few_hundred_tries_a_day_and_a_mistyping_resident_waits_minutes() {
        let figures = simulate(&PinConfig::default(), 200, 7);
        println!("keypad policy: {figures:?}");
        assert!(figures.guesses_per_day <= 300.0, "{figures:?}");
        assert!(figures.guesses_first_day <= 320, "{figures:?}");
        assert!(figures.guesses_per_day >= 200.0, "the keypad is not simply shut: {figures:?}");
        assert!(figures.resident_worst_lock_seconds <= 300, "{figures:?}");
        let no_keypad_lock = PinConfig {
            terminal_max_failures: u32::MAX,
            max_failures: u32::MAX,
            ..PinConfig::default()
        };
        let unlimited = simulate(&no_keypad_lock, 200, 1);
        assert!(unlimited.guesses_per_day > 10_000.0, "the simulation can fail: {unlimited:?}");
    }

    /// A sweep that tries a number whenever the lock allows, waiting `extra` quiet windows
    /// after each lock: how many numbers it tries in a day.
    fn numbers_a_day(limits: &AttemptLimits, extra: i64) -> u32 {
        let (mut state, mut now, mut tries) = (LockoutState::default(), 0, 0);
        while now < 86_400 {
            state = state.after_attempt_failure(now, limits);
            tries += 1;
            if let Some(until) = state.locked_until {
                now = until + extra * limits.window_seconds;
            }
        }
        tries
    }

    #[test]
    fn a_card_sweep_is_slowed_to_a_crawl_whatever_it_waits_for() {
        let limits = AttemptLimits::default();
        let best = (0..48).map(|extra| numbers_a_day(&limits, extra)).max().unwrap();
        assert!(best <= 40, "a sweep tries {best} numbers a day");
        let mut state = LockoutState::default();
        for _ in 0..5 {
            state = state.after_attempt_failure(0, &limits);
        }
        assert_eq!(state.remaining(0), Some(30));
        // A window after the failure, but not after the lock: nothing is forgotten yet.
        state = state.after_attempt_failure(3_601, &limits);
        assert_eq!((state.failures, state.remaining(3_601)), (6, Some(60)));
    }
}
