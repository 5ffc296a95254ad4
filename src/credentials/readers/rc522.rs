//! MFRC522 over SPI: reads the UID of ISO 14443A cards (MIFARE and the like).
//!
//! Two layers: the card protocol (REQA, anticollision per cascade level, check byte) over a
//! [`Transceive`] seam, and the chip's register protocol that implements it over an [`SpiBus`].
//! Tests drive the protocol with a simulated card and check the SPI framing on a recording bus.

use std::time::{Duration, Instant};

use super::{CardReader, ReaderError};
use crate::credentials::CardUid;

/// Sends a frame to the card and returns its answer.
pub trait Transceive: Send {
    /// `last_bits`: how many bits of the last byte to send (0 = all 8; REQA uses 7).
    fn transceive(&mut self, data: &[u8], last_bits: u8) -> Result<Vec<u8>, ReaderError>;
}

const REQA: u8 = 0x26;
const CASCADE_TAG: u8 = 0x88;
const SEL: [u8; 3] = [0x93, 0x95, 0x97];

/// Checks one anticollision answer: 4 bytes and their XOR check byte.
pub fn parse_anticollision(answer: &[u8]) -> Result<[u8; 4], ReaderError> {
    let [a, b, c, d, bcc] = answer else {
        return Err(ReaderError::Garbled("anticollision answer is not 5 bytes"));
    };
    if a ^ b ^ c ^ d != *bcc {
        return Err(ReaderError::Checksum);
    }
    Ok([*a, *b, *c, *d])
}

/// Reads the UID of the card in the field (4, 7 or 10 bytes).
pub fn read_uid(chip: &mut dyn Transceive) -> Result<CardUid, ReaderError> {
    let atqa = chip.transceive(&[REQA], 7)?;
    if atqa.len() != 2 {
        return Err(ReaderError::NoCard);
    }
    let mut uid = Vec::with_capacity(10);
    for sel in SEL {
        let part = parse_anticollision(&chip.transceive(&[sel, 0x20], 0)?)?;
        if part[0] == CASCADE_TAG {
            uid.extend_from_slice(&part[1..]);
            // Select this level so the card answers the next one.
            let bcc = part.iter().fold(0, |x, b| x ^ b);
            chip.transceive(&[sel, 0x70, part[0], part[1], part[2], part[3], bcc], 0)?;
        } else {
            uid.extend_from_slice(&part);
            return CardUid::new(uid).ok_or(ReaderError::Garbled("UID"));
        }
    }
    Err(ReaderError::Garbled("more than three cascade levels"))
}

/// Full-duplex SPI transfers (one chip select per call).
pub trait SpiBus: Send {
    fn transfer(&mut self, out: &[u8]) -> Result<Vec<u8>, ReaderError>;
}

mod reg {
    pub const COMMAND: u8 = 0x01;
    pub const COM_IRQ: u8 = 0x04;
    pub const ERROR: u8 = 0x06;
    pub const FIFO_DATA: u8 = 0x09;
    pub const FIFO_LEVEL: u8 = 0x0A;
    pub const CONTROL: u8 = 0x0C;
    pub const BIT_FRAMING: u8 = 0x0D;
}
const CMD_IDLE: u8 = 0x00;
const CMD_TRANSCEIVE: u8 = 0x0C;

/// The MFRC522 driven through its registers.
pub struct Mfrc522<B: SpiBus> {
    bus: B,
    timeout: Duration,
}

impl<B: SpiBus> Mfrc522<B> {
    pub fn new(bus: B) -> Self {
        Self { bus, timeout: Duration::from_millis(30) }
    }

    fn write(&mut self, register: u8, value: u8) -> Result<(), ReaderError> {
        self.bus.transfer(&[(register << 1) & 0x7e, value]).map(|_| ())
    }

    /// The chip's VersionReg: 0x91 or 0x92 for an MFRC522 (bring-up check).
    pub fn version(&mut self) -> Result<u8, ReaderError> {
        self.read(0x37)
    }

    fn read(&mut self, register: u8) -> Result<u8, ReaderError> {
        let answer = self.bus.transfer(&[((register << 1) & 0x7e) | 0x80, 0])?;
        answer.get(1).copied().ok_or(ReaderError::Device("short SPI answer".into()))
    }
}

impl<B: SpiBus> Transceive for Mfrc522<B> {
    fn transceive(&mut self, data: &[u8], last_bits: u8) -> Result<Vec<u8>, ReaderError> {
        self.write(reg::COMMAND, CMD_IDLE)?;
        self.write(reg::COM_IRQ, 0x7f)?; // clear interrupt flags
        self.write(reg::FIFO_LEVEL, 0x80)?; // flush the FIFO
        for &byte in data {
            self.write(reg::FIFO_DATA, byte)?;
        }
        self.write(reg::BIT_FRAMING, last_bits & 0x07)?;
        self.write(reg::COMMAND, CMD_TRANSCEIVE)?;
        self.write(reg::BIT_FRAMING, 0x80 | (last_bits & 0x07))?; // StartSend
        let deadline = Instant::now() + self.timeout;
        loop {
            let irq = self.read(reg::COM_IRQ)?;
            if irq & 0x30 != 0 {
                break; // RxIRq or IdleIRq
            }
            if irq & 0x01 != 0 || Instant::now() > deadline {
                return Err(ReaderError::NoCard);
            }
        }
        if self.read(reg::ERROR)? & 0x13 != 0 {
            return Err(ReaderError::Garbled("protocol, parity or buffer error"));
        }
        let count = self.read(reg::FIFO_LEVEL)?.min(64);
        let _ = self.read(reg::CONTROL)?; // valid bits of the last byte: whole bytes are used
        (0..count).map(|_| self.read(reg::FIFO_DATA)).collect()
    }
}

