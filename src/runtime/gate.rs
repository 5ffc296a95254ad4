//! The gate itself, independent of any screen: it takes what a resident does (taps, digits, a
//! card, a face in front of the camera) and the passing of time, and returns what the screen
//! should show, the decisions, and what the door did. The touchscreen UI and the headless script
//! runner both drive this one type.

mod admin;

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::camera::FrameSource;
use crate::access::checks::{change_pin, check_card, check_pin, record};
use crate::access::{Checked, Decision, DenyReason, Method, Pending, decide};
use crate::config::Config;
use crate::credentials::{CardUid, Pin, PinHasher};
use crate::door::{DoorEvent, DoorPort};
use crate::store::{Chain, Language, Store};
use crate::templates::{Gallery, Identification};
use crate::vision::liveness::LivenessMode;
use crate::vision::liveness::active::{HeadTurnChallenge, Progress, Turn};
use crate::vision::liveness::passive::PassiveLiveness;
use crate::vision::{Embedding, FacePipeline, Frame, QualityIssue, VisionError};

/// `[gate]`: timings and what the result screen says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GateConfig {
    /// The camera closes and PIN/card are offered after this long without a decision.
    pub face_timeout_ms: u64,
    /// How long the result stays on screen.
    pub result_ms: u64,
    /// Greet a resident by name on the result screen (off: just "Welcome", for privacy).
    pub greet_by_name: bool,
    /// The language the screen starts in (and returns to when idle).
    pub language: Language,
    /// Resident numbers of the managers and caretakers who get admin mode after their PIN or
    /// card. Admins are residents so that they use the same credentials, lockout and audit.
    pub admins: Vec<String>,
    /// Admin mode ends after this long without a tap.
    pub admin_timeout_ms: u64,
    /// Good frames fused into one template when enrolling at the gate.
    pub enrol_frames: usize,
    /// The touchscreen's rotation in degrees (0, 90, 180, 270), for a display mounted turned.
    pub rotation: u16,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            face_timeout_ms: 10_000,
            result_ms: 4_000,
            greet_by_name: true,
            language: Language::Zh,
            admins: Vec::new(),
            admin_timeout_ms: 60_000,
            enrol_frames: 3,
            rotation: 0,
        }
    }
}

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
    /// "My data", after PIN or card: how many face templates are on file, and a delete button.
    MyData {
        templates: i64,
    },
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
        number: String,
        notice: String,
    },
    /// Admin enrolment: guided capture of several good frames of the resident.
    Enrolling {
        number: String,
        captured: usize,
        needed: usize,
        guidance: Option<QualityIssue>,
    },
    /// Admin mode: "tap the new card" for a resident.
    AdminCard {
        number: String,
    },
    /// Admin mode: the keypad for a resident's new PIN (masked).
    AdminPin {
        number: String,
    },
}

/// What the result screen says; the UI words it in the screen's language.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Granted; the name only when the gate greets by name.
    Welcome {
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
    /// Admin mode outcomes.
    Enrolled {
        number: String,
    },
    /// No frames good enough before the face timeout.
    EnrolmentTimedOut,
    /// A minor: the guardian's consent is recorded at the office, not at the door.
    GuardianConsentNeeded,
    /// The camera or the models are missing.
    FaceUnavailable,
    /// The camera failed to open or stopped delivering frames.
    CameraFailed,
    TemplatesDeleted {
        number: String,
        templates: usize,
    },
    CardAdded {
        number: String,
    },
    CardAlreadyRegistered,
    PinReset {
        number: String,
    },
    /// Not a PIN under the configured rules.
    PinRejected,
    LockoutLifted {
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
    Unavailable(String),
}

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
    /// On "My data": change the PIN (the old one is checked again, with lockout).
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
    /// The resident confirmed the consent notice (admin enrolment).
    Agree,
}

