//! Lockout after repeated failures: per resident number (PINs), with a doubling back-off, and
//! per terminal, against sweeping: the keypad (through resident numbers), the card reader
//! (through card numbers) and the face camera (strangers and photos trying again and again).
//! Pure functions over a state the store keeps, so a restart does not reset a lock.

use serde::{Deserialize, Serialize};

use super::pin::PinConfig;

/// What is known about one lock key (a resident number, or the keypad).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockoutState {
    pub failures: u32,
    pub locked_until: Option<i64>,
    pub last_failure_at: Option<i64>,
}

/// The lock key of a resident number (known or not: unknown numbers lock the same way).
pub fn resident_key(number: &str) -> String {
    format!("resident:{number}")
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

    /// After any wrong PIN on the keypad: the count restarts after a quiet window; at
    /// `terminal_max_failures` the keypad locks with the same back-off.
    pub(crate) fn after_terminal_failure(self, now: i64, config: &PinConfig) -> Self {
        let quiet =
            self.last_failure_at.is_none_or(|last| now - last > config.terminal_window_seconds);
        let failures = if quiet { 1 } else { self.failures.saturating_add(1) };
        let locked_until = (failures >= config.terminal_max_failures).then(|| {
            let doublings = (failures - config.terminal_max_failures).min(20);
            now + (config.lock_seconds << doublings).min(config.max_lock_seconds)
        });
        Self { failures, locked_until, last_failure_at: Some(now) }
    }

    /// After a failed card or face attempt: the count drops by one for each quiet window since
    /// the later of the last failure and the end of the last lock, then counts this failure; at
    /// `max_failures` the reader or camera locks, doubling with each further failure. Unlike
    /// the keypad's, the count is not forgotten at once, so waiting out a window buys one try.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_at_the_fifth_failure_and_doubles_to_an_hour() {
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
        assert_eq!(state.remaining(1_000), Some(3_600));
    }

    #[test]
    fn keypad_count_restarts_after_a_quiet_window() {
        let config = PinConfig { terminal_max_failures: 3, ..PinConfig::default() };
        let mut state = LockoutState::default();
        state = state.after_terminal_failure(0, &config).after_terminal_failure(10, &config);
        state = state.after_terminal_failure(10_000, &config);
        assert_eq!((state.failures, state.remaining(10_000)), (1, None));
        state =
            state.after_terminal_failure(10_001, &config).after_terminal_failure(10_002, &config);
        assert_eq!(state.remaining(10_002), Some(30));
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
