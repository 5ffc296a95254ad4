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

/// A second credential a door requires. Two kinds, named so that they cannot be mistaken:
/// `*_needs_*` asks for a second factor only after a given first one (the second alone still
/// opens), `always_card_and_pin` needs both for every entry (in either order; either alone, or
/// any other method, opens nothing).
///
/// There is deliberately no "every entry needs face and PIN/card" mode: it would make face
/// recognition compulsory for every resident at that door, which facegate never does (consent
/// must be free, with an equal non-biometric way in). A resident who chose face can still be
/// asked for a second factor after it with `pin_needs_face` / `card_needs_face`; a resident with
/// no face data on record is asked the other non-face credential instead (a card after the PIN,
/// a PIN after the card), so such a door must offer both PIN and card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TwoFactor {
    #[default]
    None,
    /// A card must be followed by the holder's PIN (against cloned cards); a PIN alone opens.
    CardNeedsPin,
    /// A card must be followed by the holder's face (1:1); a face alone opens.
    CardNeedsFace,
    /// A PIN must be followed by the resident's face (1:1); a face alone opens.
    PinNeedsFace,
    /// Every entry needs card and PIN.
    AlwaysCardAndPin,
}

impl TwoFactor {
    /// The two methods this policy involves, first factor first for the `*_needs_*` kinds.
    fn pair(self) -> Option<[Method; 2]> {
        match self {
            TwoFactor::None => None,
            TwoFactor::CardNeedsPin | TwoFactor::AlwaysCardAndPin => {
                Some([Method::Card, Method::Pin])
            }
            TwoFactor::CardNeedsFace => Some([Method::Card, Method::Face]),
            TwoFactor::PinNeedsFace => Some([Method::Pin, Method::Face]),
        }
    }

    fn always(self) -> bool {
        self == TwoFactor::AlwaysCardAndPin
    }

    /// The non-face credential asked instead of a face from residents without face data.
    fn instead_of_face(self) -> Option<Method> {
        match self {
            TwoFactor::CardNeedsFace => Some(Method::Pin),
            TwoFactor::PinNeedsFace => Some(Method::Card),
            _ => None,
        }
    }

    /// The second method required after `first` of a resident who has (`with_face`) or has not
    /// face data on record, if any.
    fn second_for(self, first: Method, with_face: bool) -> Option<Method> {
        match self.second_after(first) {
            Some(Method::Face) if !with_face => self.instead_of_face(),
            second => second,
        }
    }

    /// The second method required after `first`, if any.
    pub(crate) fn second_after(self, first: Method) -> Option<Method> {
        let [a, b] = self.pair()?;
        match first {
            m if m == a => Some(b),
            m if m == b && self.always() => Some(a),
            _ => None,
        }
    }

    /// Whether `method` can begin an entry at a door with this policy.
    pub(crate) fn can_start(self, method: Method) -> bool {
        !self.always() || self.pair().is_some_and(|pair| pair.contains(&method))
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
    #[error(
        "[access] two_factor = {two_factor:?} needs {missing:?} in methods (a door asking for a \
         face as second factor asks residents without face data for PIN and card instead)"
    )]
    TwoFactorMethodMissing { two_factor: TwoFactor, missing: Method },
}

impl AccessConfig {
    /// Whether `method` is offered and can begin an entry here (what the idle screen offers).
    pub fn starts_entry(&self, method: Method) -> bool {
        self.methods.contains(&method) && self.two_factor.can_start(method)
    }

