//! Checking a typed PIN, a PIN-reset code, a visitor's code or a presented card against the
//! store, with lockout, and recording every decision in the audit log (without the PIN, the
//! code or the card number).

use super::{Checked, Decision, Method};
use crate::credentials::lockout::{TERMINAL_KEY, admin_key, resident_key};
use crate::credentials::{CardUid, Code, Pin, PinConfig};
use crate::site::ids::DoorId;
use crate::store::{AuditKind, Chain, PassRefusal, PassUse, Resident, Result, Store};

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
    if let Some(seconds) = keypad_locked(store, Some(lock), now)? {
        return Ok(Checked::Locked(Method::Pin, seconds));
    }
    if let Some(resident) = verify()? {
        store.clear_lockout(lock)?;
        return Ok(Checked::Pin(Some(resident)));
    }
    keypad_failure(store, rules, Some(lock), now)?;
    Ok(Checked::Pin(None))
}

/// Seconds left on the keypad's lock or `lock`'s, if either is locked.
fn keypad_locked(store: &Store, lock: Option<&str>, now: i64) -> Result<Option<i64>> {
    let own = match lock {
        Some(lock) => store.lockout(lock)?.remaining(now),
        None => None,
    };
    Ok(store.lockout(TERMINAL_KEY)?.remaining(now).max(own))
}

/// Counts a wrong entry against `lock` (if any) and the keypad.
fn keypad_failure(store: &Store, rules: &PinConfig, lock: Option<&str>, now: i64) -> Result<()> {
    if let Some(lock) = lock {
        store.set_lockout(lock, &store.lockout(lock)?.after_resident_failure(now, rules))?;
    }
    let terminal = store.lockout(TERMINAL_KEY)?;
    store.set_lockout(TERMINAL_KEY, &terminal.after_terminal_failure(now, rules))
}

/// Checks a resident number and PIN-reset code, with the number's lock and the keypad's (like
/// a PIN). Returns the resident on a live code; the code is used up only with the new PIN.
pub fn check_reset_code(
    store: &Store,
    rules: &PinConfig,
    number: &str,
    code: &Code,
    now: i64,
) -> Result<Checked> {
    with_lockout(store, rules, &resident_key(number), now, || {
        store.verify_pin_reset(number, code, now)
    })
}

/// What a visitor's code did at the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassCheck {
    /// The door opens; the use is recorded (in site mode, send it to the site).
    Opened {
        used: PassUse,
        entries_left: u32,
    },
    Refused(PassRefusal),
    /// The keypad is locked for this many more seconds.
    Locked(i64),
}

/// Checks a visitor's code at `door` (`None`: a gate without a door id) under the keypad's
/// back-off, shared with PINs: every refused code counts against it. An accepted code's use
/// is counted and audited; a refusal is audited with its reason.
pub fn use_visitor_code(
    store: &mut Store,
    rules: &PinConfig,
    code: &Code,
    door: Option<&DoorId>,
    now: i64,
) -> Result<PassCheck> {
    let deny = |store: &mut Store, subject: &str, why: &str| {
        store.audit(
            Chain::Access,
            now,
            AuditKind::AccessDenied,
            subject,
            &format!("visitor code: {why}"),
        )
    };
    if let Some(seconds) = keypad_locked(store, None, now)? {
        deny(store, "unknown", "keypad locked")?;
        return Ok(PassCheck::Locked(seconds));
    }
    let pass = store.visitor_pass_for_code(code)?;
    let refusal = match &pass {
        Some(pass) => pass.refusal(door, now),
        None => Some(PassRefusal::Unknown),
    };
    match (pass, refusal) {
        (Some(pass), None) => {
            let used = PassUse { pass: pass.id, door: door.cloned(), at: now };
            let entries_left = store.record_pass_use(&used)?.unwrap_or(0);
            Ok(PassCheck::Opened { used, entries_left })
        }
        (pass, refusal) => {
            let refusal = refusal.unwrap_or(PassRefusal::Unknown);
            keypad_failure(store, rules, None, now)?;
            let subject = pass.map_or("unknown".to_owned(), |p| format!("visitor-pass#{}", p.id));
            deny(store, &subject, &format!("{refusal:?}"))?;
            Ok(PassCheck::Refused(refusal))
        }
    }
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
