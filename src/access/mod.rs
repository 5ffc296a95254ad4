//! Door policy and the access decision: which methods a door offers, optional two-factor, and
//! one function that turns a checked credential into grant or deny with a reason.
//!
//! Face recognition is never the only way in: a door must offer PIN or card (a face-only door
//! is a configuration error). Deny reasons shown at the door do not reveal whether a resident
//! number exists.

pub mod checks;

use serde::{Deserialize, Serialize};

use crate::store::Resident;

/// How a resident proves who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Face,
    Pin,
    Card,
}

/// A second credential a door can require after the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TwoFactor {
    #[default]
    None,
    /// Card, then the card holder's PIN (against cloned cards).
    CardPin,
    /// Card, then the card holder's face (1:1).
    CardFace,
    /// PIN, then the resident's face (1:1).
    PinFace,
}

impl TwoFactor {
    /// The second method required after `first`, if any.
    pub(crate) fn second_after(self, first: Method) -> Option<Method> {
        match (self, first) {
            (TwoFactor::CardPin, Method::Card) => Some(Method::Pin),
            (TwoFactor::CardFace, Method::Card) => Some(Method::Face),
            (TwoFactor::PinFace, Method::Pin) => Some(Method::Face),
            _ => None,
        }
    }
}

/// `[access]`: the door's policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// The methods offered at this door, in any order.
    pub methods: Vec<Method>,
    pub two_factor: TwoFactor,
    /// Seconds to present the second factor.
    pub second_factor_seconds: i64,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            methods: vec![Method::Face, Method::Pin, Method::Card],
            two_factor: TwoFactor::None,
            second_factor_seconds: 30,
        }
    }
}

/// A door policy a resident could not live with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessConfigError {
    #[error(
        "[access] methods must include \"pin\" or \"card\": a face-only door is not allowed, \
         because nobody may be forced to use face recognition"
    )]
    FaceOnly,
    #[error("[access] two_factor = {two_factor:?} needs {missing:?} in methods")]
    TwoFactorMethodMissing { two_factor: TwoFactor, missing: Method },
}

impl AccessConfig {
    /// Refuses policies a resident could not live with.
    pub(crate) fn validate(&self) -> Result<(), AccessConfigError> {
        if !self.methods.contains(&Method::Pin) && !self.methods.contains(&Method::Card) {
            return Err(AccessConfigError::FaceOnly);
        }
        let needed: &[Method] = match self.two_factor {
            TwoFactor::None => &[],
            TwoFactor::CardPin => &[Method::Card, Method::Pin],
            TwoFactor::CardFace => &[Method::Card, Method::Face],
            TwoFactor::PinFace => &[Method::Pin, Method::Face],
        };
        if let Some(&missing) = needed.iter().find(|m| !self.methods.contains(m)) {
            let two_factor = self.two_factor;
            return Err(AccessConfigError::TwoFactorMethodMissing { two_factor, missing });
        }
        Ok(())
    }
}

/// A credential after it was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The face matched this resident (1:N, or 1:1 as a second factor).
    Face(Option<i64>),
    /// The PIN was right for this resident; `None` for a wrong PIN or an unknown number.
    Pin(Option<i64>),
    /// This method is locked (a PIN's number or the keypad, the card reader, the face camera)
    /// for this many more seconds.
    Locked(Method, i64),
    /// The card belongs to this resident; `None` for an unknown or revoked card.
    Card(Option<i64>),
}

impl Checked {
    pub(crate) fn method(self) -> Method {
        match self {
            Checked::Face(_) => Method::Face,
            Checked::Pin(_) => Method::Pin,
            Checked::Card(_) => Method::Card,
            Checked::Locked(method, _) => method,
        }
    }

    fn resident(self) -> Option<i64> {
        match self {
            Checked::Face(r) | Checked::Pin(r) | Checked::Card(r) => r,
            Checked::Locked(..) => None,
        }
    }
}

/// A first factor waiting for its second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub resident_id: i64,
    pub second: Method,
    pub expires_at: i64,
}

/// Why the door stays shut (what the screen may say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    MethodNotOffered,
    FaceNotRecognised,
    /// Wrong PIN or unknown number: the same answer for both.
    PinNotAccepted,
    LockedOut {
        seconds: i64,
    },
    CardNotAccepted,
    /// Suspended, not yet valid, or moved out.
    AccessNotValid,
    /// The second factor belongs to someone else, or came too late.
    SecondFactorMismatch,
    /// The face looked like a photo or a screen.
    LivenessFailed,
}

/// The outcome of one credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Grant { resident_id: i64 },
    Deny(DenyReason),
    NeedSecondFactor(Pending),
}

