//! The door: strike relay, door contact, exit button, fire input, buzzer and LEDs, driven by a
//! state machine that fails secure.
//!
//! The hardware sits behind the [`Gpio`] trait: [`SimGpio`] on a PC and in tests, and
//! [`crate::pi::RppalGpio`] on a Raspberry Pi. Every real mode runs the controller on its own
//! thread ([`DoorThread`]), watched by its watchdog; the scripted simulation ticks it in line.

mod controller;
mod gpio;
mod thread;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use controller::{DoorController, DoorEvent, Watchdog};
pub use gpio::{Gpio, Input, Output, SimGpio};
pub use thread::DoorThread;

/// What the gate asks of its door. The controller itself implements it (the gate ticks it in
/// line, as the scripted simulation does on its simulated clock); a door on its own thread
/// implements it with a channel, so the door never waits for the gate.
pub trait DoorPort: Send {
    /// A credential was accepted: unlock for one pulse.
    fn grant(&mut self, now: u64) -> Result<(), DoorError>;
    /// A credential was refused: red light and a beep, the door stays locked.
    fn deny(&mut self, now: u64) -> Result<(), DoorError>;
    /// What happened at the door since the last call (advancing it to `now` where the caller
    /// drives its clock).
    fn poll(&mut self, now: u64) -> Result<Vec<DoorEvent>, DoorError>;
    /// Whether whatever ticks the door is still running (systemd's watchdog is fed only while
    /// it is). A door ticked in line by its caller is alive while its caller is.
    fn alive(&self) -> bool {
        true
    }
}

/// How the fire-alarm panel's contact is wired to the fire input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FireContact {
    /// Supervised (recommended): closed while all is well, open on fire. A cut wire reads as
    /// fire and unlocks (fail-safe for life safety); shorting the two wires does not unlock.
    #[default]
    NormallyClosed,
    /// Closed on fire. Shorting the two wires unlocks the door, and a cut wire silently keeps
    /// it locked in a fire: use only where the panel offers nothing else.
    NormallyOpen,
}

/// How the lock behaves without power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockType {
    /// Locked without power; powering the relay unlocks (electric strikes; the default).
    #[default]
    FailSecure,
    /// Unlocked without power; powering the relay locks (maglocks on escape routes, where fire
    /// codes require it). Such a door opens when the gate loses power or stops.
    FailSafe,
}

/// BCM pin numbers of the door's wiring.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Pins {
    pub strike: u8,
    pub buzzer: u8,
    pub green_led: u8,
    pub red_led: u8,
    pub door_contact: u8,
    pub exit_button: u8,
    /// Optional fire-alarm input (its wiring: `[door] fire_contact`).
    pub fire: Option<u8>,
}

impl Default for Pins {
    fn default() -> Self {
        Self {
            strike: 17,
            buzzer: 27,
            green_led: 22,
            red_led: 23,
            door_contact: 5,
            exit_button: 6,
            fire: None,
        }
    }
}

/// `[door]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DoorConfig {
    pub lock_type: LockType,
    /// Relay module input: `true` if a high pin energises the relay.
    pub relay_active_high: bool,
    /// How long a grant unlocks the strike, unless the door opens and closes sooner.
    pub pulse_ms: u64,
    /// A door open longer than this raises the held-open alarm.
    pub held_open_ms: u64,
    /// An input must be stable this long to count (contact bounce, noise).
    pub debounce_ms: u64,
    /// The fire input unlocks the door while active.
    pub fire_unlocks: bool,
    /// How the fire contact is wired (read only when `[door.pins] fire` is set).
    pub fire_contact: FireContact,
    /// The relay is locked when the controller has not ticked for this long.
    pub watchdog_ms: u64,
    /// The simulated door (`run --sim`) keeps its output levels in this file, so they outlive
    /// the process as a real GPIO's do. Unset: they live in memory only.
    pub sim_state: Option<PathBuf>,
    pub pins: Pins,
}

