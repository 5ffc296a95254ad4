//! Visitors at the gate: "Visitor" on the idle screen opens a keypad for the pass's code, with
//! "Show a QR code" beside it. The camera opens only after that tap, and closes after the read
//! or the face timeout (back to the keypad). A code opens only at its doors, in its window, for
//! its entries (`access::checks::use_visitor_code`, with the keypad's back-off).

use super::{Action, Event, Gate, Offer, Outcome, Screen};
use crate::access::checks::{PassCheck, use_visitor_code};
use crate::credentials::Code;
use crate::credentials::qr::read_code;
use crate::door::{DoorEvent, DoorPort};
use crate::runtime::camera::FrameSource;
use crate::runtime::error::Result;
use crate::store::PassRefusal;

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    /// Handles the visitor's actions; returns false for any other.
    pub(super) fn visitor_act(
        &mut self,
        action: &Action,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<bool> {
        match (action, &self.screen) {
            (Action::ChooseVisitor, Screen::Idle { .. }) => {
                self.show(Screen::VisitorCode, events);
            }
            (Action::ScanQr, Screen::VisitorCode) => {
                if self.start_camera(now, events)? {
                    self.show(Screen::VisitorQr, events);
                }
            }
            (Action::Digits(typed), Screen::VisitorCode) => {
                let code = Code::parse(typed).ok();
                self.visitor_code(code, now, events)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// One camera frame while reading a QR code.
    pub(super) fn qr_step(&mut self, now: u64, events: &mut Vec<Event>) -> Result<()> {
        if now.saturating_sub(self.face_started) >= self.settings.gate.face_timeout_ms {
            self.close_camera(events);
            self.show(Screen::VisitorCode, events);
            return Ok(());
        }
        let Some(frame) = self.next_frame(now, events)? else { return Ok(()) };
        if let Some(code) = read_code(&frame) {
            self.close_camera(events);
            self.visitor_code(Some(code), now, events)?;
        }
        Ok(())
    }

    /// Checks a visitor's code (`None`: not a code at all) and opens the door or says no.
    fn visitor_code(
        &mut self,
        code: Option<Code>,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<()> {
        let check = match code {
            Some(code) => {
                let (rules, door, unix) =
                    (&self.settings.pin, self.settings.door.as_ref(), self.unix(now));
                use_visitor_code(&mut self.store, rules, &code, door, unix)?
            }
            None => PassCheck::Refused(PassRefusal::Unknown),
        };
        let (granted, refusal, subject, outcome) = match check {
            PassCheck::Opened { used, .. } => {
                let subject = format!("visitor-pass#{}", used.pass);
                (true, None, Some(subject), Outcome::VisitorWelcome)
            }
            PassCheck::Refused(refusal) => (false, Some(refusal), None, Outcome::NotAccepted),
            PassCheck::Locked(seconds) => (false, None, None, Outcome::LockedOut { seconds }),
        };
        if granted {
            self.door.grant(now)?;
            events.push(Event::Door { what: format!("{:?}", DoorEvent::Unlocked) });
        } else {
            self.door.deny(now)?;
        }
        events.push(Event::VisitorPass { granted, refusal, subject });
        self.show_result(granted, outcome, Offer::Nothing, now, events)
    }
}