/// Decides on one checked credential. `resident` is the record of the resident it names.
pub fn decide(
    policy: &AccessConfig,
    pending: Option<Pending>,
    checked: Checked,
    resident: Option<&Resident>,
    now: i64,
) -> Decision {
    let method = checked.method();
    let pending = pending.filter(|p| p.expires_at > now);
    if !policy.methods.contains(&method) {
        return Decision::Deny(DenyReason::MethodNotOffered);
    }
    let resident = match (checked, checked.resident(), resident) {
        (Checked::Locked(_, seconds), ..) => {
            return Decision::Deny(DenyReason::LockedOut { seconds });
        }
        (_, Some(id), Some(r)) if r.id == id => r,
        _ => {
            return Decision::Deny(match method {
                Method::Face => DenyReason::FaceNotRecognised,
                Method::Pin => DenyReason::PinNotAccepted,
                Method::Card => DenyReason::CardNotAccepted,
            });
        }
    };
    if !resident.valid_at(now) {
        return Decision::Deny(DenyReason::AccessNotValid);
    }
    if let Some(p) = pending {
        return if p.second == method && p.resident_id == resident.id {
            Decision::Grant { resident_id: resident.id }
        } else {
            Decision::Deny(DenyReason::SecondFactorMismatch)
        };
    }
    let resident_wants_pin =
        (resident.require_card_pin && method == Method::Card).then_some(Method::Pin);
    match policy.two_factor.second_after(method).or(resident_wants_pin) {
        Some(second) => Decision::NeedSecondFactor(Pending {
            resident_id: resident.id,
            second,
            expires_at: now + policy.second_factor_seconds,
        }),
        None => Decision::Grant { resident_id: resident.id },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ResidentStatus;

    fn resident(id: i64) -> Resident {
        Resident {
            id,
            number: id.to_string(),
            name: "R".into(),
            unit: "1".into(),
            status: ResidentStatus::Active,
            valid_from: None,
            valid_until: Some(1_000),
            birth_year: None,
            created_at: 0,
            templates: 0,
            require_card_pin: false,
        }
    }

    #[test]
    fn a_face_only_door_is_refused_with_a_clear_message() {
        let face_only = AccessConfig { methods: vec![Method::Face], ..AccessConfig::default() };
        let err = face_only.validate().unwrap_err();
        assert_eq!(err, AccessConfigError::FaceOnly);
        assert!(err.to_string().contains("face-only door"), "{err}");
        assert!(
            AccessConfig { methods: vec![Method::Face, Method::Card], ..AccessConfig::default() }
                .validate()
                .is_ok()
        );
        let bad_2fa = AccessConfig {
            methods: vec![Method::Card],
            two_factor: TwoFactor::CardPin,
            ..AccessConfig::default()
        };
        assert!(bad_2fa.validate().is_err());
    }

    #[test]
    fn single_factor_decisions() {
        let policy = AccessConfig::default();
        let r = resident(7);
        assert_eq!(
            decide(&policy, None, Checked::Card(Some(7)), Some(&r), 10),
            Decision::Grant { resident_id: 7 }
        );
        assert_eq!(
            decide(&policy, None, Checked::Pin(None), None, 10),
            Decision::Deny(DenyReason::PinNotAccepted)
        );
        assert_eq!(
            decide(&policy, None, Checked::Locked(Method::Pin, 25), None, 10),
            Decision::Deny(DenyReason::LockedOut { seconds: 25 })
        );
        assert_eq!(
            decide(&policy, None, Checked::Face(None), None, 10),
            Decision::Deny(DenyReason::FaceNotRecognised)
        );
        assert_eq!(
            decide(&policy, None, Checked::Card(Some(7)), Some(&r), 1_000),
            Decision::Deny(DenyReason::AccessNotValid),
            "moved out"
        );
        let no_face =
            AccessConfig { methods: vec![Method::Pin, Method::Card], ..AccessConfig::default() };
        assert_eq!(
            decide(&no_face, None, Checked::Face(Some(7)), Some(&r), 10),
            Decision::Deny(DenyReason::MethodNotOffered)
        );
    }

    #[test]
    fn a_resident_can_require_their_pin_after_their_card() {
        let policy = AccessConfig::default();
        let careful = Resident { require_card_pin: true, ..resident(9) };
        let Decision::NeedSecondFactor(pending) =
            decide(&policy, None, Checked::Card(Some(9)), Some(&careful), 10)
        else {
            panic!()
        };
        assert_eq!(pending.second, Method::Pin);
        assert_eq!(
            decide(&policy, Some(pending), Checked::Pin(Some(9)), Some(&careful), 11),
            Decision::Grant { resident_id: 9 }
        );
        assert_eq!(
            decide(&policy, None, Checked::Pin(Some(9)), Some(&careful), 12),
            Decision::Grant { resident_id: 9 },
            "PIN alone is fine"
        );
    }

    #[test]
    fn card_then_pin_of_the_same_resident_in_time() {
        let policy = AccessConfig { two_factor: TwoFactor::CardPin, ..AccessConfig::default() };
        let (r7, r8) = (resident(7), resident(8));
        let Decision::NeedSecondFactor(pending) =
            decide(&policy, None, Checked::Card(Some(7)), Some(&r7), 10)
        else {
            panic!()
        };
        assert_eq!(pending.second, Method::Pin);
        assert_eq!(
            decide(&policy, Some(pending), Checked::Pin(Some(7)), Some(&r7), 20),
            Decision::Grant { resident_id: 7 }
        );
        assert_eq!(
            decide(&policy, Some(pending), Checked::Pin(Some(8)), Some(&r8), 20),
            Decision::Deny(DenyReason::SecondFactorMismatch)
        );
        assert!(
            matches!(
                decide(&policy, Some(pending), Checked::Pin(Some(7)), Some(&r7), 41),
                Decision::Grant { .. }
            ),
            "PIN alone is fine once the card step expired"
        );
    }
}
