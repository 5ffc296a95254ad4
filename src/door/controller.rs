//! The door state machine. Time comes in as milliseconds from the caller's clock, so tests run
//! on a simulated clock and the gate on a monotonic one.
//!
//! Locked → (grant or exit button) → Unlocked for `pulse_ms` → Locked when the door has opened
//! and closed again, or when the pulse ends. A door open longer than `held_open_ms` raises the
//! held-open alarm; a door opened while locked without grant or exit request raises the
//! forced-open alarm; a fire signal (an open supervised contact, or a closed normally-open one)
//! unlocks (if configured) until it clears.
//! The relay is set to locked on creation and on drop (also when a panic unwinds), and a
//! [`Watchdog`] locks it when ticks stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::gpio::{Gpio, Input, Output};
use super::{DoorConfig, DoorError, DoorPort};

/// How long the red LED and buzzer signal a refusal.
const DENY_SIGNAL_MS: u64 = 1_500;

/// What happened at the door, for the audit log and the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorEvent {
    Unlocked,
    ExitRequested,
    Relocked,
    DoorOpened,
    DoorClosed,
    HeldOpen,
    ForcedOpen,
    FireUnlocked,
    FireCleared,
}

/// An input's debounced level.
#[derive(Debug, Default)]
struct Debounced {
    stable: bool,
    candidate: bool,
    since: u64,
}

impl Debounced {
    /// Feeds a raw reading; returns the new stable level when it changed.
    fn update(&mut self, raw: bool, now: u64, debounce_ms: u64) -> Option<bool> {
        if raw != self.candidate {
            self.candidate = raw;
            self.since = now;
        }
        if self.candidate != self.stable && now.saturating_sub(self.since) >= debounce_ms {
            self.stable = self.candidate;
            return Some(self.stable);
        }
        None
    }
}

/// The controller; owns the door's outputs.
pub struct DoorController<G: Gpio> {
    gpio: G,
    config: DoorConfig,
    unlocked_until: Option<u64>,
    opened_while_unlocked: bool,
    fire: bool,
    open_since: Option<u64>,
    held_alarm: bool,
    forced_alarm: bool,
    deny_until: u64,
    contact: Debounced,
    exit: Debounced,
    fire_input: Debounced,
    last_tick: Arc<AtomicU64>,
    /// Whether a fire signal holds the door unlocked now, for the watchdog and the drop.
    fire_unlocking: Arc<AtomicBool>,
}

impl<G: Gpio> DoorController<G> {
    /// Takes the door over, locked.
    pub fn new(gpio: G, config: DoorConfig, now: u64) -> Result<Self, DoorError> {
        config.validate()?;
        let mut door = Self {
            gpio,
            config,
            unlocked_until: None,
            opened_while_unlocked: false,
            fire: false,
            open_since: None,
            held_alarm: false,
            forced_alarm: false,
            deny_until: 0,
            contact: Debounced::default(),
            exit: Debounced::default(),
            fire_input: Debounced::default(),
            last_tick: Arc::new(AtomicU64::new(now)),
            fire_unlocking: Arc::new(AtomicBool::new(false)),
        };
        door.apply(now)?;
        Ok(door)
    }

    /// Whether the strike is currently released.
    pub fn is_unlocked(&self) -> bool {
        self.unlocked_until.is_some() || (self.fire && self.config.fire_unlocks)
    }

    /// A credential was accepted: unlock for one pulse.
    pub fn grant(&mut self, now: u64) -> Result<(), DoorError> {
        self.unlocked_until = Some(now + self.config.pulse_ms);
        self.opened_while_unlocked = false;
        self.apply(now)
    }

    /// A credential was refused: red light and a beep, the door stays locked.
    pub fn deny(&mut self, now: u64) -> Result<(), DoorError> {
        self.deny_until = now + DENY_SIGNAL_MS;
        self.apply(now)
    }

    /// A watchdog for this controller (run `check` from another thread).
    pub fn watchdog(&self) -> Watchdog<G> {
        Watchdog {
            gpio: self.gpio.clone(),
            last_tick: Arc::clone(&self.last_tick),
            fire_unlocking: Arc::clone(&self.fire_unlocking),
            limit_ms: self.config.watchdog_ms,
            locked_level: self.config.locked_relay_energised(),
        }
    }

