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
}