    /// Refuses policies a resident could not live with.
    pub(crate) fn validate(&self) -> Result<(), AccessConfigError> {
        if !self.methods.contains(&Method::Pin) && !self.methods.contains(&Method::Card) {
            return Err(AccessConfigError::FaceOnly);
        }
        let mut needed = self.two_factor.pair().map(Vec::from).unwrap_or_default();
        needed.extend(self.two_factor.instead_of_face());
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
    /// The method of the first factor.
    pub first: Method,
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
    let second_step = pending.is_some_and(|p| p.second == method);
    if !policy.methods.contains(&method) || !(second_step || policy.two_factor.can_start(method)) {
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
    let with_face = resident.templates > 0;
    match policy.two_factor.second_for(method, with_face).or(resident_wants_pin) {
        Some(second) => Decision::NeedSecondFactor(Pending {
            resident_id: resident.id,
            first: method,
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
            two_factor: TwoFactor::CardNeedsPin,
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
        let policy =
            AccessConfig { two_factor: TwoFactor::CardNeedsPin, ..AccessConfig::default() };
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

    /// Presents `first` then `second` (of the same resident) and returns both decisions.
    /// Resident 7 (with face data) gives `first`, then `second`.
    fn two_steps(policy: &AccessConfig, first: Checked, second: Checked) -> (Decision, Decision) {
        two_steps_of(&Resident { templates: 1, ..resident(7) }, policy, first, second)
    }

    fn two_steps_of(
        r: &Resident,
        policy: &AccessConfig,
        first: Checked,
        second: Checked,
    ) -> (Decision, Decision) {
        let one = decide(policy, None, first, Some(r), 10);
        let pending = match one {
            Decision::NeedSecondFactor(p) => Some(p),
            _ => None,
        };
        (one, decide(policy, pending, second, Some(r), 11))
    }

    #[test]
    fn always_two_factor_doors_refuse_every_single_factor() {
        let (face, pin, card) =
            (Checked::Face(Some(7)), Checked::Pin(Some(7)), Checked::Card(Some(7)));
        let cases = [(TwoFactor::AlwaysCardAndPin, card, pin, face)];
        let r = resident(7);
        for (two_factor, a, b, other) in cases {
            let policy = AccessConfig { two_factor, ..AccessConfig::default() };
            assert!(policy.validate().is_ok());
            for (first, second) in [(a, b), (b, a)] {
                let (one, two) = two_steps(&policy, first, second);
                assert!(matches!(one, Decision::NeedSecondFactor(_)), "{two_factor:?}: {one:?}");
                assert_eq!(two, Decision::Grant { resident_id: 7 }, "{two_factor:?} {first:?}");
                let (_, same_twice) = two_steps(&policy, first, first);
                assert_eq!(same_twice, Decision::Deny(DenyReason::SecondFactorMismatch));
                let late = match one {
                    Decision::NeedSecondFactor(p) => p,
                    _ => unreachable!(),
                };
                assert!(
                    matches!(
                        decide(&policy, Some(late), second, Some(&r), 10 + 31),
                        Decision::NeedSecondFactor(_)
                    ),
                    "{two_factor:?}: a factor alone after the first step expired opens nothing"
                );
            }
            assert_eq!(
                decide(&policy, None, other, Some(&r), 10),
                Decision::Deny(DenyReason::MethodNotOffered),
                "{two_factor:?}: a method outside the pair cannot start an entry"
            );
            assert!(!policy.starts_entry(other.method()));
            assert!(policy.starts_entry(a.method()) && policy.starts_entry(b.method()));
        }
    }

    #[test]
    fn needs_doors_ask_only_after_their_first_factor() {
        let (face, pin, card) =
            (Checked::Face(Some(7)), Checked::Pin(Some(7)), Checked::Card(Some(7)));
        let cases = [
            (TwoFactor::CardNeedsPin, card, pin, face),
            (TwoFactor::CardNeedsFace, card, face, pin),
            (TwoFactor::PinNeedsFace, pin, face, card),
        ];
        let r = Resident { templates: 1, ..resident(7) };
        for (two_factor, first, second, other) in cases {
            let policy = AccessConfig { two_factor, ..AccessConfig::default() };
            let (one, two) = two_steps(&policy, first, second);
            assert!(matches!(one, Decision::NeedSecondFactor(_)), "{two_factor:?}");
            assert_eq!(two, Decision::Grant { resident_id: 7 });
            for alone in [second, other] {
                assert_eq!(
                    decide(&policy, None, alone, Some(&r), 10),
                    Decision::Grant { resident_id: 7 },
                    "{two_factor:?}: {alone:?} alone opens"
                );
            }
            assert!(
                [Method::Face, Method::Pin, Method::Card].iter().all(|&m| policy.starts_entry(m))
            );
        }
    }

    #[test]
    fn a_resident_without_face_data_gives_the_other_credential_where_a_face_is_asked() {
        // Face is never compulsory: at a `*_needs_face` door a resident who never enrolled (or
        // withdrew) gets in with PIN and card, and never with the first factor alone.
        let r = resident(7);
        for (two_factor, first, instead) in [
            (TwoFactor::PinNeedsFace, Checked::Pin(Some(7)), Checked::Card(Some(7))),
            (TwoFactor::CardNeedsFace, Checked::Card(Some(7)), Checked::Pin(Some(7))),
        ] {
            let policy = AccessConfig { two_factor, ..AccessConfig::default() };
            let (one, two) = two_steps_of(&r, &policy, first, instead);
            match one {
                Decision::NeedSecondFactor(p) => assert_eq!(p.second, instead.method()),
                other => panic!("{two_factor:?}: {other:?}"),
            }
            assert_eq!(two, Decision::Grant { resident_id: 7 }, "{two_factor:?}");
            let without =
                AccessConfig { methods: vec![Method::Face, first.method()], ..policy.clone() };
            assert_eq!(
                without.validate(),
                Err(AccessConfigError::TwoFactorMethodMissing {
                    two_factor,
                    missing: instead.method()
                }),
                "a door that would shut out residents without face data is refused"
            );
        }
    }

    #[test]
    fn policy_names_say_which_kind_they_are() {
        let parse =
            |text: &str| toml::from_str::<AccessConfig>(&format!("two_factor = \"{text}\""));
        assert_eq!(parse("always_card_and_pin").unwrap().two_factor, TwoFactor::AlwaysCardAndPin);
        assert_eq!(parse("card_needs_pin").unwrap().two_factor, TwoFactor::CardNeedsPin);
        assert!(parse("card_pin").is_err(), "the old ambiguous name is refused");
        assert!(parse("always_face_and_pin").is_err(), "face is never required of everyone");
        let missing = AccessConfig {
            methods: vec![Method::Face, Method::Pin],
            two_factor: TwoFactor::AlwaysCardAndPin,
            ..AccessConfig::default()
        };
        assert!(missing.validate().is_err());
    }
}
