//! The admin and self-service actions, each written once: the CLI (`facegate admin …`), the
//! gate's admin mode and a resident's "My data" at the gate all call these. Every change is
//! audited once, by the store, with who made it.

use crate::access::Checked;
use crate::access::checks::{check_pin, check_reset_code};
use crate::credentials::lockout::{CARD_READER_KEY, FACE_CAMERA_KEY, TERMINAL_KEY, resident_key};
use crate::credentials::{CardUid, Code, Pin, PinConfig};
use crate::site::ids::DoorId;
use crate::store::refusal::Refusal;
use crate::store::{
    Booking, ConsentGrant, CredentialRootStatus, NewResident, NewVisitorPass, Resident,
    ResidentStatus, Result, Store, StoreConfig, StoreError, VisitorPass,
};
use crate::templates::{MatchingConfig, expected_fmr};
use crate::vision::Embedding;

/// Adds a resident.
pub fn add_resident(
    store: &mut Store,
    new: &NewResident,
    now: i64,
    operator: &str,
) -> Result<Resident> {
    store.add_resident(new, now, operator)
}

/// Adds residents (a CSV import) in one transaction: all of them or none. Returns how many.
pub fn import_residents(
    store: &mut Store,
    new: &[NewResident],
    now: i64,
    operator: &str,
) -> Result<usize> {
    store.add_residents(new, now, operator)
}

/// Changes a resident's name, unit, dates (a move-out date is `valid_until`), birth year or
/// status (suspended residents open nothing); empty strings and `None` keep a value.
pub fn edit_resident(
    store: &mut Store,
    number: &str,
    edit: &NewResident,
    status: Option<ResidentStatus>,
    now: i64,
    operator: &str,
) -> Result<Resident> {
    store.edit_resident(number, edit, status, now, operator)
}

/// Requires (or stops requiring) a resident's PIN after their card.
pub fn set_require_card_pin(
    store: &mut Store,
    number: &str,
    required: bool,
    now: i64,
    operator: &str,
) -> Result<()> {
    store.set_require_card_pin(number, required, now, operator)
}

/// Removes a resident and everything about them; only pseudonymous audit rows remain.
pub fn remove_resident(store: &mut Store, number: &str, now: i64, operator: &str) -> Result<()> {
    store.remove_resident(number, now, operator)
}

/// Sets or resets a resident's PIN; a reset also lifts the resident's lockout.
pub fn set_pin(
    store: &mut Store,
    rules: &PinConfig,
    number: &str,
    pin: &Pin,
    now: i64,
    operator: &str,
) -> Result<()> {
    store.set_pin(number, pin, rules, now, operator)?;
    store.clear_lockout(&resident_key(number))?;
    Ok(())
}

/// Sets or resets an admin's admin-mode PIN (with their card it opens admin mode at the gate).
pub fn set_admin_pin(
    store: &mut Store,
    rules: &PinConfig,
    number: &str,
    pin: &Pin,
    now: i64,
    operator: &str,
) -> Result<()> {
    store.set_admin_pin(number, pin, rules, now, operator)
}

/// A resident changes their own PIN at the gate: the old PIN is checked like any PIN (with
/// lockout), then the new one is stored. Returns whether the change was made.
pub fn change_own_pin(
    store: &mut Store,
    rules: &PinConfig,
    number: &str,
    old: &Pin,
    new: &Pin,
    now: i64,
) -> Result<bool> {
    let own = Checked::Pin(Some(store.resident(number)?.id));
    if check_pin(store, rules, number, old, now)? != own {
        return Ok(false);
    }
    set_pin(store, rules, number, new, now, "resident at the gate")?;
    Ok(true)
}

/// A resident who forgot their PIN sets a new one at the gate with the one-time code a manager
/// issued ([`issue_pin_reset`]): the number and code are checked like a PIN (with lockout),
/// then the new PIN is stored (weak PINs refused, the code kept) and the code is used up.
/// Returns whether the code was accepted.
pub fn reset_pin_with_code(
    store: &mut Store,
    rules: &PinConfig,
    number: &str,
    code: &Code,
    new: &Pin,
    now: i64,
) -> Result<bool> {
    let Checked::Pin(Some(_)) = check_reset_code(store, rules, number, code, now)? else {
        return Ok(false);
    };
    store.reset_pin_with_code(number, new, rules, now)?;
    store.clear_lockout(&resident_key(number))?;
    Ok(true)
}

