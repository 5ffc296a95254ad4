//! Admin mode at the gate, for a manager or caretaker listed in `[gate] admins`, after two
//! factors: their own card, then their admin PIN (separate from their door PIN, at least six
//! digits). There: enrol a resident's face (the resident proves themselves with their own PIN
//! or card, reads and confirms the notice, then a guided capture with the door's passive
//! liveness, frames that must show one face, and a duplicate check), delete a resident's face
//! data, add a card by tapping it, reset a PIN, lift a lockout, and see the latest door alarms.
//! Every change is audited with the admin's number.

use super::{Action, AdminTask, Event, Gate, Offer, Outcome, Screen};
use crate::access::Checked;
use crate::access::checks::{check_admin_pin, check_card, check_pin};
use crate::credentials::{Pin, PinError};
use crate::door::DoorPort;
use crate::manage::{self, Lockout};
use crate::runtime::camera::FrameSource;
use crate::runtime::error::Result;
use crate::store::consent::notice;
use crate::store::{AuditKind, Chain, ConsentGrant, StoreError};
use crate::vision::engine::uses_passive;
use crate::vision::liveness::active::Progress;

/// An admin at the gate, and when admin mode ends without a tap.
pub(super) struct AdminSession {
    operator: String,
    until: u64,
    /// The resident an enrolment is for, while they prove themselves with their PIN or card.
    proving: Option<String>,
}

/// How long an admin has to type their admin PIN after tapping "Admin mode".
const ADMIN_PIN_MS: u64 = 30_000;

