//! Checking a typed PIN or a presented card against the store, with lockout, and recording
//! every decision in the audit log (without the PIN or the card number).

use super::{Checked, Decision};
use crate::credentials::lockout::{TERMINAL_KEY, resident_key};
use crate::credentials::{CardIndex, CardUid, Pin, PinConfig, PinHasher};
use crate::keys::Key;
use crate::store::{Chain, Result, Store};

/// Checks a resident number and PIN. Locked numbers and a locked keypad are refused without
/// hashing; otherwise exactly one argon2 verification runs, known number or not.
pub fn check_pin(
    store: &Store,
    hasher: &PinHasher,
    config: &PinConfig,
    number: &str,
    pin: &Pin,
    now: i64,
) -> Result<Checked> {
    let resident_lock = resident_key(number);
    let (terminal, own) = (store.lockout(TERMINAL_KEY)?, store.lockout(&resident_lock)?);
    if let Some(seconds) = terminal.remaining(now).max(own.remaining(now)) {
        return Ok(Checked::PinLocked(seconds));
    }
    let stored = store.pin_hash(number)?;
    if hasher.verify(stored.as_ref().map(|(_, phc)| phc.as_str()), pin) {
        store.clear_lockout(&resident_lock)?;
        return Ok(Checked::Pin(stored.map(|(id, _)| id)));
    }
    store.set_lockout(&resident_lock, &own.after_resident_failure(now, config))?;
    store.set_lockout(TERMINAL_KEY, &terminal.after_terminal_failure(now, config))?;
    Ok(Checked::Pin(None))
}

/// A resident changes their own PIN at the gate: the old PIN is checked like any PIN (with
/// lockout), then the new one is stored. Returns whether the change was made.
pub fn change_pin(
    store: &mut Store,
    hasher: &PinHasher,
    config: &PinConfig,
    number: &str,
    old: &Pin,
    new: &Pin,
    now: i64,
) -> Result<bool> {
    if check_pin(store, hasher, config, number, old, now)?
        != Checked::Pin(Some(store.resident(number)?.id))
    {
        return Ok(false);
    }
    let phc = hasher.hash(new).map_err(|e| crate::store::StoreError::Invalid(e.to_string()))?;
    store.set_pin(number, &phc, now, "resident at the gate")?;
    Ok(true)
}

/// Looks a card up by its keyed index.
pub fn check_card(store: &Store, card_key: &Key, uid: &CardUid) -> Result<Checked> {
    Ok(Checked::Card(store.resident_for_card(&CardIndex::of(card_key, uid))?))
}

/// Writes one decision to the access chain of the audit log.
pub fn record(store: &mut Store, checked: Checked, decision: &Decision, now: i64) -> Result<()> {
    let method = format!("{:?}", checked.method()).to_lowercase();
    let (kind, subject, detail) = match decision {
        Decision::Grant { resident_id } => {
            ("access_granted", format!("resident#{resident_id}"), method)
        }
        Decision::NeedSecondFactor(p) => {
            ("first_factor_ok", format!("resident#{}", p.resident_id), method)
        }
        Decision::Deny(reason) => {
            ("access_denied", "unknown".to_owned(), format!("{method}: {reason:?}"))
        }
    };
    store.audit(Chain::Access, now, kind, &subject, &detail)
}