/// What happened, for the screen, the tests and the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Screen(Screen),
    Decision {
        method: Method,
        granted: bool,
        reason: Option<DenyReason>,
        resident: Option<String>,
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

/// The gate with its store, face pipeline, camera and door.
pub struct Gate<C: FrameSource, D: DoorPort> {
    config: Config,
    store: Store,
    hasher: PinHasher,
    gallery: Gallery,
    faces: Result<FacePipeline, String>,
    pad: Option<PassiveLiveness>,
    camera: C,
    door: D,
    screen: Screen,
    face_started: u64,
    result_until: u64,
    typed_number: Option<String>,
    pending: Option<Pending>,
    unix_at_start: i64,
    next_purge: u64,
    /// Who just proved themselves with PIN or card, and until when "My data" is open to them.
    self_service: Option<(String, u64)>,
    /// The head-turn challenge of the current face session, when the door asks for one.
    challenge: Option<ActiveSession>,
    language: Language,
    admin: Option<admin::AdminSession>,
    /// The latest door alarms (newest first), for the admin menu.
    alarms: VecDeque<String>,
    /// Admin enrolment: the good frames so far.
    enrolment: Vec<Embedding>,
    /// When the camera last failed, and why: the Face tile shows it until a retry is due.
    camera_fault: Option<(u64, String)>,
}

/// A head-turn challenge and the resident recognised before it started.
struct ActiveSession {
    challenge: HeadTurnChallenge,
    first: Option<i64>,
}

/// The retention rules run at start and then once a day.
const PURGE_EVERY_MS: u64 = 24 * 3_600 * 1_000;
/// After a camera failure the Face tile stays unavailable this long, then the camera is tried
/// again on the next tap (a webcam replugged, a driver restarted).
pub const CAMERA_RETRY_MS: u64 = 30_000;

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    /// Assembles the gate. A face pipeline that failed to load is kept as the reason the face
    /// tile shows; PIN and card work regardless.
    pub fn new(
        config: Config,
        store: Store,
        faces: Result<FacePipeline, String>,
        camera: C,
        door: D,
        unix_at_start: i64,
    ) -> Result<Self, anyhow::Error> {
        let hasher = PinHasher::new(&config.pin, store.pin_pepper().clone())?;
        let config_language = config.gate.language;
        let gallery = store.gallery(unix_at_start)?;
        let liveness = &config.vision.liveness;
        let pad = if matches!(liveness.mode, LivenessMode::Passive | LivenessMode::Both) {
            Some(PassiveLiveness::load(
                &config.paths.models,
                config.vision.backend,
                config.vision.threads,
            )?)
        } else {
            None
        };
        let mut gate = Self {
            config,
            store,
            hasher,
            gallery,
            faces,
            pad,
            camera,
            door,
            screen: Screen::PinNumber,
            face_started: 0,
            result_until: 0,
            typed_number: None,
            pending: None,
            unix_at_start,
            next_purge: 0,
            self_service: None,
            challenge: None,
            language: config_language,
            admin: None,
            alarms: VecDeque::new(),
            camera_fault: None,
            enrolment: Vec::new(),
        };
        gate.screen = gate.idle();
        Ok(gate)
    }

    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// The language the screen is in.
    pub fn language(&self) -> Language {
        self.language
    }

    pub fn camera(&self) -> &C {
        &self.camera
    }

    /// The door, for its health (systemd's watchdog is fed only while it is alive).
    pub fn door(&self) -> &D {
        &self.door
    }

    pub fn camera_mut(&mut self) -> &mut C {
        &mut self.camera
    }

    fn unix(&self, now: u64) -> i64 {
        self.unix_at_start + (now / 1000) as i64
    }

    fn idle(&self) -> Screen {
        let face = if !self.config.access.methods.contains(&Method::Face) {
            FaceTile::NotOffered
        } else {
            match (&self.faces, &self.camera_fault) {
                (Err(reason), _) | (Ok(_), Some((_, reason))) => {
                    FaceTile::Unavailable(reason.clone())
                }
                (Ok(_), None) => FaceTile::Available,
            }
        };
        Screen::Idle { face }
    }

    fn show(&mut self, screen: Screen, events: &mut Vec<Event>) {
        if self.screen != screen {
            self.screen = screen.clone();
            events.push(Event::Screen(screen));
        }
    }

    fn close_camera(&mut self, events: &mut Vec<Event>) {
        if self.camera.is_open() {
            self.camera.close();
            events.push(Event::CameraClosed);
        }
    }

    /// A camera that fails is not the gate failing: the Face tile says why, PIN and card stay,
    /// and the camera is tried again after [`CAMERA_RETRY_MS`].
    fn camera_failed(
        &mut self,
        err: VisionError,
        now: u64,
        events: &mut Vec<Event>,
    ) -> anyhow::Result<()> {
        tracing::warn!("camera: {err}");
        self.close_camera(events);
        self.camera_fault = Some((now, err.to_string()));
        self.pending = None;
        self.challenge = None;
        self.enrolment.clear();
        self.result(false, Outcome::CameraFailed, Offer::PinOrCard, now, events)
    }

    /// Opens the camera for a face session starting `now`; false when it failed (the session
    /// has then ended, see [`Self::camera_failed`]).
    fn start_camera(&mut self, now: u64, events: &mut Vec<Event>) -> anyhow::Result<bool> {
        if let Err(err) = self.camera.open() {
            self.camera_failed(err, now, events)?;
            return Ok(false);
        }
        self.face_started = now;
        events.push(Event::CameraOpened);
        Ok(true)
    }

    /// The camera's next frame; a failing camera ends the session and gives none.
    fn next_frame(&mut self, now: u64, events: &mut Vec<Event>) -> anyhow::Result<Option<Frame>> {
        match self.camera.next_frame() {
            Ok(frame) => Ok(frame),
            Err(err) => self.camera_failed(err, now, events).map(|()| None),
        }
    }

    fn open_camera(&mut self, now: u64, events: &mut Vec<Event>) -> anyhow::Result<()> {
        if !self.start_camera(now, events)? {
            return Ok(());
        }
        let liveness = &self.config.vision.liveness;
        self.challenge =
            matches!(liveness.mode, LivenessMode::Active | LivenessMode::Both).then(|| {
                ActiveSession {
                    challenge: HeadTurnChallenge::new(
                        liveness.active.clone(),
                        HeadTurnChallenge::random_prompts(&mut rand::rng()),
                    ),
                    first: None,
                }
            });
        self.show(Screen::Face { guidance: None, prompt: None }, events);
        Ok(())
    }

    /// Handles one resident action at `now` (milliseconds on the gate's clock).
    pub fn act(&mut self, action: Action, now: u64) -> anyhow::Result<Vec<Event>> {
        let mut events = Vec::new();
        if self.admin_act(&action, now, &mut events)? {
            return Ok(events);
        }
        match action {
            Action::SwitchLanguage => {
                self.language = match self.language {
                    Language::Zh => Language::En,
                    Language::En => Language::Zh,
                };
                if let Screen::Consent { number, .. } = &self.screen {
                    let consent = self.consent_screen(number.clone());
                    self.show(consent, &mut events);
                }
            }
            Action::Admin => {
                if let Some((number, _)) = self.self_service.take().filter(|s| now < s.1)
                    && self.config.gate.admins.contains(&number)
                {
                    self.start_admin(number, now, &mut events);
                }
            }
            Action::AdminTask(_) | Action::Agree => {}
            Action::Card(uid) => {
                self.close_camera(&mut events);
                let checked = check_card(&self.store, self.store.card_key(), &uid)?;
                self.conclude(checked, now, &mut events)?;
            }
            Action::Cancel => {
                self.close_camera(&mut events);
                self.challenge = None;
                self.pending = None;
                self.typed_number = None;
                let idle = self.idle();
                self.show(idle, &mut events);
            }
            Action::ChooseFace
                if matches!(self.idle(), Screen::Idle { face: FaceTile::Available }) =>
            {
                self.open_camera(now, &mut events)?;
            }
            Action::ChooseFace => {}
            Action::ChoosePin => {
                self.close_camera(&mut events);
                self.typed_number = None;
                self.show(Screen::PinNumber, &mut events);
            }
            Action::ChooseCard => {
                self.close_camera(&mut events);
                self.show(Screen::Card, &mut events);
            }
            Action::MyData => {
                if let Some((number, until)) = self.self_service.clone().filter(|s| now < s.1) {
                    let templates = self.store.resident(&number)?.templates;
                    self.result_until = until;
                    self.show(Screen::MyData { templates }, &mut events);
                }
            }
            Action::DeleteMyFaceData => {
                if let (Screen::MyData { .. }, Some((number, _))) =
                    (&self.screen, self.self_service.take())
                {
                    let deleted = self.store.withdraw_consent(
                        &number,
                        self.unix(now),
                        "resident at the gate",
                    )?;
                    self.gallery = self.store.gallery(self.unix(now))?;
                    events.push(Event::FaceDataDeleted { templates: deleted });
                    let at = crate::dates::format_time(self.unix(now));
                    let outcome = Outcome::FaceDataDeleted { templates: deleted, at };
                    self.result(true, outcome, Offer::Nothing, now, &mut events)?;
                }
            }
            Action::ChangePin { old, new } => {
                if let (Screen::MyData { .. }, Some((number, _))) =
                    (&self.screen, self.self_service.clone())
                {
                    let unix = self.unix(now);
                    let pins =
                        (Pin::parse(&old, &self.config.pin), Pin::parse(&new, &self.config.pin));
                    let changed = match pins {
                        (Ok(old), Ok(new)) => change_pin(
                            &mut self.store,
                            &self.hasher,
                            &self.config.pin,
                            &number,
                            &old,
                            &new,
                            unix,
                        )?,
                        _ => false,
                    };
                    events.push(Event::PinChanged { changed });
                    let outcome =
                        if changed { Outcome::PinChanged } else { Outcome::PinNotChanged };
                    self.result(changed, outcome, Offer::Nothing, now, &mut events)?;
                }
            }
            Action::Digits(digits) => match self.screen {
                Screen::PinNumber => {
                    self.typed_number = Some(digits);
                    self.show(Screen::PinCode, &mut events);
                }
                Screen::PinCode => {
                    let number = self.typed_number.take().unwrap_or_default();
                    let checked = match Pin::parse(&digits, &self.config.pin) {
                        Ok(pin) => check_pin(
                            &self.store,
                            &self.hasher,
                            &self.config.pin,
                            &number,
                            &pin,
                            self.unix(now),
                        )?,
                        Err(_) => Checked::Pin(None),
                    };
                    self.conclude(checked, now, &mut events)?;
                }
                _ => {}
            },
        }
        Ok(events)
    }

    /// Advances time: retention, the face session, the result screen's timeout, the door.
    pub fn tick(&mut self, now: u64) -> anyhow::Result<Vec<Event>> {
        let mut events = Vec::new();
        if now >= self.next_purge {
            self.store.purge(&self.config.retention, self.unix(now))?;
            self.gallery = self.store.gallery(self.unix(now))?;
            self.next_purge = now + PURGE_EVERY_MS;
        }
        for door_event in self.door.poll(now)? {
            if matches!(
                door_event,
                DoorEvent::HeldOpen | DoorEvent::ForcedOpen | DoorEvent::FireUnlocked
            ) {
                let kind = format!("door_{door_event:?}").to_lowercase();
                self.store.audit(Chain::Admin, self.unix(now), &kind, "door", "")?;
                let at = crate::dates::format_time(self.unix(now));
                self.alarms.push_front(format!("{at}  {door_event:?}"));
                self.alarms.truncate(admin::ALARMS_SHOWN);
            }
            events.push(Event::Door { what: format!("{door_event:?}") });
        }
        if let Some((since, _)) = self.camera_fault
            && now.saturating_sub(since) >= CAMERA_RETRY_MS
        {
            self.camera_fault = None;
            if matches!(self.screen, Screen::Idle { .. }) {
                let idle = self.idle();
                self.show(idle, &mut events);
            }
        }
        if self.admin_timed_out(now, &mut events) {
            return Ok(events);
        }
        if matches!(self.screen, Screen::Result { .. } | Screen::MyData { .. })
            && now >= self.result_until
        {
            if self.admin_active() {
                self.show_admin_menu(&mut events);
            } else {
                self.language = self.config.gate.language;
                let idle = self.idle();
                self.show(idle, &mut events);
            }
        }
        match self.screen {
            Screen::Face { .. } => self.face_step(now, &mut events)?,
            Screen::Enrolling { .. } => self.enrol_step(now, &mut events)?,
            _ => {}
        }
        Ok(events)
    }

    fn face_step(&mut self, now: u64, events: &mut Vec<Event>) -> anyhow::Result<()> {
        if now.saturating_sub(self.face_started) >= self.config.gate.face_timeout_ms {
            self.close_camera(events);
            self.pending = None;
            self.challenge = None;
            return self.result(false, Outcome::FaceTimeout, Offer::PinOrCard, now, events);
        }
        let Some(frame) = self.next_frame(now, events)? else { return Ok(()) };
        let Ok(faces) = self.faces.as_mut() else { return Ok(()) };
        let analysis = faces.analyze(&frame)?;
        let dominant = crate::vision::quality::dominant(&analysis.faces).cloned();
        let probe = analysis.outcome;
        if let Some(active) = self.challenge.as_mut() {
            // The head turns away from frontal during the challenge, so every detected face
            // counts, whatever the quality gate says about it.
            if let Some(face) = &dominant {
                active.challenge.push(now as f32 / 1000.0, &face.landmarks, face.score);
            }
            match active.challenge.progress() {
                Progress::Failed(_) => return self.liveness_failed(now, events),
                Progress::Passed => {}
                _ => {
                    if active.first.is_none()
                        && let Ok(first) = &probe
                    {
                        let found = self.identify(first);
                        if found.is_none() {
                            // A stranger is told at once; no challenge to sit through.
                            self.challenge = None;
                            self.close_camera(events);
                            return self.conclude(Checked::Face(None), now, events);
                        }
                        if let Some(active) = self.challenge.as_mut() {
                            active.first = found.map(|f| f.0);
                        }
                    }
                    let prompt = self.challenge.as_ref().and_then(|a| a.challenge.prompt());
                    self.show(Screen::Face { guidance: probe.err(), prompt }, events);
                    return Ok(());
                }
            }
        }
        let probe = match probe {
            Ok(probe) => probe,
            Err(issue) => {
                self.show(Screen::Face { guidance: Some(issue), prompt: None }, events);
                return Ok(());
            }
        };
        if let (Some(pad), Some(face), Ok(faces)) =
            (self.pad.as_mut(), &dominant, self.faces.as_mut())
        {
            let work = faces.working_frame(&frame);
            if pad.score(&work, &face.bbox)? < self.config.vision.liveness.threshold {
                return self.liveness_failed(now, events);
            }
        }
        let mut resident = self.identify(&probe);
        if let Some(active) = self.challenge.take()
            && resident.map(|r| r.0) != active.first
        {
            // Recognition must match the same resident again after the head turns.
            resident = None;
        }
        self.close_camera(events);
        if let Some((_, Some(template))) = resident {
            self.store.touch_template(template, self.unix(now))?;
        }
        self.conclude(Checked::Face(resident.map(|r| r.0)), now, events)
    }

    /// Who a probe is: 1:1 against the pending resident when the face is a second factor,
    /// else 1:N. Returns the resident and the matching template.
    fn identify(&self, probe: &crate::vision::Embedding) -> Option<(i64, Option<i64>)> {
        let matching = &self.config.matching;
        match self.pending.filter(|p| p.second == Method::Face) {
            Some(p) => self
                .gallery
                .verify(p.resident_id, probe)
                .filter(|&s| s >= matching.threshold)
                .map(|_| (p.resident_id, None)),
            None => match self.gallery.identify(probe, matching.threshold, matching.margin) {
                Identification::Match { resident_id, template_id, .. } => {
                    Some((resident_id, Some(template_id)))
                }
                Identification::Unknown { .. } => None,
            },
        }
    }

    /// A photo, a screen, or a failed head-turn challenge: deny, say so, offer PIN or card.
    fn liveness_failed(&mut self, now: u64, events: &mut Vec<Event>) -> anyhow::Result<()> {
        self.close_camera(events);
        self.challenge = None;
        self.pending = None;
        self.store.audit(
            Chain::Access,
            self.unix(now),
            "access_denied",
            "unknown",
            "face: liveness failed",
        )?;
        events.push(Event::Decision {
            method: Method::Face,
            granted: false,
            reason: Some(DenyReason::LivenessFailed),
            resident: None,
        });
        self.door.deny(now)?;
        self.result(false, Outcome::NotLive, Offer::PinOrCard, now, events)
    }

    /// Decides on a checked credential, records it, drives the door and the screen.
    fn conclude(
        &mut self,
        checked: Checked,
        now: u64,
        events: &mut Vec<Event>,
    ) -> anyhow::Result<()> {
        let unix = self.unix(now);
        let resident = match checked {
            Checked::Face(Some(id)) | Checked::Pin(Some(id)) | Checked::Card(Some(id)) => {
                self.store.resident_by_id(id).ok()
            }
            _ => None,
        };
        let decision =
            decide(&self.config.access, self.pending.take(), checked, resident.as_ref(), unix);
        record(&mut self.store, checked, &decision, unix)?;
        let method = checked.method();
        match decision {
            Decision::Grant { .. } => {
                self.door.grant(now)?;
                events.push(Event::Door { what: format!("{:?}", DoorEvent::Unlocked) });
                let mut offer = Offer::Nothing;
                if method != Method::Face
                    && let Some(r) = &resident
                {
                    let until = now + self.config.gate.result_ms;
                    self.self_service = Some((r.number.clone(), until));
                    offer = if self.config.gate.admins.contains(&r.number) {
                        Offer::Admin
                    } else {
                        Offer::MyData
                    };
                }
                let who = resident.as_ref().map(|r| r.number.clone());
                events.push(Event::Decision { method, granted: true, reason: None, resident: who });
                let name = resident
                    .as_ref()
                    .filter(|_| self.config.gate.greet_by_name)
                    .map(|r| r.name.clone());
                self.result(true, Outcome::Welcome { name }, offer, now, events)
            }
            Decision::NeedSecondFactor(pending) => {
                self.pending = Some(pending);
                match pending.second {
                    Method::Face => self.open_camera(now, events),
                    _ => {
                        self.typed_number = resident.map(|r| r.number);
                        self.show(Screen::PinCode, events);
                        Ok(())
                    }
                }
            }
            Decision::Deny(reason) => {
                self.door.deny(now)?;
                events.push(Event::Decision {
                    method,
                    granted: false,
                    reason: Some(reason),
                    resident: None,
                });
                let outcome = match reason {
                    DenyReason::LockedOut { seconds } => Outcome::LockedOut { seconds },
                    DenyReason::FaceNotRecognised => Outcome::FaceNotRecognised,
                    DenyReason::AccessNotValid => Outcome::AccessNotValid,
                    _ => Outcome::NotAccepted,
                };
                let offer = if method == Method::Face { Offer::PinOrCard } else { Offer::Nothing };
                self.result(false, outcome, offer, now, events)
            }
        }
    }

    fn result(
        &mut self,
        granted: bool,
        outcome: Outcome,
        offer: Offer,
        now: u64,
        events: &mut Vec<Event>,
    ) -> anyhow::Result<()> {
        self.result_until = now + self.config.gate.result_ms;
        self.show(Screen::Result { granted, outcome, offer }, events);
        Ok(())
    }
}
