//! MFRC522 over SPI: reads the UID of ISO 14443A cards (MIFARE and the like), following the NXP
//! MFRC522 datasheet for the chip and ISO/IEC 14443-3 for the card.
//!
//! The chip is soft-reset and configured once ([`Mfrc522::init`]): its timer ends a wait for a
//! card after 25 ms, 100 % ASK modulation (what Type A cards need), CRC preset 0x6363 (CRC_A)
//! and the antenna on. A read wakes a card (REQA, or WUPA for halted cards too), runs the
//! anticollision cascade (levels 1–3 for 4-, 7- and 10-byte UIDs, cascade tag and check byte
//! verified), selects each level with a CRC_A computed by the chip's coprocessor (the SAK's own
//! CRC_A checked the same way) and halts the card (HLTA), so a card resting on the reader is
//! read once. Tests run it against a register-level simulated chip (`rc522/simulated_chip.rs`).

use std::time::{Duration, Instant};

use super::{CardReader, ReaderError};
use crate::credentials::CardUid;

/// Full-duplex SPI transfers (one chip select per call).
pub trait SpiBus: Send {
    fn transfer(&mut self, out: &[u8]) -> Result<Vec<u8>, ReaderError>;
}

/// Register addresses (datasheet, section 9.2).
mod reg {
    pub const COMMAND: u8 = 0x01;
    pub const COM_IRQ: u8 = 0x04;
    pub const DIV_IRQ: u8 = 0x05;
    pub const ERROR: u8 = 0x06;
    pub const FIFO_DATA: u8 = 0x09;
    pub const FIFO_LEVEL: u8 = 0x0A;
    pub const CONTROL: u8 = 0x0C;
    pub const BIT_FRAMING: u8 = 0x0D;
    pub const MODE: u8 = 0x11;
    pub const TX_CONTROL: u8 = 0x14;
    pub const TX_ASK: u8 = 0x15;
    pub const CRC_RESULT_MSB: u8 = 0x21;
    pub const CRC_RESULT_LSB: u8 = 0x22;
    pub const T_MODE: u8 = 0x2A;
    pub const T_PRESCALER: u8 = 0x2B;
    pub const T_RELOAD_HI: u8 = 0x2C;
    pub const T_RELOAD_LO: u8 = 0x2D;
    pub const VERSION: u8 = 0x37;
}

/// Commands written to CommandReg (datasheet, section 10.3).
mod cmd {
    pub const IDLE: u8 = 0x00;
    pub const CALC_CRC: u8 = 0x03;
    pub const TRANSCEIVE: u8 = 0x0C;
    pub const SOFT_RESET: u8 = 0x0F;
}

/// CommandReg: set while the chip is powered down (during a soft reset until its oscillator runs).
const POWER_DOWN: u8 = 0x10;
/// ComIrqReg bits.
const RX_IRQ: u8 = 0x20;
const TIMER_IRQ: u8 = 0x01;
/// DivIrqReg: the CRC coprocessor has processed the FIFO.
const CRC_IRQ: u8 = 0x04;
/// ErrorReg bits: buffer overflow, parity, protocol; and a bit collision.
const FRAME_ERRORS: u8 = 0x13;
const COLLISION: u8 = 0x08;

/// Card commands (ISO/IEC 14443-3).
const REQA: u8 = 0x26;
const WUPA: u8 = 0x52;
const HLTA: [u8; 2] = [0x50, 0x00];
const SEL: [u8; 3] = [0x93, 0x95, 0x97];
const ANTICOLLISION_NVB: u8 = 0x20;
const SELECT_NVB: u8 = 0x70;
const CASCADE_TAG: u8 = 0x88;
/// SAK bit: the UID is not complete, select the next cascade level.
const SAK_CASCADE: u8 = 0x04;

/// Which cards a read wakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// REQA: cards that are idle (a halted card resting on the reader stays silent).
    Idle,
    /// WUPA: halted cards too.
    All,
}

/// Checks one anticollision answer: 4 bytes and their XOR check byte (BCC).
pub fn parse_anticollision(answer: &[u8]) -> Result<[u8; 4], ReaderError> {
    let [a, b, c, d, bcc] = answer else {
        return Err(ReaderError::Garbled("anticollision answer is not 5 bytes"));
    };
    if a ^ b ^ c ^ d != *bcc {
        return Err(ReaderError::Checksum);
    }
    Ok([*a, *b, *c, *d])
}

