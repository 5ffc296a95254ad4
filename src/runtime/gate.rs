//! The gate itself, independent of any screen: it takes what a resident does (taps, digits, a
//! card, a face in front of the camera) and the passing of time, and returns what the screen
//! should show, the decisions, and what the door did. The touchscreen UI and the headless script
//! runner both drive this one type. The face session is in `face`, admin mode in `admin`, the
//! limits on card and face attempts in `attempts`, changes made by others in `changes`, the
//! site's commands in `remote` (a card asked for by the site in `card_tap`), the door's alarms
//! for the site in `alarms_now`.

mod admin;
mod alarms_now;
mod attempts;
mod card_tap;
mod changes;
mod events;
mod face;
mod remote;
mod screens;
mod self_service;
mod settings;
mod visitors;

use std::collections::VecDeque;

use super::camera::FrameSource;
use super::error::Result;
use crate::access::checks::{check_card, check_pin, record};
use crate::access::{Checked, Decision, DenyReason, Method, Pending, decide};
use crate::credentials::{Pin, PinError};
use crate::door::{DoorEvent, DoorPort};
use crate::language::Language;
use crate::manage;
use crate::site::outbox::DoorAlarms;
use crate::store::{AuditKind, Chain, Store, StoreError};
use crate::templates::Gallery;
use crate::vision::{Embedding, FaceEngine};

pub use events::{Action, Event};
pub use screens::{AdminTask, FaceTile, FaceUnavailable, Offer, Outcome, Screen};
pub use settings::{GateConfig, GateConfigError, GateSettings};

/// The gate with its store, face pipeline, camera and door.
pub struct Gate<C: FrameSource, D: DoorPort> {
    settings: GateSettings,
    store: Store,
    gallery: Gallery,
    faces: Result<Box<dyn FaceEngine>, FaceUnavailable>,
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
    challenge: Option<face::ActiveSession>,
    language: Language,
    admin: Option<admin::AdminSession>,
    /// An admin who has just opened the door with their card: until when "Admin mode" asks
    /// for their admin PIN.
    admin_card: Option<(String, u64)>,
    /// The admin whose admin PIN the keypad is asking for, and until when.
    admin_login: Option<(String, u64)>,
    /// The latest door alarms (newest first), for the admin menu.
    alarms: VecDeque<String>,
    /// Admin enrolment: the good frames so far.
    enrolment: Vec<Embedding>,
    /// When the camera last failed, and why: the Face tile shows it until a retry is due.
    camera_fault: Option<u64>,
    /// The database's `data_version` when the gate last looked (see `changes`).
    data_version: i64,
    /// On a door of a site: when its replica last caught up (`Some(None)`: never).
    replica_contact: Option<Option<i64>>,
    /// The replica is older than `max_offline_secs`: Face is not offered.
    replica_stale: bool,
    /// The face session's passive-liveness votes so far (see `face`).
    passive_votes: Vec<bool>,
    /// The booking of the enrolment under way without admin mode (see `self_service`).
    booked: Option<i64>,
    /// The face session's first good frames' embeddings, fused for its decision (see `face`).
    probes: Vec<Embedding>,
    /// The door's alarms now, as the database has them for the site (see `alarms_now`).
    alarms_now: DoorAlarms,
    /// The site's request for a resident's new card, while the gate waits for it.
    card_tap: Option<card_tap::CardTap>,
}