/// A reader that polls the field for a card.
pub struct Rc522Reader<T: Transceive> {
    chip: T,
    last: Option<CardUid>,
}

impl<T: Transceive> Rc522Reader<T> {
    pub fn new(chip: T) -> Self {
        Self { chip, last: None }
    }
}

impl<T: Transceive> CardReader for Rc522Reader<T> {
    fn next_card(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match read_uid(&mut self.chip) {
                // A card resting on the reader is reported once.
                Ok(uid) if self.last.as_ref() == Some(&uid) => {}
                Ok(uid) => {
                    self.last = Some(uid.clone());
                    return Ok(Some(uid));
                }
                Err(ReaderError::NoCard) => self.last = None,
                Err(other) => return Err(other),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A card in the field with a UID of 4 or 7 bytes.
    struct SimCard {
        uid: Vec<u8>,
    }

    impl Transceive for SimCard {
        fn transceive(&mut self, data: &[u8], last_bits: u8) -> Result<Vec<u8>, ReaderError> {
            let with_bcc =
                |p: [u8; 4]| vec![p[0], p[1], p[2], p[3], p.iter().fold(0, |x, b| x ^ b)];
            match (data, last_bits) {
                ([REQA], 7) => Ok(vec![0x44, 0x00]),
                ([0x93, 0x20], 0) if self.uid.len() == 4 => {
                    Ok(with_bcc([self.uid[0], self.uid[1], self.uid[2], self.uid[3]]))
                }
                ([0x93, 0x20], 0) => {
                    Ok(with_bcc([CASCADE_TAG, self.uid[0], self.uid[1], self.uid[2]]))
                }
                ([0x93, 0x70, ..], 0) => Ok(vec![0x04, 0xda, 0x17]),
                ([0x95, 0x20], 0) => {
                    Ok(with_bcc([self.uid[3], self.uid[4], self.uid[5], self.uid[6]]))
                }
                _ => Err(ReaderError::NoCard),
            }
        }
    }

    #[test]
    fn reads_four_and_seven_byte_uids() {
        let uid4 = read_uid(&mut SimCard { uid: vec![0xde, 0xad, 0xbe, 0xef] }).unwrap();
        assert_eq!(uid4.as_bytes(), &[0xde, 0xad, 0xbe, 0xef]);
        let uid7 =
            read_uid(&mut SimCard { uid: vec![4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66] }).unwrap();
        assert_eq!(uid7.as_bytes(), &[4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
    }

    #[test]
    fn a_wrong_check_byte_is_refused() {
        assert_eq!(parse_anticollision(&[1, 2, 3, 4, 4]), Ok([1, 2, 3, 4]));
        assert_eq!(parse_anticollision(&[1, 2, 3, 4, 5]), Err(ReaderError::Checksum));
        assert!(parse_anticollision(&[1, 2, 3]).is_err());
    }

    /// Records SPI traffic; answers every read with `answer`.
    struct Recorder {
        sent: Vec<Vec<u8>>,
        answer: u8,
    }

    impl SpiBus for Recorder {
        fn transfer(&mut self, out: &[u8]) -> Result<Vec<u8>, ReaderError> {
            self.sent.push(out.to_vec());
            Ok(vec![0, self.answer])
        }
    }

    #[test]
    fn register_framing_follows_the_datasheet() {
        // Address byte: bit 7 = read, bits 6..1 = register, bit 0 = 0.
        let mut chip = Mfrc522::new(Recorder { sent: vec![], answer: 0x20 });
        chip.write(reg::BIT_FRAMING, 0x87).unwrap();
        chip.read(reg::FIFO_LEVEL).unwrap();
        assert_eq!(chip.bus.sent, vec![vec![0x1a, 0x87], vec![0x94, 0]]);
        // Every register reads 0x20: RxIRq is set, ErrorReg has no protocol/parity/buffer
        // bits, so the transceive returns FIFO_LEVEL = 32 bytes.
        assert_eq!(chip.transceive(&[REQA], 7).unwrap().len(), 32);
        // And an ErrorReg with the parity bit set is an error.
        let mut noisy = Mfrc522::new(Recorder { sent: vec![], answer: 0x32 });
        assert!(noisy.transceive(&[REQA], 7).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        #[test]
        fn random_answers_never_panic(answer in proptest::collection::vec(any::<u8>(), 0..12)) {
            let _ = parse_anticollision(&answer);
        }
    }
}
