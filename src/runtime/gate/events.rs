//! What comes into the gate (a resident's [`Action`]) and what comes out ([`Event`]).

use serde::Serialize;

use super::{AdminTask, Screen};
use crate::access::{DenyReason, Method};
use crate::credentials::CardUid;
use crate::store::PassRefusal;

/// What a resident does.
#[derive(Debug, Clone)]
pub enum Action {
    ChooseFace,
    ChoosePin,
    ChooseCard,
    Cancel,
    /// Digits typed and confirmed on the keypad.
    Digits(String),
    /// A card on the reader (works from any screen).
    Card(CardUid),
    /// "My data" on the result screen after a PIN or card.
    MyData,
    /// Confirmed "delete my face data".
    DeleteMyFaceData,
    /// On "My data": "Change PIN" opens its keypad for [`super::PIN_CHANGE_MS`].
    StartPinChange,
    /// On "My data" or its PIN-change keypad: change the PIN (the old one is checked again, with
    /// lockout).
    ChangePin {
        old: String,
        new: String,
    },
    /// The language switch: Chinese ⇄ English (back to the configured one when idle).
    SwitchLanguage,
    /// "Admin" on the result screen after an admin's PIN or card.
    Admin,
    /// A task chosen on the admin menu.
    AdminTask(AdminTask),
    /// The resident confirmed the consent notice (admin or booked enrolment).
    Agree,
    /// "Visitor" on the idle screen: the keypad for a visitor's code.
    ChooseVisitor,
    /// "Show a QR code" on the visitor's keypad: the camera opens to read it.
    ScanQr,
    /// "I have a reset code" on the PIN keypad or on "Change PIN".
    StartPinReset,
    /// The resident number, the reset code and the new PIN twice.
    ResetPin {
        number: String,
        code: String,
        new: String,
        repeat: String,
    },
    /// "Enrol my face" on the result screen of a resident with a booking here.
    EnrolBooked,
}

/// What happened, for the screen, the tests and the log. Serialised (the log, the journal on
/// the device), an event carries only what the audit log carries: `resident#<id>` and kinds,
/// never a resident's number or name (the fields marked `skip`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Screen(Screen),
    Decision {
        method: Method,
        granted: bool,
        reason: Option<DenyReason>,
        /// The resident's number, for the screen and the tests.
        #[serde(skip)]
        resident: Option<String>,
        /// `resident#<id>`, as the audit log names them.
        subject: Option<String>,
    },
    /// A visitor's code (typed or read from a QR code) was checked.
    VisitorPass {
        granted: bool,
        refusal: Option<PassRefusal>,
        /// `visitor-pass#<id>`, as the audit log names it.
        subject: Option<String>,
    },
    CameraOpened,
    CameraClosed,
    /// A resident deleted their own face data at the gate.
    FaceDataDeleted {
        templates: usize,
    },
    /// A resident changed their PIN at the gate (or the old PIN was wrong).
    PinChanged {
        changed: bool,
    },
    Door {
        what: String,
    },
}