impl Default for DoorConfig {
    fn default() -> Self {
        Self {
            lock_type: LockType::FailSecure,
            relay_active_high: true,
            pulse_ms: 5_000,
            held_open_ms: 30_000,
            debounce_ms: 50,
            fire_unlocks: true,
            fire_contact: FireContact::NormallyClosed,
            watchdog_ms: 2_000,
            sim_state: None,
            pins: Pins::default(),
        }
    }
}

impl DoorConfig {
    /// Checks timings and pins (BCM 0–27, each used once).
    pub fn validate(&self) -> Result<(), DoorError> {
        let p = &self.pins;
        let mut used: Vec<(&str, u8)> = vec![
            ("strike", p.strike),
            ("buzzer", p.buzzer),
            ("green_led", p.green_led),
            ("red_led", p.red_led),
            ("door_contact", p.door_contact),
            ("exit_button", p.exit_button),
        ];
        used.extend(p.fire.map(|f| ("fire", f)));
        for (i, (name, pin)) in used.iter().enumerate() {
            if *pin > 27 {
                return Err(DoorError::Config(format!(
                    "[door.pins] {name} = {pin}: BCM pins are 0 to 27"
                )));
            }
            if let Some((other, _)) = used[..i].iter().find(|(_, q)| q == pin) {
                return Err(DoorError::Config(format!(
                    "[door.pins] {name} and {other} both use BCM {pin}"
                )));
            }
        }
        if !(200..=60_000).contains(&self.pulse_ms) {
            return Err(DoorError::Config(format!(
                "[door] pulse_ms = {}: use 200 to 60000",
                self.pulse_ms
            )));
        }
        if self.watchdog_ms < 200 || self.debounce_ms > 1_000 || self.held_open_ms < self.pulse_ms {
            return Err(DoorError::Config(
                "[door] watchdog_ms must be at least 200, debounce_ms at most 1000, held_open_ms at least pulse_ms".into(),
            ));
        }
        Ok(())
    }

    /// The relay level that keeps the door locked.
    pub fn locked_relay_energised(&self) -> bool {
        self.lock_type == LockType::FailSafe
    }

    /// Whether the fire input, read as `contact_closed`, signals fire. Never without a fire pin.
    pub fn fire_signalled(&self, contact_closed: bool) -> bool {
        self.pins.fire.is_some()
            && match self.fire_contact {
                FireContact::NormallyClosed => !contact_closed,
                FireContact::NormallyOpen => contact_closed,
            }
    }

    /// The simulated lines for `run --sim`: kept in `sim_state` when set.
    pub fn sim_gpio(&self) -> Result<SimGpio, DoorError> {
        match &self.sim_state {
            Some(path) => SimGpio::with_state_file(path),
            None => Ok(SimGpio::default()),
        }
    }
}

/// Door hardware and configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum DoorError {
    #[error("no GPIO on this machine ({0}): use the simulated door (`--sim`)")]
    NoGpio(String),
    #[error("GPIO pin {pin}: {reason}")]
    Pin { pin: u8, reason: String },
    #[error("{0}")]
    Config(String),
    #[error("the door's thread has stopped (the strike is locked): {0}")]
    Stopped(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_and_timing_mistakes_are_clear_errors() {
        assert!(DoorConfig::default().validate().is_ok());
        let twice =
            DoorConfig { pins: Pins { buzzer: 17, ..Pins::default() }, ..DoorConfig::default() };
        assert!(twice.validate().unwrap_err().to_string().contains("both use BCM 17"));
        let high = DoorConfig {
            pins: Pins { fire: Some(40), ..Pins::default() },
            ..DoorConfig::default()
        };
        assert!(high.validate().unwrap_err().to_string().contains("0 to 27"));
        assert!(DoorConfig { pulse_ms: 10, ..DoorConfig::default() }.validate().is_err());
    }
}