    /// Reads the inputs and advances the state machine to `now`.
    pub fn tick(&mut self, now: u64) -> Result<Vec<DoorEvent>, DoorError> {
        self.last_tick.store(now, Ordering::Relaxed);
        let debounce = self.config.debounce_ms;
        let mut events = Vec::new();
        let raw = (
            self.gpio.read(Input::DoorContact)?,
            self.gpio.read(Input::ExitButton)?,
            self.config.fire_signalled(self.gpio.read(Input::Fire)?),
        );

        if let Some(fire) = self.fire_input.update(raw.2, now, debounce) {
            self.fire = fire;
            events.push(if fire { DoorEvent::FireUnlocked } else { DoorEvent::FireCleared });
        }
        if self.exit.update(raw.1, now, debounce) == Some(true) {
            events.push(DoorEvent::ExitRequested);
            self.unlocked_until = Some(now + self.config.pulse_ms);
            self.opened_while_unlocked = false;
        }
        match self.contact.update(raw.0, now, debounce) {
            Some(true) => {
                events.push(DoorEvent::DoorOpened);
                self.open_since = Some(now);
                if self.is_unlocked() {
                    self.opened_while_unlocked = true;
                } else {
                    self.forced_alarm = true;
                    events.push(DoorEvent::ForcedOpen);
                }
            }
            Some(false) => {
                events.push(DoorEvent::DoorClosed);
                self.open_since = None;
                self.held_alarm = false;
                self.forced_alarm = false;
                if self.opened_while_unlocked && self.unlocked_until.take().is_some() {
                    events.push(DoorEvent::Relocked);
                }
            }
            None => {}
        }
        if self.unlocked_until.is_some_and(|until| now >= until) {
            self.unlocked_until = None;
            events.push(DoorEvent::Relocked);
        }
        let held = self
            .open_since
            .is_some_and(|since| now.saturating_sub(since) >= self.config.held_open_ms);
        if held && !self.held_alarm && !(self.fire && self.config.fire_unlocks) {
            self.held_alarm = true;
            events.push(DoorEvent::HeldOpen);
        }
        self.apply(now)?;
        Ok(events)
    }

    /// Sets every output from the state.
    fn apply(&mut self, now: u64) -> Result<(), DoorError> {
        let unlocked = self.is_unlocked();
        self.fire_unlocking.store(self.fire && self.config.fire_unlocks, Ordering::Relaxed);
        let locked_level = self.config.locked_relay_energised();
        let denying = now < self.deny_until;
        self.gpio.set(Output::Strike, if unlocked { !locked_level } else { locked_level })?;
        self.gpio.set(Output::GreenLed, unlocked)?;
        self.gpio.set(Output::RedLed, denying || self.held_alarm || self.forced_alarm)?;
        self.gpio.set(Output::Buzzer, denying || self.held_alarm || self.forced_alarm)
    }
}

impl<G: Gpio> Drop for DoorController<G> {
    /// Locks on shutdown and when a panic unwinds through the owner, except while a fire signal
    /// holds the door unlocked: an escape route stays open through a restart during a fire.
    fn drop(&mut self) {
        if self.fire_unlocking.load(Ordering::Relaxed) {
            return;
        }
        let _ = self.gpio.set(Output::Strike, self.config.locked_relay_energised());
        let _ = self.gpio.set(Output::GreenLed, false);
    }
}

impl<G: Gpio> DoorPort for DoorController<G> {
    fn grant(&mut self, now: u64) -> Result<(), DoorError> {
        DoorController::grant(self, now)
    }

    fn deny(&mut self, now: u64) -> Result<(), DoorError> {
        DoorController::deny(self, now)
    }

    fn poll(&mut self, now: u64) -> Result<Vec<DoorEvent>, DoorError> {
        self.tick(now)
    }
}

/// Locks the relay when the controller stops ticking (a hung loop must not leave the door open).
pub struct Watchdog<G: Gpio> {
    gpio: G,
    last_tick: Arc<AtomicU64>,
    fire_unlocking: Arc<AtomicBool>,
    limit_ms: u64,
    locked_level: bool,
}

impl<G: Gpio> Watchdog<G> {
    /// How often to check: four times within the limit.
    pub fn period(&self) -> std::time::Duration {
        std::time::Duration::from_millis((self.limit_ms / 4).max(10))
    }

    /// Whether the last tick is older than the limit at `now`.
    pub fn stale(&self, now: u64) -> bool {
        now.saturating_sub(self.last_tick.load(Ordering::Relaxed)) > self.limit_ms
    }

