//! Lockout after repeated PIN failures: per resident number, with a doubling back-off, and
//! per keypad, against sweeping through numbers. Pure functions over a state the store keeps,
//! so a restart does not reset a lock.

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
}
