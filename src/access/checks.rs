//! Checking a typed PIN or a presented card against the store, with lockout, and recording
//! every decision in the audit log (without the PIN or the card number).

use super::{Checked, Decision, Method};
use crate::credentials::lockout::{TERMINAL_KEY, admin_key, resident_key};
use crate::credentials::{CardUid, Pin, PinConfig};
use crate::store::{AuditKind, Chain, Resident, Result, Store};

/// Checks a resident number and PIN. Locked numbers and a locked keypad are refused without
/// hashing; otherwise exactly one argon2 verification runs, known number or not.
pub fn check_pin(
    store: &Store,
    rules: &PinConfig,
    number: &str,
    pin: &Pin,
    now: i64,
) -> Result<Checked> {
    with_lockout(store, rules, &resident_key(number), now, || store.verify_pin(number, pin, rules))
}

/// Checks an admin's admin-mode PIN (after their card), with its own lock and the keypad's.
pub fn check_admin_pin(
    store: &Store,
    rules: &PinConfig,
    admin: &Resident,
    pin: &Pin,
    now: i64,
) -> Result<Checked> {
    with_lockout(store, rules, &admin_key(&admin.number), now, || {
        Ok(store.verify_admin_pin(admin.id, pin, rules)?.then_some(admin.id))
    })
}

/// Runs `verify` unless `lock` or the keypad is locked; a failure counts against both.
fn with_lockout(
    store: &Store,
    rules: &PinConfig,
    lock: &str,
    now: i64,
    verify: impl FnOnce() -> Result<Option<i64>>,
) -> Result<Checked> {
    let (terminal, own) = (store.lockout(TERMINAL_KEY)?, store.lockout(lock)?);
    if let Some(seconds) = terminal.remaining(now).max(own.remaining(now)) {
        return Ok(Checked::Locked(Method::Pin, seconds));
    }
    if let Some(resident) = verify()? {
        store.clear_lockout(lock)?;
        return Ok(Checked::Pin(Some(resident)));
    }
    store.set_lockout(lock, &own.after_resident_failure(now, rules))?;
    store.set_lockout(TERMINAL_KEY, &terminal.after_terminal_failure(now, rules))?;
    Ok(Checked::Pin(None))
}

/// Looks a card up (by its keyed index).
pub fn check_card(store: &Store, uid: &CardUid) -> Result<Checked> {
    Ok(Checked::Card(store.resident_for_card(uid)?))
}

/// Writes one decision to the access chain of the audit log.
pub fn record(store: &mut Store, checked: Checked, decision: &Decision, now: i64) -> Result<()> {
    let method = format!("{:?}", checked.method()).to_lowercase();
    let (kind, subject, detail) = match decision {
        Decision::Grant { resident_id } => {
            (AuditKind::AccessGranted, format!("resident#{resident_id}"), method)
        }
        Decision::NeedSecondFactor(p) => {
            (AuditKind::FirstFactorOk, format!("resident#{}", p.resident_id), method)
        }
        Decision::Deny(reason) => {
            (AuditKind::AccessDenied, "unknown".to_owned(), format!("{method}: {reason:?}"))
        }
    };
    store.audit(Chain::Access, now, kind, &subject, &detail)
}