/// Issues a one-time PIN-reset code for a resident (valid for
/// [`crate::store::pin_resets::RESET_CODE_SECONDS`], replacing any earlier one); returns the
/// code, to be given to the resident once.
pub fn issue_pin_reset(
    store: &mut Store,
    number: &str,
    now: i64,
    operator: &str,
) -> Result<String> {
    let code = Code::generate()?;
    store.issue_pin_reset(number, &code, now, operator)?;
    Ok(code.reveal().to_owned())
}

/// A pass just issued: its id, and its code, shown once (typed at the door or shown as a QR
/// code holding only the code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedPass {
    pub id: i64,
    pub code: String,
}

/// Issues a visitor pass with a fresh code.
pub fn create_visitor_pass(
    store: &mut Store,
    new: &NewVisitorPass,
    now: i64,
    operator: &str,
) -> Result<IssuedPass> {
    loop {
        let code = Code::generate()?;
        match store.add_visitor_pass(new, &code, now, operator) {
            Err(StoreError::CodeTaken) => continue,
            Ok(id) => return Ok(IssuedPass { id, code: code.reveal().to_owned() }),
            Err(err) => return Err(err),
        }
    }
}

/// Revokes a visitor pass: it opens nothing from now on.
pub fn revoke_visitor_pass(store: &mut Store, id: i64, now: i64, operator: &str) -> Result<()> {
    store.revoke_visitor_pass(id, now, operator)
}

/// The visitor passes not yet expired (used up and revoked ones included).
pub fn visitor_passes(store: &Store, now: i64) -> Result<Vec<VisitorPass>> {
    store.visitor_passes(now)
}

/// Books a face enrolment for a resident at `door` (`None`: any door) until `until`: there the
/// resident may start it with their own PIN or card. Returns the booking's id.
pub fn book_enrolment(
    store: &mut Store,
    number: &str,
    door: Option<&str>,
    until: i64,
    now: i64,
    operator: &str,
) -> Result<i64> {
    let door = door
        .map(|d| d.parse::<DoorId>().map_err(|_| Refusal::BadDoor(d.to_owned())))
        .transpose()?;
    store.book_enrolment(number, door.as_ref(), until, now, operator)
}

/// The open enrolment bookings.
pub fn bookings(store: &Store, now: i64) -> Result<Vec<Booking>> {
    store.bookings(now)
}

/// Registers a card for a resident; returns the card's id.
pub fn add_card(
    store: &mut Store,
    number: &str,
    uid: &CardUid,
    label: &str,
    now: i64,
    operator: &str,
) -> Result<i64> {
    store.add_card(number, uid, label, now, operator)
}

/// Revokes a lost card: it no longer opens anything.
pub fn revoke_card(store: &mut Store, id: i64, now: i64, operator: &str) -> Result<()> {
    store.revoke_card(id, now, operator)
}

/// Which lockout to lift.
#[derive(Debug, Clone, Copy)]
pub enum Lockout<'a> {
    /// A resident number's PIN lockout.
    Resident(&'a str),
    /// The keypad itself, locked after a sweep through resident numbers.
    Keypad,
    /// The card reader, locked after unknown cards.
    CardReader,
    /// The face camera, locked after faces not recognised or not live.
    FaceCamera,
}

/// Lifts a lockout; returns whether there was one.
pub fn lift_lockout(store: &mut Store, lockout: Lockout, now: i64, operator: &str) -> Result<bool> {
    let (key, subject) = match lockout {
        Lockout::Resident(number) => (resident_key(number), store.resident(number)?.subject()),
        Lockout::Keypad => (TERMINAL_KEY.to_owned(), "keypad".to_owned()),
        Lockout::CardReader => (CARD_READER_KEY.to_owned(), CARD_READER_KEY.to_owned()),
        Lockout::FaceCamera => (FACE_CAMERA_KEY.to_owned(), FACE_CAMERA_KEY.to_owned()),
    };
    store.lift_lockout(&key, &subject, now, operator)
}

