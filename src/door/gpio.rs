//! The GPIO seam and the simulated GPIO.

use std::sync::{Arc, Mutex};

use super::DoorError;

/// A line the gate drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Strike,
    Buzzer,
    GreenLed,
    RedLed,
}

/// A line the gate reads. `true` means active: door open, button pressed, fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    DoorContact,
    ExitButton,
    Fire,
}

/// Door hardware. Clones share the same lines (the watchdog holds one).
pub trait Gpio: Send + Clone + 'static {
    /// Energises (`true`) or releases an output.
    fn set(&mut self, line: Output, on: bool) -> Result<(), DoorError>;
    /// Whether an input is active.
    fn read(&mut self, line: Input) -> Result<bool, DoorError>;
}

#[derive(Debug, Default)]
struct SimLines {
    strike: bool,
    buzzer: bool,
    green: bool,
    red: bool,
    door_open: bool,
    exit_pressed: bool,
    fire: bool,
}

/// Simulated lines: tests and the simulator's side panel read the outputs and drive the inputs.
#[derive(Debug, Clone, Default)]
pub struct SimGpio(Arc<Mutex<SimLines>>);

impl SimGpio {
    fn lines(&self) -> std::sync::MutexGuard<'_, SimLines> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether an output is energised.
    pub fn output(&self, line: Output) -> bool {
        let l = self.lines();
        match line {
            Output::Strike => l.strike,
            Output::Buzzer => l.buzzer,
            Output::GreenLed => l.green,
            Output::RedLed => l.red,
        }
    }

    /// Sets an input.
    pub fn drive(&self, line: Input, active: bool) {
        let mut l = self.lines();
        match line {
            Input::DoorContact => l.door_open = active,
            Input::ExitButton => l.exit_pressed = active,
            Input::Fire => l.fire = active,
        }
    }
}

impl Gpio for SimGpio {
    fn set(&mut self, line: Output, on: bool) -> Result<(), DoorError> {
        let mut l = self.lines();
        match line {
            Output::Strike => l.strike = on,
            Output::Buzzer => l.buzzer = on,
            Output::GreenLed => l.green = on,
            Output::RedLed => l.red = on,
        }
        Ok(())
    }

    fn read(&mut self, line: Input) -> Result<bool, DoorError> {
        let l = self.lines();
        Ok(match line {
            Input::DoorContact => l.door_open,
            Input::ExitButton => l.exit_pressed,
            Input::Fire => l.fire,
        })
    }
}
