//! Scripted (or typed) scenarios against a simulated gate, one command per line:
//!
//! ```text
//! at 1500            # the clock moves to 1500 ms, ticking every 100 ms on the way
//! tap face|pin|card|cancel|mydata|delete|language|admin|agree
//! tap visitor|qr|resetcode|enrol  # Visitor, Show a QR code, I have a reset code, Enrol my face
//! admin enrol|delete|card|pin|unlock   # a task on the admin menu
//! type 1201          # digits on the keypad, confirmed
//! newpin 2580 864200 # on "My data": change the PIN from the first to the second
//! resetpin 1201 CODE 4826 4826   # "I have a reset code": number, code, the new PIN twice
//! card 0004512345    # a card on the reader (or hex:UID)
//! show photo.jpg     # a person in front of the camera (path relative to the script); `show nobody`
//! camera unplug|plug # the camera pulled from its port (fails to open, or mid-session)
//! door open|closed   # the door contact
//! exit press|release # the exit button
//! fire closed|open   # the fire panel's contact (which level means fire: `[door] fire_contact`)
//! ```
//!
//! Every event is returned with its time, so a runner can print JSON lines. The scripted runs
//! tick the door in line on the simulated clock (deterministic); the interactive and desktop
//! simulators give it its own thread on the real clock ([`crate::door::DoorThread`]).

use std::path::{Path, PathBuf};

use super::camera::PhotoCamera;
use super::error::{GateError, Result};
use super::gate::{Action, AdminTask, Event, Gate};
use crate::door::{DoorController, DoorPort, Input, SimGpio};

/// Ticks of the simulated clock.
const TICK_MS: u64 = 100;

/// A simulated gate and its clock.
pub struct Simulation<D: DoorPort = DoorController<SimGpio>> {
    pub gate: Gate<PhotoCamera, D>,
    pub gpio: SimGpio,
    pub now: u64,
    base: PathBuf,
}

impl<D: DoorPort> Simulation<D> {
    /// `base`: the folder photo paths are relative to.
    pub fn new(gate: Gate<PhotoCamera, D>, gpio: SimGpio, base: &Path) -> Self {
        Self { gate, gpio, now: 0, base: base.to_owned() }
    }

    /// Runs one command line; returns the events with their times.
    pub fn run_line(&mut self, line: &str) -> Result<Vec<(u64, Event)>> {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        let (Some(verb), arg) = (words.next(), words.next()) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        let action = match (verb, arg) {
            ("at", Some(t)) => {
                let target: u64 =
                    t.parse().map_err(|_| script_error(line, "`at` takes milliseconds"))?;
                while self.now < target {
                    self.now = (self.now + TICK_MS).min(target);
                    out.extend(self.gate.tick(self.now)?.into_iter().map(|e| (self.now, e)));
                }
                return Ok(out);
            }
            ("tap", Some("face")) => Action::ChooseFace,
            ("tap", Some("pin")) => Action::ChoosePin,
            ("tap", Some("card")) => Action::ChooseCard,
            ("tap", Some("cancel")) => Action::Cancel,
            ("tap", Some("mydata")) => Action::MyData,
            ("tap", Some("changepin")) => Action::StartPinChange,
            ("tap", Some("delete")) => Action::DeleteMyFaceData,
            ("tap", Some("language")) => Action::SwitchLanguage,
            ("tap", Some("admin")) => Action::Admin,
            ("tap", Some("agree")) => Action::Agree,
            ("tap", Some("visitor")) => Action::ChooseVisitor,
            ("tap", Some("qr")) => Action::ScanQr,
            ("tap", Some("resetcode")) => Action::StartPinReset,
            ("tap", Some("enrol")) => Action::EnrolBooked,
            ("admin", Some(task)) => Action::AdminTask(match task {
                "enrol" => AdminTask::EnrolFace,
                "delete" => AdminTask::DeleteFace,
                "card" => AdminTask::AddCard,
                "pin" => AdminTask::ResetPin,
                "unlock" => AdminTask::LiftLockout,
                _ => return Err(script_error(line, "unknown admin task")),
            }),
            ("type", Some(digits)) => Action::Digits(digits.to_owned()),
            ("newpin", Some(old)) => Action::ChangePin {
                old: old.to_owned(),
                new: words.next().unwrap_or_default().to_owned(),
            },
            ("resetpin", Some(number)) => {
                let mut next = || words.next().unwrap_or_default().to_owned();
                let (code, new, repeat) = (next(), next(), next());
                Action::ResetPin { number: number.to_owned(), code, new, repeat }
            }
            ("card", Some(number)) => Action::Card(number.parse()?),
            ("show", Some("nobody")) => {
                self.gate.camera_mut().show(None);
                return Ok(out);
            }
            ("show", Some(photo)) => {
                self.gate.camera_mut().show(Some(self.base.join(photo)));
                return Ok(out);
            }
            ("camera", Some(state @ ("unplug" | "plug"))) => {
                self.gate.camera_mut().unplug(state == "unplug");
                return Ok(out);
            }
            ("door", Some(state @ ("open" | "closed"))) => {
                return self.drive(Input::DoorContact, state == "open");
            }
            ("exit", Some(state @ ("press" | "release"))) => {
                return self.drive(Input::ExitButton, state == "press");
            }
            ("fire", Some(state @ ("closed" | "open"))) => {
                return self.drive(Input::Fire, state == "closed");
            }
            _ => return Err(script_error(line, "unknown command")),
        };
        Ok(self.gate.act(action, self.now)?.into_iter().map(|e| (self.now, e)).collect())
    }

    fn drive(&mut self, input: Input, active: bool) -> Result<Vec<(u64, Event)>> {
        self.gpio.drive(input, active);
        Ok(Vec::new())
    }
}

fn script_error(line: &str, reason: &str) -> GateError {
    GateError::Script { line: line.to_owned(), reason: reason.to_owned() }
}
