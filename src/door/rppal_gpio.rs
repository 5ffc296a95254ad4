//! Raspberry Pi GPIO through rppal (the only file that uses it: rppal is retired upstream, and a
//! move to gpiocdev stays local). Inputs use the internal pull-ups: a door contact or button
//! closes to ground, so "active" reads low, except the door contact, which is closed (low)
//! while the door is shut and reads high when it opens.

use std::sync::{Arc, Mutex};

use rppal::gpio::{InputPin, OutputPin};

use super::gpio::{Gpio, Input, Output};
use super::{DoorConfig, DoorError};

struct Lines {
    strike: OutputPin,
    buzzer: OutputPin,
    green: OutputPin,
    red: OutputPin,
    contact: InputPin,
    exit: InputPin,
    fire: Option<InputPin>,
}

/// The door's pins on a Pi.
#[derive(Clone)]
pub struct RppalGpio {
    lines: Arc<Mutex<Lines>>,
    relay_active_high: bool,
}

impl RppalGpio {
    /// Claims the configured pins; every relay output starts released.
    pub fn open(config: &DoorConfig) -> Result<Self, DoorError> {
        config.validate()?;
        let gpio = rppal::gpio::Gpio::new().map_err(|e| DoorError::NoGpio(e.to_string()))?;
        let pin = |n: u8| gpio.get(n).map_err(|e| DoorError::Pin { pin: n, reason: e.to_string() });
        let released = |n: u8| -> Result<OutputPin, DoorError> {
            let p = pin(n)?;
            Ok(if config.relay_active_high { p.into_output_low() } else { p.into_output_high() })
        };
        let p = &config.pins;
        let lines = Lines {
            strike: released(p.strike)?,
            buzzer: pin(p.buzzer)?.into_output_low(),
            green: pin(p.green_led)?.into_output_low(),
            red: pin(p.red_led)?.into_output_low(),
            contact: pin(p.door_contact)?.into_input_pullup(),
            exit: pin(p.exit_button)?.into_input_pullup(),
            fire: p.fire.map(|f| pin(f).map(|x| x.into_input_pullup())).transpose()?,
        };
        Ok(Self { lines: Arc::new(Mutex::new(lines)), relay_active_high: config.relay_active_high })
    }
}

impl Gpio for RppalGpio {
    fn set(&mut self, line: Output, on: bool) -> Result<(), DoorError> {
        let mut l = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let (pin, high) = match line {
            Output::Strike => (&mut l.strike, on == self.relay_active_high),
            Output::Buzzer => (&mut l.buzzer, on),
            Output::GreenLed => (&mut l.green, on),
            Output::RedLed => (&mut l.red, on),
        };
        if high {
            pin.set_high()
        } else {
            pin.set_low()
        }
        Ok(())
    }

    fn read(&mut self, line: Input) -> Result<bool, DoorError> {
        let l = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        Ok(match line {
            Input::DoorContact => l.contact.is_high(),
            Input::ExitButton => l.exit.is_low(),
            Input::Fire => l.fire.as_ref().is_some_and(|f| f.is_low()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_pi_opening_is_a_clear_error_not_a_panic() {
        if std::path::Path::new("/dev/gpiomem").exists() {
            return; // on a real Pi this test says nothing
        }
        let err = RppalGpio::open(&DoorConfig::default()).err().expect("no GPIO on a PC");
        assert!(matches!(err, DoorError::NoGpio(_)), "{err}");
        assert!(err.to_string().contains("--sim"));
    }
}