    /// Locks if the last tick is older than the limit at `now`, unless the door thread last saw
    /// a fire signal that unlocks the door: then it keeps the door unlocked. It reads no input
    /// itself (a read could hang as the door thread's did); a fire that starts after the stall
    /// unlocks when systemd has restarted the gate. Returns `Some(locked)` when stale.
    pub fn check(&mut self, now: u64) -> Option<bool> {
        if !self.stale(now) {
            return None;
        }
        let fire = self.fire_unlocking.load(Ordering::Relaxed);
        let _ = self.gpio.set(Output::Strike, self.locked_level != fire);
        let _ = self.gpio.set(Output::GreenLed, fire);
        Some(!fire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::door::{FireContact, LockType, SimGpio};

    fn door(config: DoorConfig) -> (SimGpio, DoorController<SimGpio>) {
        let sim = SimGpio::default();
        let controller = DoorController::new(sim.clone(), config, 0).unwrap();
        (sim, controller)
    }

    /// Ticks every 10 ms from `from` to `to`, collecting events.
    fn run(d: &mut DoorController<SimGpio>, from: u64, to: u64) -> Vec<DoorEvent> {
        (from..=to).step_by(10).flat_map(|t| d.tick(t).unwrap()).collect()
    }

    #[test]
    fn a_grant_unlocks_for_one_pulse() {
        let (sim, mut d) = door(DoorConfig::default());
        assert!(!sim.output(Output::Strike), "fail-secure strike starts released = locked");
        d.grant(1_000).unwrap();
        assert!(sim.output(Output::Strike) && sim.output(Output::GreenLed));
        assert!(run(&mut d, 1_000, 5_990).is_empty());
        assert!(sim.output(Output::Strike));
        assert_eq!(run(&mut d, 6_000, 6_000), vec![DoorEvent::Relocked]);
        assert!(!sim.output(Output::Strike));
    }

    #[test]
    fn the_door_relocks_as_soon_as_it_closes_after_opening() {
        let (sim, mut d) = door(DoorConfig::default());
        d.grant(0).unwrap();
        sim.drive(Input::DoorContact, true);
        assert_eq!(run(&mut d, 100, 200), vec![DoorEvent::DoorOpened]);
        sim.drive(Input::DoorContact, false);
        assert_eq!(run(&mut d, 1_000, 1_100), vec![DoorEvent::DoorClosed, DoorEvent::Relocked]);
        assert!(!sim.output(Output::Strike));
    }

    #[test]
    fn held_open_and_forced_open_alarms() {
        let (sim, mut d) = door(DoorConfig::default());
        d.grant(0).unwrap();
        sim.drive(Input::DoorContact, true);
        let events = run(&mut d, 0, 31_000);
        assert!(events.contains(&DoorEvent::HeldOpen));
        assert!(sim.output(Output::Buzzer) && !sim.output(Output::Strike));
        sim.drive(Input::DoorContact, false);
        run(&mut d, 31_010, 31_200);
        assert!(!sim.output(Output::Buzzer), "closing clears the alarm");

        sim.drive(Input::DoorContact, true);
        let events = run(&mut d, 40_000, 40_200);
        assert_eq!(events, vec![DoorEvent::DoorOpened, DoorEvent::ForcedOpen]);
        assert!(sim.output(Output::Buzzer) && sim.output(Output::RedLed));
    }

    #[test]
    fn the_exit_button_opens_without_a_credential() {
        let (sim, mut d) = door(DoorConfig::default());
        sim.drive(Input::ExitButton, true);
        assert_eq!(run(&mut d, 0, 100), vec![DoorEvent::ExitRequested]);
        assert!(sim.output(Output::Strike));
        sim.drive(Input::ExitButton, false);
        sim.drive(Input::DoorContact, true);
        assert_eq!(run(&mut d, 200, 300), vec![DoorEvent::DoorOpened], "no forced-open alarm");
    }

    fn fire_door(contact: FireContact) -> (SimGpio, DoorController<SimGpio>) {
        let sim = SimGpio::default();
        // The panel's contact as wired when all is well: closed for a supervised loop.
        sim.drive(Input::Fire, contact == FireContact::NormallyClosed);
        let config = DoorConfig {
            pins: crate::door::Pins { fire: Some(24), ..Default::default() },
            fire_contact: contact,
            ..Default::default()
        };
        let controller = DoorController::new(sim.clone(), config, 0).unwrap();
        (sim, controller)
    }

    #[test]
    fn fire_unlocks_while_active() {
        let (sim, mut d) = fire_door(FireContact::NormallyOpen);
        assert!(run(&mut d, 0, 100).is_empty());
        sim.drive(Input::Fire, true);
        assert_eq!(run(&mut d, 200, 300), vec![DoorEvent::FireUnlocked]);
        sim.drive(Input::DoorContact, true);
        let events = run(&mut d, 400, 60_000);
        assert!(!events.contains(&DoorEvent::ForcedOpen) && !events.contains(&DoorEvent::HeldOpen));
        assert!(sim.output(Output::Strike));
        sim.drive(Input::Fire, false);
        assert!(run(&mut d, 60_010, 60_200).contains(&DoorEvent::FireCleared));
        assert!(!sim.output(Output::Strike));
    }

    #[test]
    fn a_grant_neither_ends_a_fire_unlock_nor_silences_an_alarm() {
        // A remote unlock is a grant: fire and the alarms keep their precedence over it.
        let (sim, mut d) = fire_door(FireContact::NormallyOpen);
        sim.drive(Input::Fire, true);
        run(&mut d, 0, 100);
        d.grant(200).unwrap();
        run(&mut d, 200, 10_000);
        assert!(sim.output(Output::Strike), "still unlocked after the pulse: fire");
        sim.drive(Input::Fire, false);
        run(&mut d, 10_010, 10_200);

        sim.drive(Input::DoorContact, true);
        assert!(run(&mut d, 20_000, 20_200).contains(&DoorEvent::ForcedOpen));
        d.grant(20_300).unwrap();
        run(&mut d, 20_300, 20_500);
        assert!(sim.output(Output::Buzzer), "the forced-open alarm stays on");
        sim.drive(Input::DoorContact, false);
        run(&mut d, 20_510, 20_700);
        assert!(!sim.output(Output::Buzzer), "until the door closes");
    }

    #[test]
    fn a_supervised_fire_input_unlocks_on_a_cut_wire_and_not_on_a_short() {
        let (sim, mut d) = fire_door(FireContact::NormallyClosed);
        assert!(run(&mut d, 0, 500).is_empty(), "a closed loop is no fire");
        assert!(!sim.output(Output::Strike));
        // Shorting the two exposed wires closes the loop: it stays closed, the door locked.
        sim.drive(Input::Fire, true);
        assert!(run(&mut d, 600, 2_000).is_empty());
        assert!(!sim.output(Output::Strike), "a short does not unlock a supervised input");
        // The panel opens its contact on fire, and a cut wire reads the same: fail-safe.
        sim.drive(Input::Fire, false);
        assert_eq!(run(&mut d, 2_100, 2_300), vec![DoorEvent::FireUnlocked]);
        assert!(sim.output(Output::Strike), "an open loop (fire or cut wire) unlocks");
    }

    #[test]
    fn a_normally_open_fire_input_unlocks_on_a_short_and_not_on_a_cut_wire() {
        let (sim, mut d) = fire_door(FireContact::NormallyOpen);
        // A cut wire keeps the contact open: nothing happens, even if the panel signals fire.
        assert!(run(&mut d, 0, 2_000).is_empty());
        assert!(!sim.output(Output::Strike));
        sim.drive(Input::Fire, true);
        assert_eq!(run(&mut d, 2_100, 2_300), vec![DoorEvent::FireUnlocked]);
        assert!(sim.output(Output::Strike), "a short unlocks a normally-open input");
    }

    #[test]
    fn without_a_fire_pin_the_fire_input_is_ignored() {
        let (sim, mut d) = door(DoorConfig::default());
        sim.drive(Input::Fire, false);
        assert!(run(&mut d, 0, 1_000).is_empty(), "an unwired supervised input is no fire");
        assert!(!sim.output(Output::Strike));
    }

    #[test]
    fn a_short_glitch_is_debounced() {
        let (sim, mut d) = door(DoorConfig::default());
        sim.drive(Input::DoorContact, true);
        d.tick(0).unwrap();
        d.tick(20).unwrap();
        sim.drive(Input::DoorContact, false);
        assert!(run(&mut d, 30, 500).is_empty(), "a 20 ms glitch is no forced opening");
    }

    #[test]
    fn the_watchdog_relocks_when_ticks_stop() {
        let (sim, mut d) = door(DoorConfig::default());
        let mut dog = d.watchdog();
        d.grant(0).unwrap();
        d.tick(100).unwrap();
        assert_eq!(dog.check(1_000), None);
        assert!(sim.output(Output::Strike));
        assert_eq!(dog.check(2_200), Some(true), "no tick for 2.1 s: locked");
        assert!(!sim.output(Output::Strike));
    }

    #[test]
    fn a_panic_in_the_controller_thread_leaves_the_relay_locked() {
        let sim = SimGpio::default();
        let handle = sim.clone();
        let result = std::thread::spawn(move || {
            let mut d = DoorController::new(handle, DoorConfig::default(), 0).unwrap();
            d.grant(10).unwrap();
            assert!(d.is_unlocked());
            panic!("simulated bug while the door is unlocked");
        })
        .join();
        assert!(result.is_err());
        assert!(!sim.output(Output::Strike));
    }

    #[test]
    fn fail_safe_locks_by_energising() {
        let (sim, mut d) =
            door(DoorConfig { lock_type: LockType::FailSafe, ..DoorConfig::default() });
        assert!(sim.output(Output::Strike), "a maglock holds while powered");
        d.grant(0).unwrap();
        assert!(!sim.output(Output::Strike));
        drop(d);
        assert!(sim.output(Output::Strike), "locked again on shutdown while the process lives");
    }
}
