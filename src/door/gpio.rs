//! The GPIO seam and the simulated GPIO. A simulated GPIO can keep its output levels in a file,
//! so that they outlive the process as a real GPIO output does (a killed gate leaves its lines
//! where they were; the next start must drive them locked).

use std::path::{Path, PathBuf};
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

/// A line the gate reads. `true` means: door open, button pressed, fire contact closed (what
/// a closed fire contact means depends on its wiring, `[door] fire_contact`).
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
    fire_closed: bool,
}

impl SimLines {
    fn output(&mut self, line: Output) -> &mut bool {
        match line {
            Output::Strike => &mut self.strike,
            Output::Buzzer => &mut self.buzzer,
            Output::GreenLed => &mut self.green,
            Output::RedLed => &mut self.red,
        }
    }

    /// The outputs as the state file holds them: `strike=1` is an energised strike relay.
    fn state_text(&self) -> String {
        let bit = |on: bool| u8::from(on);
        format!(
            "strike={}\nbuzzer={}\ngreen_led={}\nred_led={}\n",
            bit(self.strike),
            bit(self.buzzer),
            bit(self.green),
            bit(self.red)
        )
    }
}

/// Simulated lines: tests and the simulator's side panel read the outputs and drive the inputs.
#[derive(Debug, Clone, Default)]
pub struct SimGpio {
    lines: Arc<Mutex<SimLines>>,
    state_file: Option<Arc<PathBuf>>,
}

impl SimGpio {
    /// Simulated lines whose outputs are kept in `path` (`[door] sim_state`): they start as the
    /// file says, as a real GPIO's outputs stay where the last process left them, and every
    /// change is written there at once.
    pub fn with_state_file(path: &Path) -> Result<Self, DoorError> {
        let mut lines = SimLines::default();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                for entry in text.lines() {
                    let (name, level) = entry.split_once('=').unwrap_or((entry, ""));
                    let line = match name.trim() {
                        "strike" => Output::Strike,
                        "buzzer" => Output::Buzzer,
                        "green_led" => Output::GreenLed,
                        "red_led" => Output::RedLed,
                        _ => continue,
                    };
                    *lines.output(line) = level.trim() == "1";
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(DoorError::Config(format!(
                    "[door] sim_state {}: {err}",
                    path.display()
                )));
            }
        }
        Ok(Self { lines: Arc::new(Mutex::new(lines)), state_file: Some(Arc::new(path.into())) })
    }

    fn lines(&self) -> std::sync::MutexGuard<'_, SimLines> {
        self.lines.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether an output is energised.
    pub fn output(&self, line: Output) -> bool {
        *self.lines().output(line)
    }

    /// Sets an input.
    pub fn drive(&self, line: Input, active: bool) {
        let mut l = self.lines();
        match line {
            Input::DoorContact => l.door_open = active,
            Input::ExitButton => l.exit_pressed = active,
            Input::Fire => l.fire_closed = active,
        }
    }
}

impl Gpio for SimGpio {
    fn set(&mut self, line: Output, on: bool) -> Result<(), DoorError> {
        let mut l = self.lines();
        if std::mem::replace(l.output(line), on) == on {
            return Ok(());
        }
        let Some(path) = &self.state_file else { return Ok(()) };
        // Written whole and renamed, so a process killed mid-write leaves the old levels.
        let fresh = path.with_extension("new");
        std::fs::write(&fresh, l.state_text())
            .and_then(|()| std::fs::rename(&fresh, path.as_path()))
            .map_err(|err| DoorError::Config(format!("[door] sim_state {}: {err}", path.display())))
    }

    fn read(&mut self, line: Input) -> Result<bool, DoorError> {
        let l = self.lines();
        Ok(match line {
            Input::DoorContact => l.door_open,
            Input::ExitButton => l.exit_pressed,
            Input::Fire => l.fire_closed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_file_keeps_the_outputs_across_processes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("door.state");
        let mut first = SimGpio::with_state_file(&path).unwrap();
        assert!(!first.output(Output::Strike), "no file yet: every line released");
        first.set(Output::Strike, true).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("strike=1"));
        drop(first);
        let second = SimGpio::with_state_file(&path).unwrap();
        assert!(second.output(Output::Strike), "the level outlives the handle, as on a Pi");
    }
}
