//! Raspberry Pi peripherals through rppal: the door's GPIO lines, Wiegand card readers on two
//! GPIO inputs, and the SPI bus of an MFRC522. This is the only file that uses rppal (retired
//! upstream): a move to gpiocdev and spidev stays local.
//!
//! Door inputs use the internal pull-ups: a button closes to ground, so "pressed" reads low; the
//! door contact is closed (low) while the door is shut and reads high when it opens.

use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rppal::gpio::{InputPin, OutputPin, Trigger};
use rppal::spi::{Bus, Mode, SlaveSelect, Spi};

use crate::credentials::CardUid;
use crate::credentials::readers::rc522::{Mfrc522, Rc522Reader, SpiBus};
use crate::credentials::readers::sim::SimReader;
use crate::credentials::readers::wedge::WedgeReader;
use crate::credentials::readers::wiegand::{FRAME_GAP_MICROS, WiegandDecoder};
use crate::credentials::readers::{CardReader, ReaderConfig, ReaderError, ReaderKind};
use crate::door::{DoorConfig, DoorError, Gpio, Input, Output};

/// Every line but the strike.
struct Lines {
    buzzer: OutputPin,
    green: OutputPin,
    red: OutputPin,
    contact: InputPin,
    exit: InputPin,
    fire: Option<InputPin>,
}

/// The door's pins on a Pi. The strike has a lock of its own, so the watchdog's relock never
/// waits for a call on another line.
#[derive(Clone)]
pub struct RppalGpio {
    strike: Arc<Mutex<OutputPin>>,
    lines: Arc<Mutex<Lines>>,
    relay_active_high: bool,
}

impl RppalGpio {
    /// Claims the configured pins. The strike's pin starts at the level that keeps the door
    /// locked (a maglock's relay energised, a strike's released) and keeps its level when the
    /// pin is let go: rppal would otherwise switch it back to an input when the process ends,
    /// dropping the relay, which unlocks a maglock right after the controller locked it.
    pub fn open(config: &DoorConfig) -> Result<Self, DoorError> {
        config.validate()?;
        let gpio = rppal::gpio::Gpio::new().map_err(|e| DoorError::NoGpio(e.to_string()))?;
        let pin = |n: u8| gpio.get(n).map_err(|e| DoorError::Pin { pin: n, reason: e.to_string() });
        let locked = |n: u8| -> Result<OutputPin, DoorError> {
            let p = pin(n)?;
            let mut p = if locked_strike_level(config) {
                p.into_output_high()
            } else {
                p.into_output_low()
            };
            p.set_reset_on_drop(false);
            Ok(p)
        };
        let p = &config.pins;
        let strike = Arc::new(Mutex::new(locked(p.strike)?));
        let lines = Lines {
            buzzer: pin(p.buzzer)?.into_output_low(),
            green: pin(p.green_led)?.into_output_low(),
            red: pin(p.red_led)?.into_output_low(),
            contact: pin(p.door_contact)?.into_input_pullup(),
            exit: pin(p.exit_button)?.into_input_pullup(),
            fire: p.fire.map(|f| pin(f).map(|x| x.into_input_pullup())).transpose()?,
        };
        let lines = Arc::new(Mutex::new(lines));
        Ok(Self { strike, lines, relay_active_high: config.relay_active_high })
    }
}