/// Replaces the credential root (`admin rotate-key --credentials`): the new key goes to
/// `<key file>.new`, the database records which rows are on the old root, then the new file
/// (which keeps the old root as the previous one) replaces the old. PINs and cards move to the
/// new root on their next use or re-issue. Returns how many are still on the old root.
pub fn rotate_credential_root(config: &StoreConfig, now: i64) -> Result<CredentialRootStatus> {
    let mut store = Store::open(config)?;
    let custody = config.custody();
    let new_key = custody.load()?.with_new_credential_root()?;
    let pending = custody.stage(&new_key)?;
    if let Err(err) = store.rotate_credential_root(&new_key, now) {
        pending.remove()?;
        return Err(err);
    }
    pending.replace(&custody)?;
    store.credential_root_status()
}

/// Why captured frames were not fused into a template.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum FuseError {
    #[error("no usable frame")]
    NoFrames,
    #[error(
        "the frames do not show one face (lowest score between two of them {lowest:.3}): \
         nothing was stored"
    )]
    Differ { lowest: f32 },
}

/// Fuses the good frames of one enrolment, if every two of them match each other at
/// `threshold` (frames of two people would fuse into a template that opens for either).
pub fn fuse_same_face(
    frames: &[Embedding],
    threshold: f32,
) -> std::result::Result<Embedding, FuseError> {
    let lowest = frames
        .iter()
        .enumerate()
        .flat_map(|(i, a)| frames[i + 1..].iter().map(move |b| a.cosine(b)))
        .min_by(f32::total_cmp);
    match lowest {
        Some(lowest) if lowest < threshold => Err(FuseError::Differ { lowest }),
        _ => Embedding::mean(frames).ok_or(FuseError::NoFrames),
    }
}

/// Enrols a resident's face (several good frames fused into one template). With `consent`,
/// the consent is recorded first, in the same transaction. With `duplicate_threshold`, a face
/// that already scores at least that against another resident is refused with that score (the
/// manager may override from the CLI). Returns the template's id.
pub fn enrol_face(
    store: &mut Store,
    number: &str,
    embedding: &Embedding,
    consent: Option<&ConsentGrant>,
    minor_age: i32,
    duplicate_threshold: Option<f32>,
    now: i64,
) -> Result<i64> {
    if let Some(threshold) = duplicate_threshold {
        let own = store.resident(number)?.id;
        let closest = store.gallery(now)?.closest_other(embedding, own);
        if let Some((resident, score)) = closest.filter(|&(_, score)| score >= threshold) {
            return Err(StoreError::FaceAlreadyEnrolled { resident, score });
        }
    }
    store.enrol(number, embedding, consent, minor_age, now)
}

/// Records a resident's consent to face recognition (after they read the notice).
pub fn record_consent(
    store: &mut Store,
    number: &str,
    grant: &ConsentGrant,
    now: i64,
) -> Result<i64> {
    store.grant_consent(number, grant, now)
}

/// Withdraws a resident's consent and deletes their face data at once; returns how many
/// templates were deleted.
pub fn delete_face_data(
    store: &mut Store,
    number: &str,
    now: i64,
    operator: &str,
) -> Result<usize> {
    store.withdraw_consent(number, now, operator)
}

/// How close enrolled residents are to each other, the 1:N threshold the gallery's size asks
/// for, and the false-accept rates to expect there (`admin calibrate`, the console's reports).
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Residents with a template.
    pub residents: usize,
    /// The 1:N threshold for this gallery: the configured floor, raised to keep the configured
    /// stranger acceptance per attempt.
    pub threshold: f32,
    pub threshold_floor: f32,
    pub stranger_acceptance: f64,
    pub margin: f32,
    /// Expected false match per comparison at the threshold.
    pub expected_fmr: f64,
    /// Expected chance per attempt that a stranger matches somebody in this gallery.
    pub expected_fpir: f64,
    /// The ten highest scores between two different residents, by resident number.
    pub highest: Vec<(String, String, f32)>,
}

/// The site's calibration.
pub fn calibration(store: &Store, matching: &MatchingConfig) -> Result<Calibration> {
    let (residents, pairs) = store.closest_pairs()?;
    let threshold = matching.threshold_for(residents);
    let number =
        |id: i64| store.resident_by_id(id).map(|r| r.number).unwrap_or_else(|_| format!("#{id}"));
    Ok(Calibration {
        residents,
        threshold,
        threshold_floor: matching.threshold,
        stranger_acceptance: matching.stranger_acceptance,
        margin: matching.margin,
        expected_fmr: expected_fmr(threshold),
        expected_fpir: MatchingConfig::stranger_rate(residents, threshold),
        highest: pairs.iter().take(10).map(|&(a, b, s)| (number(a), number(b), s)).collect(),
    })
}
