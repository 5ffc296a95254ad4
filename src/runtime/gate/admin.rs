//! Admin mode at the gate, for a manager or caretaker listed in `[gate] admins` after their own
//! PIN or card: enrol a resident's face (the resident reads and confirms the notice, then a
//! guided capture), delete a resident's face data, add a card by tapping it, reset a PIN, lift a
//! lockout, and see the latest door alarms. Every change is audited with the admin's number.

use super::{Action, AdminTask, Event, Gate, Offer, Outcome, Screen};
use crate::credentials::Pin;
use crate::door::DoorPort;
use crate::manage::{self, Lockout};
use crate::runtime::camera::FrameSource;
use crate::runtime::error::Result;
use crate::store::consent::notice;
use crate::store::{ConsentGrant, StoreError};
use crate::vision::Embedding;

/// An admin at the gate, and when admin mode ends without a tap.
pub(super) struct AdminSession {
    operator: String,
    until: u64,
}

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
                self.show_admin_menu(events);
            }
            (Action::AdminTask(task), Screen::Admin { .. }) => {
                self.show(Screen::AdminNumber { task: *task }, events);
            }
            (Action::Digits(number), Screen::AdminNumber { task }) => {
                self.admin_task(task, number, now, events)?;
            }
            (Action::Agree, Screen::Consent { number, .. }) => {
                if !self.start_camera(now, events)? {
                    return Ok(true);
                }
                self.enrolment.clear();
                let needed = self.settings.gate.enrol_frames;
                let enrolling = Screen::Enrolling { number, captured: 0, needed, guidance: None };
                self.show(enrolling, events);
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
                        manage::set_pin(&mut self.store, rules, &number, &pin, unix, &operator)?;
                        Outcome::PinReset { number }
                    }
                    Err(_) => Outcome::PinRejected,
                };
                let reset = matches!(outcome, Outcome::PinReset { .. });
                self.show_result(reset, outcome, Offer::Nothing, now, events)?;
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

    /// Starts admin mode for the admin who has just opened the door with PIN or card.
    pub(super) fn start_admin(&mut self, number: String, now: u64, events: &mut Vec<Event>) {
        let until = now + self.settings.gate.admin_timeout_ms;
        self.admin = Some(AdminSession { operator: number, until });
        self.show_admin_menu(events);
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

    /// One frame of the guided capture: a frame that passes the quality gate counts.
    pub(super) fn enrol_step(&mut self, now: u64, events: &mut Vec<Event>) -> Result<()> {
        let Screen::Enrolling { ref number, needed, .. } = self.screen else { return Ok(()) };
        let number = number.clone();
        if now.saturating_sub(self.face_started) >= self.settings.gate.face_timeout_ms {
            self.close_camera(events);
            self.enrolment.clear();
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
        let guidance = match faces.process(&frame)?.probe {
            Ok(embedding) => {
                self.enrolment.push(embedding);
                None
            }
            Err(issue) => Some(issue),
        };
        let captured = self.enrolment.len();
        if captured < needed {
            self.show(Screen::Enrolling { number, captured, needed, guidance }, events);
            return Ok(());
        }
        self.close_camera(events);
        let fused = Embedding::mean(&self.enrolment);
        self.enrolment.clear();
        let Some(fused) = fused else { return Ok(()) };
        let grant =
            ConsentGrant::read(self.language, &self.settings.notice, &self.operator(), None)?;
        let unix = self.unix(now);
        let minor_age = self.settings.notice.consent.minor_age;
        let store = &mut self.store;
        let outcome =
            match manage::enrol_face(store, &number, &fused, Some(&grant), minor_age, unix) {
                Ok(_) => Outcome::Enrolled { number },
                Err(StoreError::GuardianConsentRequired(_)) => Outcome::GuardianConsentNeeded,
                Err(e) => return Err(e.into()),
            };
        self.gallery = self.store.gallery(unix)?;
        let enrolled = matches!(outcome, Outcome::Enrolled { .. });
        self.show_result(enrolled, outcome, Offer::Nothing, now, events)
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
                let consent = self.consent_screen(number);
                self.show(consent, events);
            }
            AdminTask::DeleteFace => {
                let operator = self.operator();
                let templates =
                    manage::delete_face_data(&mut self.store, &number, unix, &operator)?;
                self.gallery = self.store.gallery(unix)?;
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