impl Gpio for RppalGpio {
    fn set(&mut self, line: Output, on: bool) -> Result<(), DoorError> {
        let lines = || self.lines.lock().unwrap_or_else(|p| p.into_inner());
        match line {
            Output::Strike => {
                let high = relay_pin_high(self.relay_active_high, on);
                self.strike.lock().unwrap_or_else(|p| p.into_inner()).write(high.into());
            }
            Output::Buzzer => lines().buzzer.write(on.into()),
            Output::GreenLed => lines().green.write(on.into()),
            Output::RedLed => lines().red.write(on.into()),
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

/// The strike pin's level (high?) that keeps the door locked.
fn locked_strike_level(config: &DoorConfig) -> bool {
    relay_pin_high(config.relay_active_high, config.locked_relay_energised())
}

/// The pin level (high?) that puts the relay in the `energised` state.
fn relay_pin_high(relay_active_high: bool, energised: bool) -> bool {
    energised == relay_active_high
}

/// SPI0 for an MFRC522 (chip select CE0, mode 0, 1 MHz).
pub struct RppalSpi(Spi);

impl RppalSpi {
    pub fn open() -> Result<Self, ReaderError> {
        Spi::new(Bus::Spi0, SlaveSelect::Ss0, 1_000_000, Mode::Mode0)
            .map(Self)
            .map_err(|e| ReaderError::Device(format!("SPI0: {e} (enable it with dtparam=spi=on)")))
    }
}

impl SpiBus for RppalSpi {
    fn transfer(&mut self, out: &[u8]) -> Result<Vec<u8>, ReaderError> {
        let mut answer = vec![0u8; out.len()];
        self.0.transfer(&mut answer, out).map_err(|e| ReaderError::Device(e.to_string()))?;
        Ok(answer)
    }
}

/// A Wiegand reader on two GPIO inputs (through 5 V → 3.3 V level shifters): each line idles
/// high and pulses low for one bit.
pub struct WiegandReader {
    pulses: Receiver<(bool, u64)>,
    decoder: WiegandDecoder,
    _lines: [InputPin; 2],
}

impl WiegandReader {
    pub fn open(d0: u8, d1: u8) -> Result<Self, ReaderError> {
        let gpio =
            rppal::gpio::Gpio::new().map_err(|e| ReaderError::Device(format!("no GPIO: {e}")))?;
        let (tx, rx) = channel();
        let line = |pin: u8, one: bool| -> Result<InputPin, ReaderError> {
            let mut input = gpio
                .get(pin)
                .map_err(|e| ReaderError::Device(format!("GPIO {pin}: {e}")))?
                .into_input_pullup();
            let tx = tx.clone();
            input
                .set_async_interrupt(Trigger::FallingEdge, None, move |event| {
                    let _ = tx.send((one, event.timestamp.as_micros() as u64));
                })
                .map_err(|e| ReaderError::Device(format!("GPIO {pin}: {e}")))?;
            Ok(input)
        };
        let lines = [line(d0, false)?, line(d1, true)?];
        Ok(Self { pulses: rx, decoder: WiegandDecoder::default(), _lines: lines })
    }
}

impl CardReader for WiegandReader {
    fn next_card(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError> {
        let deadline = Instant::now() + timeout;
        let mut last = 0u64;
        loop {
            let wait = Duration::from_micros(FRAME_GAP_MICROS)
                .min(deadline.saturating_duration_since(Instant::now()));
            match self.pulses.recv_timeout(wait) {
                Ok((one, at)) => {
                    last = at;
                    if let Some(card) = self.decoder.pulse(one, at) {
                        return card.map(Some);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(card) = self.decoder.poll(last + FRAME_GAP_MICROS) {
                        return card.map(Some);
                    }
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ReaderError::Device("Wiegand lines closed".into()));
                }
            }
        }
    }
}

/// The configured card reader on the device (`sim`: card numbers typed on standard input).
pub(crate) fn open_reader(config: &ReaderConfig) -> Result<Box<dyn CardReader>, ReaderError> {
    Ok(match config.kind {
        ReaderKind::Sim => Box::new(SimReader::new(std::io::BufReader::new(std::io::stdin()))),
        ReaderKind::Wedge => Box::new(WedgeReader::open(&config.device)?),
        ReaderKind::Wiegand => Box::new(WiegandReader::open(config.wiegand_d0, config.wiegand_d1)?),
        ReaderKind::Rc522 => Box::new(Rc522Reader::new(Mfrc522::init(RppalSpi::open()?)?)),
    })
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

    #[test]
    fn the_strike_pin_starts_at_the_locked_level_of_each_lock_and_relay() {
        // A maglock (fail-safe) holds while its relay is energised; a strike opens while it is.
        use crate::door::LockType;
        for (lock_type, relay_active_high, high) in [
            (LockType::FailSafe, true, true),
            (LockType::FailSafe, false, false),
            (LockType::FailSecure, true, false),
            (LockType::FailSecure, false, true),
        ] {
            let config = DoorConfig { lock_type, relay_active_high, ..DoorConfig::default() };
            assert_eq!(
                locked_strike_level(&config),
                high,
                "{lock_type:?}, active high {relay_active_high}"
            );
        }
    }
}
