//! Attempts are limited on every path: besides the PIN lockouts (`access::checks`), the card
//! reader and the face camera each lock after repeated failures with the `[attempts]` back-off
//! (`credentials::lockout`), kept in the store's lockout table so a restart does not reset it.
//! A lock is audited and raised as an alarm on the admin screen.

use super::{Event, Gate};
use crate::access::{DenyReason, Method};
use crate::credentials::lockout::{CARD_READER_KEY, FACE_CAMERA_KEY};
use crate::door::DoorPort;
use crate::runtime::camera::FrameSource;
use crate::runtime::error::Result;
use crate::store::{AuditKind, Chain};

/// The terminal lock a method's failures count against (PINs lock in `access::checks`).
fn lock_key(method: Method) -> Option<&'static str> {
    match method {
        Method::Card => Some(CARD_READER_KEY),
        Method::Face => Some(FACE_CAMERA_KEY),
        Method::Pin => None,
    }
}

/// Whether a denial is a failed try that counts against the terminal.
pub(super) fn counts(reason: DenyReason) -> bool {
    matches!(
        reason,
        DenyReason::FaceNotRecognised | DenyReason::LivenessFailed | DenyReason::CardNotAccepted
    )
}

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    /// Seconds left on the lock of `method`'s terminal, if it is locked.
    pub(super) fn locked(&self, method: Method, now: u64) -> Result<Option<i64>> {
        let Some(key) = lock_key(method) else { return Ok(None) };
        Ok(self.store.lockout(key)?.remaining(self.unix(now)))
    }

    /// Counts a failed try; when it locks the terminal, audits the lock and raises an alarm.
    pub(super) fn count_failure(
        &mut self,
        method: Method,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<()> {
        let Some(key) = lock_key(method) else { return Ok(()) };
        let unix = self.unix(now);
        let state = self.store.lockout(key)?.after_attempt_failure(unix, &self.settings.attempts);
        self.store.set_lockout(key, &state)?;
        if let Some(seconds) = state.remaining(unix) {
            let what = format!("{key} locked for {seconds} s after {} failures", state.failures);
            self.store.audit(Chain::Access, unix, AuditKind::AttemptsLocked, key, &what)?;
            self.alarm(now, &what, events);
        }
        Ok(())
    }
}
