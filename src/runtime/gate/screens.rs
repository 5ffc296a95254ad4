//! What the gate shows: the screens, the result screen's outcome and offer, the admin tasks and
//! the idle screen's Face tile. The UI words them in the screen's language.

use serde::{Deserialize, Serialize};

use crate::vision::QualityIssue;
use crate::vision::liveness::active::Turn;

/// What the screen shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "screen", rename_all = "snake_case")]
pub enum Screen {
    /// Face, PIN and card as equal choices (face absent when the door or the camera has none).
    Idle {
        face: FaceTile,
    },
    /// Scanning: guidance from the quality gate, and the head-turn prompt when liveness asks.
    Face {
        guidance: Option<QualityIssue>,
        prompt: Option<Turn>,
    },
    /// Keypad: resident number first.
    PinNumber,
    /// Keypad: the PIN (masked on screen).
    PinCode,
    /// Keypad: a visitor's code, with "Show a QR code" beside it.
    VisitorCode,
    /// The camera reads a visitor's QR code (opened by the tap, closed after the read or the
    /// timeout).
    VisitorQr,
    /// "I have a reset code": the resident number, the code and the new PIN twice (the UI asks
    /// for all four and sends [`super::Action::ResetPin`]).
    ResetPin,
    /// "My data", after PIN or card: how many face templates are on file, and a delete button.
    MyData {
        templates: i64,
    },
    /// "My data" → "Change PIN": the keypad for the current PIN, then the new one (both masked;
    /// the UI asks for both and sends [`super::Action::ChangePin`]).
    ChangePin,
    /// "Hold your card to the reader".
    Card,
    Result {
        granted: bool,
        outcome: Outcome,
        offer: Offer,
    },
    /// Admin mode's menu, with the latest door alarms.
    Admin {
        alarms: Vec<String>,
    },
    /// Admin mode: the keypad for the resident number a task is for.
    AdminNumber {
        task: AdminTask,
    },
    /// Admin enrolment: the notice the resident reads and confirms, in the screen's language.
    Consent {
        #[serde(skip)]
        number: String,
        #[serde(skip)]
        notice: String,
    },
    /// Admin enrolment: guided capture of several good frames of the resident.
    Enrolling {
        #[serde(skip)]
        number: String,
        captured: usize,
        needed: usize,
        guidance: Option<QualityIssue>,
        /// The head-turn challenge's prompt, after the frames are captured.
        prompt: Option<Turn>,
    },
    /// Admin mode: "tap the new card" for a resident.
    AdminCard {
        #[serde(skip)]
        number: String,
    },
    /// The site asked for a resident's new card: "tap the new card" for them, until the
    /// request's expiry (the site adds the card).
    SiteCard {
        #[serde(skip)]
        number: String,
    },
    /// Admin mode: the keypad for a resident's new PIN (masked).
    AdminPin {
        #[serde(skip)]
        number: String,
    },
}

/// What the result screen says; the UI words it in the screen's language.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Granted; the name only when the gate greets by name.
    Welcome {
        #[serde(skip)]
        name: Option<String>,
    },
    FaceNotRecognised,
    FaceTimeout,
    NotLive,
    LockedOut {
        seconds: i64,
    },
    AccessNotValid,
    NotAccepted,
    /// A resident deleted their own face data; `at` is the receipt time.
    FaceDataDeleted {
        templates: usize,
        at: String,
    },
    PinChanged,
    PinNotChanged,
    /// The two new PINs typed differ: nothing changed.
    PinsDiffer,
    /// A visitor's pass opened the door.
    VisitorWelcome,
    /// Admin mode outcomes.
    Enrolled {
        #[serde(skip)]
        number: String,
    },
    /// No frames good enough before the face timeout.
    EnrolmentTimedOut,
    /// The captured frames do not all show the same face: nothing was stored.
    EnrolmentFramesDiffer,
    /// The face already matches another resident at this score: nothing was stored (the
    /// manager decides, from the CLI).
    FaceAlreadyEnrolled {
        score: String,
    },
    /// A minor: the guardian's consent is recorded at the office, not at the door.
    GuardianConsentNeeded,
    /// The camera or the models are missing.
    FaceUnavailable,
    /// The camera failed to open or stopped delivering frames.
    CameraFailed,
    TemplatesDeleted {
        #[serde(skip)]
        number: String,
        templates: usize,
    },
    CardAdded {
        #[serde(skip)]
        number: String,
    },
    CardAlreadyRegistered,
    PinReset {
        #[serde(skip)]
        number: String,
    },
    /// Not a PIN under the configured rules, or too easy to guess.
    PinRejected,
    LockoutLifted {
        #[serde(skip)]
        number: String,
        was_locked: bool,
    },
    UnknownResident,
}

/// What the result screen offers next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Offer {
    Nothing,
    /// After a failed face attempt: PIN or card at once, never "try face again".
    PinOrCard,
    /// After a PIN or card: "My data".
    MyData,
    /// After a PIN or card of a resident with an enrolment booked at this door: "My data" and
    /// "Enrol my face".
    Booked,
    /// After an admin's PIN or card: "My data" and admin mode.
    Admin,
}

/// The tasks of admin mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminTask {
    EnrolFace,
    DeleteFace,
    AddCard,
    ResetPin,
    LiftLockout,
}

/// The face tile on the idle screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaceTile {
    Available,
    /// The door does not offer face recognition.
    NotOffered,
    /// Offered, but the camera or models are missing: the reason is shown, PIN/card stay.
    Unavailable(FaceUnavailable),
}

/// Why the face tile is greyed (the technical reason goes to the log, never to the screen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaceUnavailable {
    /// This build has no camera support.
    NoCameraSupport,
    /// The camera failed to open or stopped delivering frames; it is tried again later.
    CameraFailed,
    /// The face models are missing or failed to load.
    ModelsMissing,
    /// A door of a site whose replica last caught up longer ago than `[site]
    /// max_offline_hours`: it cannot know of withdrawals made elsewhere (PIN and card go on).
    OutOfSync,
}
