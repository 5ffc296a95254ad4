//! What residents do at the gate without an admin, on a manager's word given elsewhere:
//!
//! - **PIN reset**: "I have a reset code" on the PIN keypad or on "Change PIN" asks for the
//!   resident number, the one-time code a manager issued and the new PIN twice; the code is
//!   checked like a PIN (with lockout), the new PIN must not be weak, and the code works once.
//! - **Booked enrolment**: a resident with an enrolment booked for this door (or any door)
//!   gets "Enrol my face" after their own PIN or card; they read the notice, consent, and the
//!   frames are captured live with the door's liveness check (the admin enrolment's capture).
//!   The booking is then done. Without a booking, enrolment at the gate needs admin mode.

use super::{Action, Event, Gate, Offer, Outcome, Screen};
use crate::credentials::{Code, Pin, PinError};
use crate::door::DoorPort;
use crate::manage;
use crate::runtime::camera::FrameSource;
use crate::runtime::error::Result;
use crate::store::{BookingDone, StoreError};

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    /// Handles the PIN reset's and the booked enrolment's actions; returns false for others.
    pub(super) fn self_service_act(
        &mut self,
        action: &Action,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<bool> {
        match (action, self.screen.clone()) {
            (Action::StartPinReset, Screen::PinNumber | Screen::ChangePin) => {
                self.self_service = None;
                self.show(Screen::ResetPin, events);
            }
            (Action::ResetPin { number, code, new, repeat }, Screen::ResetPin) => {
                let outcome = self.reset_pin(number, code, new, repeat, now)?;
                let changed = outcome == Outcome::PinChanged;
                events.push(Event::PinChanged { changed });
                self.show_result(changed, outcome, Offer::Nothing, now, events)?;
            }
            (Action::EnrolBooked, Screen::Result { offer: Offer::Booked, .. }) => {
                let Some((number, _)) = self.self_service.take().filter(|s| now < s.1) else {
                    return Ok(true);
                };
                let resident = self.store.resident(&number)?;
                let unix = self.unix(now);
                let door = self.settings.door.as_ref();
                if let Some(booking) = self.store.booking_for(resident.id, door, unix)? {
                    self.booked = Some(booking.id);
                    let consent = self.consent_screen(number);
                    self.show(consent, events);
                }
            }
            (Action::Agree, Screen::Consent { number, .. }) if self.booked.is_some() => {
                self.start_capture(number, now, events)?;
            }
            (Action::Cancel, _) => {
                self.booked = None;
                return Ok(false);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// What a PIN reset at the gate comes to.
    fn reset_pin(
        &mut self,
        number: &str,
        code: &str,
        new: &str,
        repeat: &str,
        now: u64,
    ) -> Result<Outcome> {
        let rules = &self.settings.pin;
        let Ok(code) = Code::parse(code) else { return Ok(Outcome::NotAccepted) };
        let Ok(pin) = Pin::parse(new, rules) else { return Ok(Outcome::PinRejected) };
        if new != repeat {
            return Ok(Outcome::PinsDiffer);
        }
        let unix = self.unix(now);
        Ok(match manage::reset_pin_with_code(&mut self.store, rules, number, &code, &pin, unix) {
            Ok(true) => Outcome::PinChanged,
            Ok(false) => Outcome::NotAccepted,
            Err(StoreError::Pin(PinError::Weak(_))) => Outcome::PinRejected,
            Err(e) => return Err(e.into()),
        })
    }

    /// The offer after a resident's own PIN or card: "Enrol my face" too when an enrolment is
    /// booked for them here and the gate can enrol.
    pub(super) fn own_offer(&self, resident_id: i64, unix: i64) -> Result<Offer> {
        let can_enrol = self.faces.is_ok() && self.settings.notice.consent.check_complete().is_ok();
        let door = self.settings.door.as_ref();
        let booked = can_enrol && self.store.booking_for(resident_id, door, unix)?.is_some();
        Ok(if booked { Offer::Booked } else { Offer::MyData })
    }

    /// Who records a booked enrolment's consent, when the enrolment is a booked one.
    pub(super) fn booked_operator(&self) -> Option<String> {
        self.booked.map(|id| format!("resident at the gate (booking {id})"))
    }

    /// Marks the booked enrolment done after its template is stored.
    pub(super) fn booking_done(&mut self, unix: i64) -> Result<()> {
        if let Some(booking) = self.booked.take() {
            let door = self.settings.door.clone();
            self.store.complete_booking(&BookingDone { booking, door, at: unix })?;
        }
        Ok(())
    }
}