/// Door alarms kept for the admin menu.
pub(super) const ALARMS_SHOWN: usize = 5;

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    /// Handles an action while admin mode is on. Returns false when the action is not an admin
    /// one (a card tapped at the menu is someone's access attempt: admin mode ends).
    pub(super) fn admin_act(
        &mut self,
        action: &Action,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<bool> {
        let Some(session) = self.admin.as_mut() else { return Ok(false) };
        session.until = now + self.settings.gate.admin_timeout_ms;
        match (action, self.screen.clone()) {
            (Action::Cancel, Screen::Admin { .. }) => self.end_admin(events),
            (Action::Cancel, _) => {
                self.close_camera(events);
                self.enrolment.clear();
                if let Some(session) = self.admin.as_mut() {
                    session.proving = None;
                }
                self.show_admin_menu(events);
            }
            (Action::AdminTask(task), Screen::Admin { .. }) => {
                self.show(Screen::AdminNumber { task: *task }, events);
            }
            (Action::Digits(number), Screen::AdminNumber { task }) => {
                self.admin_task(task, number, now, events)?;
            }
            (Action::Agree, Screen::Consent { number, .. }) => {
                self.start_capture(number, now, events)?;
            }
            (Action::Card(uid), Screen::AdminCard { number }) => {
                let operator = self.operator();
                let unix = self.unix(now);
                let outcome =
                    match manage::add_card(&mut self.store, &number, uid, "", unix, &operator) {
                        Ok(_) => Outcome::CardAdded { number },
                        Err(StoreError::CardTaken) => Outcome::CardAlreadyRegistered,
                        Err(e) => return Err(e.into()),
                    };
                let added = matches!(outcome, Outcome::CardAdded { .. });
                self.show_result(added, outcome, Offer::Nothing, now, events)?;
            }
            (Action::Digits(typed), Screen::AdminPin { number }) => {
                let outcome = match Pin::parse(typed, &self.settings.pin) {
                    Ok(pin) => {
                        let (operator, unix) = (self.operator(), self.unix(now));
                        let rules = &self.settings.pin;
                        match manage::set_pin(
                            &mut self.store,
                            rules,
                            &number,
                            &pin,
                            unix,
                            &operator,
                        ) {
                            Ok(()) => Outcome::PinReset { number },
                            Err(StoreError::Pin(PinError::Weak(_))) => Outcome::PinRejected,
                            Err(e) => return Err(e.into()),
                        }
                    }
                    Err(_) => Outcome::PinRejected,
                };
                let reset = matches!(outcome, Outcome::PinReset { .. });
                self.show_result(reset, outcome, Offer::Nothing, now, events)?;
            }
            (Action::Digits(typed), Screen::PinCode) => {
                let Some(number) = self.admin.as_mut().and_then(|a| a.proving.clone()) else {
                    return Ok(true);
                };
                let checked = match Pin::parse(typed, &self.settings.pin) {
                    Ok(pin) => {
                        check_pin(&self.store, &self.settings.pin, &number, &pin, self.unix(now))?
                    }
                    Err(_) => Checked::Pin(None),
                };
                self.resident_proved(checked, now, events)?;
            }
            (Action::Card(uid), Screen::PinCode) if session_proving(self) => {
                let checked = check_card(&self.store, uid)?;
                self.resident_proved(checked, now, events)?;
            }
            (Action::Card(_), _) => {
                self.end_admin(events);
                return Ok(false);
            }
            (Action::SwitchLanguage, _) => return Ok(false),
            _ => {}
        }
        Ok(true)
    }

    /// "Admin mode" after an admin's card: the keypad for their admin PIN.
    pub(super) fn ask_admin_pin(&mut self, number: String, now: u64, events: &mut Vec<Event>) {
        self.admin_login = Some((number, now + ADMIN_PIN_MS));
        self.show(Screen::PinCode, events);
    }

    /// The admin PIN typed after "Admin mode": right in time opens admin mode; wrong counts
    /// against the admin's own lock and the keypad's, like any PIN.
    pub(super) fn admin_pin_typed(
        &mut self,
        (number, until): (String, u64),
        typed: &str,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<()> {
        let unix = self.unix(now);
        let admin = self.store.resident(&number)?;
        let checked = match Pin::parse(typed, &self.settings.pin) {
            Ok(pin) if now < until => {
                check_admin_pin(&self.store, &self.settings.pin, &admin, &pin, unix)?
            }
            _ => Checked::Pin(None),
        };
        let (kind, detail, outcome) = match checked {
            Checked::Pin(Some(_)) => (AuditKind::FirstFactorOk, "admin mode opened", None),
            Checked::Locked(_, seconds) => {
                (AuditKind::AccessDenied, "admin PIN: locked", Some(Outcome::LockedOut { seconds }))
            }
            _ => (AuditKind::AccessDenied, "admin PIN: not accepted", Some(Outcome::NotAccepted)),
        };
        self.store.audit(Chain::Admin, unix, kind, &admin.subject(), detail)?;
        match outcome {
            None => {
                let until = now + self.settings.gate.admin_timeout_ms;
                self.admin = Some(AdminSession { operator: number, until, proving: None });
                self.show_admin_menu(events);
                Ok(())
            }
            Some(outcome) => self.show_result(false, outcome, Offer::Nothing, now, events),
        }
    }

    /// The resident an enrolment is for has typed their PIN or tapped their card: their own
    /// opens the consent screen, anything else ends the enrolment.
    fn resident_proved(
        &mut self,
        checked: Checked,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<()> {
        let Some(number) = self.admin.as_mut().and_then(|a| a.proving.take()) else {
            return Ok(());
        };
        let own = self.store.resident(&number)?.id;
        match checked {
            Checked::Pin(Some(id)) | Checked::Card(Some(id)) if id == own => {
                let consent = self.consent_screen(number);
                self.show(consent, events);
                Ok(())
            }
            Checked::Locked(_, seconds) => {
                self.show_result(false, Outcome::LockedOut { seconds }, Offer::Nothing, now, events)
            }
            _ => self.show_result(false, Outcome::NotAccepted, Offer::Nothing, now, events),
        }
    }

    /// After the consent: the camera opens and the guided capture of the resident's frames
    /// begins (in admin mode, or for a booked enrolment).
    pub(super) fn start_capture(
        &mut self,
        number: String,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<()> {
        if !self.start_camera(now, events)? {
            return Ok(());
        }
        self.enrolment.clear();
        self.challenge = None;
        let needed = self.settings.gate.enrol_frames;
        let enrolling =
            Screen::Enrolling { number, captured: 0, needed, guidance: None, prompt: None };
        self.show(enrolling, events);
        Ok(())
    }

    /// Ends admin mode after its timeout; returns whether it did.
    pub(super) fn admin_timed_out(&mut self, now: u64, events: &mut Vec<Event>) -> bool {
        let expired = self.admin.as_ref().is_some_and(|a| now >= a.until);
        if expired {
            self.end_admin(events);
        }
        expired
    }

    pub(super) fn admin_active(&self) -> bool {
        self.admin.is_some()
    }

    pub(super) fn show_admin_menu(&mut self, events: &mut Vec<Event>) {
        let alarms = self.alarms.iter().cloned().collect();
        self.show(Screen::Admin { alarms }, events);
    }

    /// The consent notice in the screen's language (it changes with the language switch).
    pub(super) fn consent_screen(&self, number: String) -> Screen {
        let notice = notice(self.language, &self.settings.notice);
        Screen::Consent { number, notice }
    }

    /// One frame of the guided capture: a frame that passes the quality gate counts. Every
    /// frame passes the passive check where the door uses one; where it uses the head-turn
    /// challenge, the resident performs it after the frames are captured, and the frontal frame
    /// they come back to joins the frames that must all show the same face.
    pub(super) fn enrol_step(&mut self, now: u64, events: &mut Vec<Event>) -> Result<()> {
        let Screen::Enrolling { ref number, needed, .. } = self.screen else { return Ok(()) };
        let number = number.clone();
        if now.saturating_sub(self.face_started) >= self.settings.gate.face_timeout_ms {
            self.close_camera(events);
            self.enrolment.clear();
            self.challenge = None;
            return self.show_result(
                false,
                Outcome::EnrolmentTimedOut,
                Offer::Nothing,
                now,
                events,
            );
        }
        let Some(frame) = self.next_frame(now, events)? else { return Ok(()) };
        let Ok(faces) = self.faces.as_mut() else { return Ok(()) };
        let result = faces.process(&frame)?;
        let liveness = &self.settings.liveness;
        if result.probe.is_ok()
            && uses_passive(liveness.mode)
            && !result.liveness.is_some_and(|score| score >= liveness.threshold)
        {
            return self.enrolment_not_live(now, events);
        }
        if self.enrolment.len() < needed {
            let guidance = match result.probe {
                Ok(embedding) => {
                    self.enrolment.push(embedding);
                    None
                }
                Err(issue) => Some(issue),
            };
            let captured = self.enrolment.len();
            self.challenge = if captured == needed { self.head_turn() } else { None };
            if captured < needed || self.challenge.is_some() {
                let prompt = None;
                self.show(Screen::Enrolling { number, captured, needed, guidance, prompt }, events);
                return Ok(());
            }
        } else if let Some(active) = self.challenge.as_mut() {
            if let Some(face) = &result.face {
                active.challenge.push(now as f32 / 1000.0, &face.landmarks, face.score);
            }
            match (active.challenge.progress(), result.probe) {
                (Progress::Failed(_), _) => return self.enrolment_not_live(now, events),
                (Progress::Passed, Ok(back)) => {
                    self.challenge = None;
                    self.enrolment.push(back);
                }
                (_, probe) => {
                    let prompt = active.challenge.prompt();
                    let guidance = probe.err();
                    let captured = needed;
                    let screen = Screen::Enrolling { number, captured, needed, guidance, prompt };
                    self.show(screen, events);
                    return Ok(());
                }
            }
        }
        self.close_camera(events);
        let fused = manage::fuse_same_face(&self.enrolment, self.settings.matching.threshold);
        self.enrolment.clear();
        let fused = match fused {
            Ok(fused) => fused,
            Err(_) => {
                let outcome = Outcome::EnrolmentFramesDiffer;
                return self.show_result(false, outcome, Offer::Nothing, now, events);
            }
        };
        let operator = self.booked_operator().unwrap_or_else(|| self.operator());
        let grant = ConsentGrant::read(self.language, &self.settings.notice, &operator, None)?;
        let unix = self.unix(now);
        let minor_age = self.settings.notice.consent.minor_age;
        let duplicate = Some(self.settings.matching.threshold);
        let store = &mut self.store;
        let enrolled =
            manage::enrol_face(store, &number, &fused, Some(&grant), minor_age, duplicate, unix);
        let outcome = match enrolled {
            Ok(_) => {
                self.booking_done(unix)?;
                Outcome::Enrolled { number }
            }
            Err(StoreError::GuardianConsentRequired(_)) => Outcome::GuardianConsentNeeded,
            Err(StoreError::FaceAlreadyEnrolled { score, .. }) => {
                Outcome::FaceAlreadyEnrolled { score: format!("{score:.3}") }
            }
            Err(e) => return Err(e.into()),
        };
        self.reload_gallery(now)?;
        let enrolled = matches!(outcome, Outcome::Enrolled { .. });
        self.show_result(enrolled, outcome, Offer::Nothing, now, events)
    }

    fn enrolment_not_live(&mut self, now: u64, events: &mut Vec<Event>) -> Result<()> {
        self.close_camera(events);
        self.enrolment.clear();
        self.challenge = None;
        self.show_result(false, Outcome::NotLive, Offer::Nothing, now, events)
    }

    fn admin_task(
        &mut self,
        task: AdminTask,
        number: &str,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<()> {
        if self.store.find_resident(number)?.is_none() {
            return self.show_result(false, Outcome::UnknownResident, Offer::Nothing, now, events);
        }
        let number = number.to_owned();
        let unix = self.unix(now);
        match task {
            AdminTask::EnrolFace if self.settings.notice.consent.check_complete().is_err() => {
                tracing::warn!("{}", StoreError::NoticeIncomplete);
                self.show_result(false, Outcome::FaceUnavailable, Offer::Nothing, now, events)?;
            }
            AdminTask::EnrolFace if self.faces.is_err() => {
                self.show_result(false, Outcome::FaceUnavailable, Offer::Nothing, now, events)?;
            }
            AdminTask::EnrolFace => {
                if let Some(session) = self.admin.as_mut() {
                    session.proving = Some(number);
                }
                self.show(Screen::PinCode, events);
            }
            AdminTask::DeleteFace => {
                let operator = self.operator();
                let templates =
                    manage::delete_face_data(&mut self.store, &number, unix, &operator)?;
                self.reload_gallery(now)?;
                let outcome = Outcome::TemplatesDeleted { number, templates };
                self.show_result(true, outcome, Offer::Nothing, now, events)?;
            }
            AdminTask::AddCard => self.show(Screen::AdminCard { number }, events),
            AdminTask::ResetPin => self.show(Screen::AdminPin { number }, events),
            AdminTask::LiftLockout => {
                let operator = self.operator();
                let lockout = Lockout::Resident(&number);
                let was_locked = manage::lift_lockout(&mut self.store, lockout, unix, &operator)?;
                let outcome = Outcome::LockoutLifted { number, was_locked };
                self.show_result(true, outcome, Offer::Nothing, now, events)?;
            }
        }
        Ok(())
    }

    fn end_admin(&mut self, events: &mut Vec<Event>) {
        self.close_camera(events);
        self.enrolment.clear();
        self.admin = None;
        let idle = self.idle();
        self.show(idle, events);
    }

    fn operator(&self) -> String {
        let number = self.admin.as_ref().map_or("?", |a| a.operator.as_str());
        format!("admin {number} at the gate")
    }
}

/// Whether an enrolment waits for its resident's PIN or card.
fn session_proving<C: FrameSource, D: DoorPort>(gate: &Gate<C, D>) -> bool {
    gate.admin.as_ref().is_some_and(|a| a.proving.is_some())
}