/// The MFRC522 driven through its registers.
pub struct Mfrc522<B: SpiBus> {
    bus: B,
}

/// How long the driver waits for the chip to finish a reset, a CRC or a transceive (whose own
/// timer gives up on a silent card after 25 ms).
const CHIP_DEADLINE: Duration = Duration::from_millis(60);

impl<B: SpiBus> Mfrc522<B> {
    /// Soft-resets and configures the chip, and switches the antenna on.
    pub fn init(bus: B) -> Result<Self, ReaderError> {
        let mut chip = Self { bus };
        chip.write(reg::COMMAND, cmd::SOFT_RESET)?;
        let deadline = Instant::now() + CHIP_DEADLINE;
        while chip.read(reg::COMMAND)? & POWER_DOWN != 0 {
            if Instant::now() > deadline {
                return Err(ReaderError::Device("MFRC522 did not come out of its reset".into()));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Timer: starts when a frame has been sent (TAuto), 13.56 MHz / (2 * 169 + 1) = 40 kHz,
        // so a reload of 1000 ends the wait for an answer after 25 ms.
        chip.write(reg::T_MODE, 0x80)?;
        chip.write(reg::T_PRESCALER, 0xA9)?;
        chip.write(reg::T_RELOAD_HI, 0x03)?;
        chip.write(reg::T_RELOAD_LO, 0xE8)?;
        chip.write(reg::TX_ASK, 0x40)?; // Force100ASK
        chip.write(reg::MODE, 0x3D)?; // CRC preset 0x6363 (CRC_A)
        let tx = chip.read(reg::TX_CONTROL)?;
        chip.write(reg::TX_CONTROL, tx | 0x03)?; // antenna drivers TX1 and TX2 on
        Ok(chip)
    }

    /// The chip's VersionReg: 0x91 or 0x92 for an MFRC522 (bring-up check).
    pub fn version(&mut self) -> Result<u8, ReaderError> {
        self.read(reg::VERSION)
    }

    fn write(&mut self, register: u8, value: u8) -> Result<(), ReaderError> {
        // Address byte: bit 7 = 0 (write), bits 6..1 = register, bit 0 = 0.
        self.bus.transfer(&[(register << 1) & 0x7e, value]).map(|_| ())
    }

    fn read(&mut self, register: u8) -> Result<u8, ReaderError> {
        let answer = self.bus.transfer(&[((register << 1) & 0x7e) | 0x80, 0])?;
        answer.get(1).copied().ok_or(ReaderError::Device("short SPI answer".into()))
    }

    /// Stops the running command and loads `data` into an empty FIFO.
    fn load_fifo(&mut self, data: &[u8]) -> Result<(), ReaderError> {
        self.write(reg::COMMAND, cmd::IDLE)?;
        self.write(reg::FIFO_LEVEL, 0x80)?; // FlushBuffer
        data.iter().try_for_each(|&byte| self.write(reg::FIFO_DATA, byte))
    }

    /// Polls `register` until one of `bits` is set; the chip not finishing is a device error.
    fn wait_for(&mut self, register: u8, bits: u8) -> Result<u8, ReaderError> {
        let deadline = Instant::now() + CHIP_DEADLINE;
        loop {
            let value = self.read(register)?;
            if value & bits != 0 {
                return Ok(value);
            }
            if Instant::now() > deadline {
                return Err(ReaderError::Device("MFRC522 did not finish a command".into()));
            }
        }
    }

    /// CRC_A of `data` from the chip's coprocessor, in transmission order (low byte first).
    pub fn crc_a(&mut self, data: &[u8]) -> Result<[u8; 2], ReaderError> {
        self.write(reg::DIV_IRQ, CRC_IRQ)?; // Set2 = 0: clears CRCIRq
        self.load_fifo(data)?;
        self.write(reg::COMMAND, cmd::CALC_CRC)?;
        self.wait_for(reg::DIV_IRQ, CRC_IRQ)?;
        self.write(reg::COMMAND, cmd::IDLE)?;
        Ok([self.read(reg::CRC_RESULT_LSB)?, self.read(reg::CRC_RESULT_MSB)?])
    }

    /// Sends a frame to the card (`last_bits` of its last byte, 0 = all 8) and returns the
    /// card's answer, which must be whole bytes. No answer within the chip's timer is
    /// [`ReaderError::NoCard`].
    pub fn transceive(&mut self, data: &[u8], last_bits: u8) -> Result<Vec<u8>, ReaderError> {
        self.write(reg::COM_IRQ, 0x7f)?; // Set1 = 0: clears every interrupt flag
        self.load_fifo(data)?;
        self.write(reg::BIT_FRAMING, last_bits & 0x07)?;
        self.write(reg::COMMAND, cmd::TRANSCEIVE)?;
        self.write(reg::BIT_FRAMING, 0x80 | (last_bits & 0x07))?; // StartSend
        let irq = self.wait_for(reg::COM_IRQ, RX_IRQ | TIMER_IRQ);
        self.write(reg::COMMAND, cmd::IDLE)?;
        if irq? & RX_IRQ == 0 {
            return Err(ReaderError::NoCard);
        }
        let errors = self.read(reg::ERROR)?;
        if errors & COLLISION != 0 {
            return Err(ReaderError::Collision);
        }
        if errors & FRAME_ERRORS != 0 {
            return Err(ReaderError::Garbled("protocol, parity or buffer error"));
        }
        let count = self.read(reg::FIFO_LEVEL)? & 0x7f;
        if self.read(reg::CONTROL)? & 0x07 != 0 {
            return Err(ReaderError::Garbled("answer ends in a partial byte"));
        }
        (0..count).map(|_| self.read(reg::FIFO_DATA)).collect()
    }

    /// Selects one cascade level; returns the card's SAK, its CRC_A checked.
    fn select(&mut self, sel: u8, part: [u8; 4]) -> Result<u8, ReaderError> {
        let bcc = part.iter().fold(0, |x, b| x ^ b);
        let mut frame = vec![sel, SELECT_NVB, part[0], part[1], part[2], part[3], bcc];
        frame.extend(self.crc_a(&frame)?);
        let answer = self.transceive(&frame, 0)?;
        let [sak, crc_lo, crc_hi] = answer[..] else {
            return Err(ReaderError::Garbled("SAK answer is not 3 bytes"));
        };
        if self.crc_a(&[sak])? != [crc_lo, crc_hi] {
            return Err(ReaderError::Garbled("SAK fails its CRC_A"));
        }
        Ok(sak)
    }

    /// Reads the UID of the card in the field (4, 7 or 10 bytes), then halts the card.
    pub fn read_uid(&mut self, wake: Wake) -> Result<CardUid, ReaderError> {
        let request = if wake == Wake::Idle { REQA } else { WUPA };
        if self.transceive(&[request], 7)?.len() != 2 {
            return Err(ReaderError::Garbled("ATQA is not 2 bytes"));
        }
        let mut uid = Vec::with_capacity(10);
        for sel in SEL {
            let part = parse_anticollision(&self.transceive(&[sel, ANTICOLLISION_NVB], 0)?)?;
            let more = self.select(sel, part)? & SAK_CASCADE != 0;
            match (more, part[0] == CASCADE_TAG) {
                (true, true) => uid.extend_from_slice(&part[1..]),
                (false, false) => {
                    uid.extend_from_slice(&part);
                    self.halt()?;
                    return CardUid::new(uid).ok_or(ReaderError::Garbled("UID"));
                }
                _ => return Err(ReaderError::Garbled("cascade tag and SAK disagree")),
            }
        }
        Err(ReaderError::Garbled("more than three cascade levels"))
    }

    /// HLTA: the card stays silent until it leaves the field or is woken by WUPA. A halted
    /// card does not answer, so silence is success.
    fn halt(&mut self) -> Result<(), ReaderError> {
        let mut frame = HLTA.to_vec();
        frame.extend(self.crc_a(&HLTA)?);
        match self.transceive(&frame, 0) {
            Err(ReaderError::NoCard) => Ok(()),
            Err(other) => Err(other),
            Ok(_) => Err(ReaderError::Garbled("the card answered HLTA")),
        }
    }
}

/// A reader that polls the field for a card; each card is halted once read.
pub struct Rc522Reader<B: SpiBus> {
    chip: Mfrc522<B>,
}

impl<B: SpiBus> Rc522Reader<B> {
    pub fn new(chip: Mfrc522<B>) -> Self {
        Self { chip }
    }
}

impl<B: SpiBus> CardReader for Rc522Reader<B> {
    fn next_card(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.chip.read_uid(Wake::Idle) {
                Ok(uid) => return Ok(Some(uid)),
                Err(ReaderError::NoCard) => std::thread::sleep(Duration::from_millis(50)),
                Err(other) => return Err(other),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod simulated_chip;
#[cfg(test)]
mod tests;