/// The retention rules run at start and then once a day.
const PURGE_EVERY_MS: u64 = 24 * 3_600 * 1_000;
/// After a camera failure the Face tile stays unavailable this long, then the camera is tried
/// again on the next tap (a webcam replugged, a driver restarted).
pub const CAMERA_RETRY_MS: u64 = 30_000;
/// The keypad of a PIN change on "My data" closes after this long.
pub const PIN_CHANGE_MS: u64 = 30_000;

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    /// Assembles the gate. A face engine that failed to load is kept as the reason the face
    /// tile shows; PIN and card work regardless.
    pub fn new(
        settings: GateSettings,
        mut store: Store,
        faces: Result<Box<dyn FaceEngine>, FaceUnavailable>,
        camera: C,
        door: D,
        unix_at_start: i64,
    ) -> Result<Self> {
        let mut settings = settings;
        let replica = store.replica()?;
        settings.notice.site_mode = replica.is_some();
        // A door of a site is the door its replica was joined as (visitor passes and bookings
        // name doors); a standalone gate has no door id.
        if let Some(replica) = &replica {
            settings.door = Some(replica.door.clone());
        }
        let config_language = settings.gate.language;
        let data_version = store.data_version()?;
        let replica_contact = replica.map(|r| r.last_contact);
        // A door starts without alarms: a door still open shows again once it is held open.
        store.set_door_alarms(DoorAlarms::default())?;
        let mut gate = Self {
            settings,
            store,
            gallery: Gallery::default(),
            faces,
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
            admin_card: None,
            admin_login: None,
            alarms: VecDeque::new(),
            camera_fault: None,
            enrolment: Vec::new(),
            data_version,
            passive_votes: Vec::new(),
            replica_contact,
            replica_stale: false,
            booked: None,
            probes: Vec::new(),
            alarms_now: DoorAlarms::default(),
            card_tap: None,
        };
        gate.reload_gallery(0)?;
        gate.follow_replica(0, &mut Vec::new())?;
        gate.screen = gate.idle();
        gate.follow_commands(0, &mut Vec::new())?;
        Ok(gate)
    }

    /// The latest alarms, newest first: what admin mode's menu lists. While the card reader is
    /// locked by a sweep, an admin cannot log in with their card, but the alarms are kept.
    pub fn alarms(&self) -> impl Iterator<Item = &str> {
        self.alarms.iter().map(String::as_str)
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
        let face = if !self.settings.access.starts_entry(Method::Face) {
            FaceTile::NotOffered
        } else {
            match (&self.faces, self.camera_fault) {
                _ if self.replica_stale => FaceTile::Unavailable(FaceUnavailable::OutOfSync),
                (Err(reason), _) => FaceTile::Unavailable(*reason),
                (Ok(_), Some(_)) => FaceTile::Unavailable(FaceUnavailable::CameraFailed),
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

    /// Handles one resident action at `now` (milliseconds on the gate's clock).
    pub fn act(&mut self, action: Action, now: u64) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        if self.card_tap_act(&action, now, &mut events)?
            || self.admin_act(&action, now, &mut events)?
            || self.visitor_act(&action, now, &mut events)?
            || self.self_service_act(&action, now, &mut events)?
        {
            return Ok(events);
        }
        let admin_login = self.admin_login.take();
        let keypad = matches!(self.screen, Screen::PinCode);
        if let (Some(login), Action::Digits(typed), true) = (admin_login, &action, keypad) {
            self.admin_pin_typed(login, typed, now, &mut events)?;
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
                if let Some((number, _)) = self.admin_card.take().filter(|s| now < s.1) {
                    self.self_service = None;
                    self.ask_admin_pin(number, now, &mut events);
                }
            }
            Action::AdminTask(_) | Action::Agree | Action::ChooseVisitor | Action::ScanQr => {}
            Action::StartPinReset | Action::ResetPin { .. } | Action::EnrolBooked => {}
            Action::Card(uid) => {
                self.close_camera(&mut events);
                let checked = match self.locked(Method::Card, now)? {
                    Some(seconds) => Checked::Locked(Method::Card, seconds),
                    None => check_card(&self.store, &uid)?,
                };
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
                    let unix = self.unix(now);
                    let deleted = manage::delete_face_data(
                        &mut self.store,
                        &number,
                        unix,
                        "resident at the gate",
                    )?;
                    self.reload_gallery(now)?;
                    events.push(Event::FaceDataDeleted { templates: deleted });
                    let at = crate::dates::format_time(self.unix(now));
                    let outcome = Outcome::FaceDataDeleted { templates: deleted, at };
                    self.show_result(true, outcome, Offer::Nothing, now, &mut events)?;
                }
            }
            Action::StartPinChange => {
                if matches!(self.screen, Screen::MyData { .. }) {
                    self.result_until = now + PIN_CHANGE_MS;
                    self.show(Screen::ChangePin, &mut events);
                }
            }
            Action::ChangePin { old, new } => {
                if let (Screen::MyData { .. } | Screen::ChangePin, Some((number, _))) =
                    (&self.screen, self.self_service.clone())
                {
                    let unix = self.unix(now);
                    let pins = (
                        Pin::parse(&old, &self.settings.pin),
                        Pin::parse(&new, &self.settings.pin),
                    );
                    let outcome = match pins {
                        (Ok(old), Ok(new)) => match manage::change_own_pin(
                            &mut self.store,
                            &self.settings.pin,
                            &number,
                            &old,
                            &new,
                            unix,
                        ) {
                            Ok(true) => Outcome::PinChanged,
                            Ok(false) => Outcome::PinNotChanged,
                            Err(StoreError::Pin(PinError::Weak(_))) => Outcome::PinRejected,
                            Err(e) => return Err(e.into()),
                        },
                        _ => Outcome::PinNotChanged,
                    };
                    let changed = outcome == Outcome::PinChanged;
                    events.push(Event::PinChanged { changed });
                    self.show_result(changed, outcome, Offer::Nothing, now, &mut events)?;
                }
            }
            Action::Digits(digits) => match self.screen {
                Screen::PinNumber => {
                    self.typed_number = Some(digits);
                    self.show(Screen::PinCode, &mut events);
                }
                Screen::PinCode => {
                    let number = self.typed_number.take().unwrap_or_default();
                    let checked = match Pin::parse(&digits, &self.settings.pin) {
                        Ok(pin) => check_pin(
                            &self.store,
                            &self.settings.pin,
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
    pub fn tick(&mut self, now: u64) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        if self.store.follow_rotation()? {
            self.reload_gallery(now)?;
        }
        if now >= self.next_purge {
            self.store.purge(&self.settings.notice.retention, self.unix(now))?;
            self.reload_gallery(now)?;
            self.next_purge = now + PURGE_EVERY_MS;
        }
        self.notice_changes(now, &mut events)?;
        for door_event in self.door.poll(now)? {
            self.follow_alarms(door_event)?;
            let alarm = match door_event {
                DoorEvent::HeldOpen => Some(AuditKind::DoorHeldOpen),
                DoorEvent::ForcedOpen => Some(AuditKind::DoorForcedOpen),
                DoorEvent::FireUnlocked => Some(AuditKind::DoorFireUnlocked),
                _ => None,
            };
            if let Some(kind) = alarm {
                self.store.audit(Chain::Admin, self.unix(now), kind, "door", "")?;
                self.alarm(now, &format!("{door_event:?}"), &mut events);
            }
            events.push(Event::Door { what: format!("{door_event:?}") });
        }
        for rejected in self.store.take_rejected() {
            self.alarm(now, &rejected.to_string(), &mut events);
        }
        if let Some(since) = self.camera_fault
            && now.saturating_sub(since) >= CAMERA_RETRY_MS
        {
            self.camera_fault = None;
            if matches!(self.screen, Screen::Idle { .. }) {
                let idle = self.idle();
                self.show(idle, &mut events);
            }
        }
        self.card_tap_tick(now, &mut events)?;
        if self.admin_timed_out(now, &mut events) {
            return Ok(events);
        }
        if matches!(self.screen, Screen::Result { .. } | Screen::MyData { .. } | Screen::ChangePin)
            && now >= self.result_until
        {
            if self.admin_active() {
                self.show_admin_menu(&mut events);
            } else {
                self.language = self.settings.gate.language;
                let idle = self.idle();
                self.show(idle, &mut events);
            }
        }
        match self.screen {
            Screen::Face { .. } => self.face_step(now, &mut events)?,
            Screen::Enrolling { .. } => self.enrol_step(now, &mut events)?,
            Screen::VisitorQr => self.qr_step(now, &mut events)?,
            _ => {}
        }
        Ok(events)
    }

    /// Decides on a checked credential, records it, drives the door and the screen.
    fn conclude(&mut self, checked: Checked, now: u64, events: &mut Vec<Event>) -> Result<()> {
        let unix = self.unix(now);
        let resident = match checked {
            Checked::Face(Some(id)) | Checked::Pin(Some(id)) | Checked::Card(Some(id)) => {
                self.store.resident_by_id(id).ok()
            }
            _ => None,
        };
        let pending = self.pending.take();
        let card_in_entry = checked.method() == Method::Card
            || pending.is_some_and(|p| p.first == Method::Card && p.expires_at > unix);
        let decision = decide(&self.settings.access, pending, checked, resident.as_ref(), unix);
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
                    let until = now + self.settings.gate.result_ms;
                    self.self_service = Some((r.number.clone(), until));
                    offer = self.own_offer(r.id, unix)?;
                    if card_in_entry && self.settings.gate.admins.contains(&r.number) {
                        self.admin_card = Some((r.number.clone(), until));
                        offer = Offer::Admin;
                    }
                }
                let who = resident.as_ref().map(|r| r.number.clone());
                let subject = resident.as_ref().map(|r| r.subject());
                events.push(Event::Decision {
                    method,
                    granted: true,
                    reason: None,
                    resident: who,
                    subject,
                });
                let name = resident
                    .as_ref()
                    .filter(|r| self.settings.gate.greet_by_name && !r.name.is_empty())
                    .map(|r| r.name.clone());
                self.show_result(true, Outcome::Welcome { name }, offer, now, events)
            }
            Decision::NeedSecondFactor(pending) => {
                self.pending = Some(pending);
                match pending.second {
                    Method::Face => self.open_camera(now, events),
                    Method::Card => {
                        self.show(Screen::Card, events);
                        Ok(())
                    }
                    Method::Pin => {
                        self.typed_number = resident.map(|r| r.number);
                        self.show(Screen::PinCode, events);
                        Ok(())
                    }
                }
            }
            Decision::Deny(reason) => {
                self.door.deny(now)?;
                if attempts::counts(reason) {
                    self.count_failure(method, now, events)?;
                }
                events.push(Event::Decision {
                    method,
                    granted: false,
                    reason: Some(reason),
                    resident: None,
                    subject: None,
                });
                let outcome = match reason {
                    DenyReason::LockedOut { seconds } => Outcome::LockedOut { seconds },
                    DenyReason::FaceNotRecognised => Outcome::FaceNotRecognised,
                    DenyReason::AccessNotValid => Outcome::AccessNotValid,
                    _ => Outcome::NotAccepted,
                };
                let offer = if method == Method::Face { Offer::PinOrCard } else { Offer::Nothing };
                self.show_result(false, outcome, offer, now, events)
            }
        }
    }

    /// An alarm for the admin menu (newest first; the caller audits it). The screen changes
    /// when the admin menu is open.
    fn alarm(&mut self, now: u64, what: &str, events: &mut Vec<Event>) {
        let at = crate::dates::format_time(self.unix(now));
        self.alarms.push_front(format!("{at}  {what}"));
        self.alarms.truncate(admin::ALARMS_SHOWN);
        if matches!(self.screen, Screen::Admin { .. }) {
            self.show_admin_menu(events);
        }
    }

    /// Shows the result screen with its outcome and offer, for the configured time.
    fn show_result(
        &mut self,
        granted: bool,
        outcome: Outcome,
        offer: Offer,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<()> {
        self.booked = None;
        self.result_until = now + self.settings.gate.result_ms;
        self.show(Screen::Result { granted, outcome, offer }, events);
        Ok(())
    }
}
