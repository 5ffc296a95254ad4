//! A register-level MFRC522 with ISO 14443A cards in its field, written from the NXP datasheet
//! (registers, reset values, commands, interrupt flags, SPI framing) and ISO/IEC 14443-3 (the
//! card's states and frames), not from the driver. It refuses what the real parts would:
//! - after power-up or a soft reset every register holds its reset value: the antenna is off,
//!   the timer does not start by itself and the CRC preset is 0xFFFF, so nothing works until the
//!   chip is configured; writes during a soft reset (while PowerDown reads 1) are lost;
//! - nothing reaches a card with the antenna off or without 100 % ASK;
//! - a card answers only the frame its state expects: REQA when idle, WUPA when idle or halted,
//!   the anticollision and SELECT of its current cascade level, HLTA when selected; a SELECT or
//!   HLTA whose CRC_A is wrong, or anything else, gets no answer and sends the card back to idle;
//! - two cards answering differently make a bit collision (ErrorReg CollErr).

use std::collections::VecDeque;

/// ISO/IEC 14443-3 CRC_A (CRC-16/CCITT reflected, polynomial 0x8408) from `preset`, returned
/// in transmission order (low byte first).
pub fn crc16(preset: u16, data: &[u8]) -> [u8; 2] {
    let mut crc = preset;
    for &byte in data {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x8408 } else { crc >> 1 };
        }
    }
    crc.to_le_bytes()
}

fn crc_ok(frame: &[u8]) -> bool {
    let (body, crc) = frame.split_at(frame.len() - 2);
    crc16(0x6363, body) == crc
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CardState {
    Idle,
    /// Ready for the anticollision or SELECT of this cascade level (0-based).
    Ready(usize),
    Active,
    Halt,
}

/// A PICC (card) in the field.
pub struct SimCard {
    uid: Vec<u8>,
    /// The final SAK (0x08: MIFARE Classic 1K).
    sak: u8,
    state: CardState,
    /// Whether the card came out of HALT with WUPA (a failed frame then sends it back to HALT).
    halted_before: bool,
    /// A faulty card: its check bytes are wrong.
    pub bad_bcc: bool,
}

impl SimCard {
    pub fn new(uid: &[u8]) -> Self {
        assert!(matches!(uid.len(), 4 | 7 | 10), "ISO 14443A UIDs have 4, 7 or 10 bytes");
        Self {
            uid: uid.to_vec(),
            sak: 0x08,
            state: CardState::Idle,
            halted_before: false,
            bad_bcc: false,
        }
    }

    fn levels(&self) -> usize {
        self.uid.len() / 3
    }

    /// The 4 UID bytes of cascade level `level` and their BCC.
    fn level_answer(&self, level: usize) -> Vec<u8> {
        let mut part = if level + 1 < self.levels() {
            vec![0x88, self.uid[3 * level], self.uid[3 * level + 1], self.uid[3 * level + 2]]
        } else {
            self.uid[3 * level..].to_vec()
        };
        let bcc = part.iter().fold(0u8, |x, b| x ^ b) ^ u8::from(self.bad_bcc);
        part.push(bcc);
        part
    }

    fn atqa(&self) -> Vec<u8> {
        // Bits 8..7: UID size (single, double, triple); bit 3: bit-frame anticollision.
        vec![((self.levels() as u8 - 1) << 6) | 0x04, 0x00]
    }

    fn fail(&mut self) -> Option<Vec<u8>> {
        self.state = if self.halted_before { CardState::Halt } else { CardState::Idle };
        None
    }

    /// The card's answer to a frame of `bits` bits (whole bytes unless `last_bits` is 1..=7).
    fn receive(&mut self, frame: &[u8], last_bits: u8) -> Option<Vec<u8>> {
        const SEL: [u8; 3] = [0x93, 0x95, 0x97];
        match (frame, last_bits, self.state) {
            ([0x26], 7, CardState::Idle) | ([0x52], 7, CardState::Idle) => {
                self.state = CardState::Ready(0);
                Some(self.atqa())
            }
            ([0x52], 7, CardState::Halt) => {
                self.state = CardState::Ready(0);
                self.halted_before = true;
                Some(self.atqa())
            }
            (_, _, CardState::Halt) => None,
            ([sel, 0x20], 0, CardState::Ready(level)) if *sel == SEL[level] => {
                Some(self.level_answer(level))
            }
            ([sel, 0x70, rest @ ..], 0, CardState::Ready(level))
                if *sel == SEL[level]
                    && rest.len() == 7
                    && crc_ok(frame)
                    && rest[..5] == self.level_answer(level)[..] =>
            {
                let sak = if level + 1 < self.levels() {
                    self.state = CardState::Ready(level + 1);
                    0x04
                } else {
                    self.state = CardState::Active;
                    self.sak
                };
                let mut answer = vec![sak];
                answer.extend(crc16(0x6363, &[sak]));
                Some(answer)
            }
            ([0x50, 0x00, _, _], 0, CardState::Active) if crc_ok(frame) => {
                self.state = CardState::Halt;
                None
            }
            _ => self.fail(),
        }
    }
}

/// Registers used here (datasheet, section 9.2).
const COMMAND: usize = 0x01;
const COM_IRQ: usize = 0x04;
const DIV_IRQ: usize = 0x05;
const ERROR: usize = 0x06;
const FIFO_DATA: usize = 0x09;
const FIFO_LEVEL: usize = 0x0A;
const CONTROL: usize = 0x0C;
const BIT_FRAMING: usize = 0x0D;
const COLL: usize = 0x0E;
const MODE: usize = 0x11;
const TX_MODE: usize = 0x12;
const TX_CONTROL: usize = 0x14;
const TX_ASK: usize = 0x15;
const CRC_RESULT_MSB: usize = 0x21;
const CRC_RESULT_LSB: usize = 0x22;
const T_MODE: usize = 0x2A;
const T_RELOAD_HI: usize = 0x2C;
const T_RELOAD_LO: usize = 0x2D;
const VERSION: usize = 0x37;

/// SPI transfers a soft reset lasts (the oscillator's start-up, in bus time).
const RESET_TRANSFERS: u32 = 3;

/// The simulated chip, on the SPI bus.
pub struct SimChip {
    regs: [u8; 64],
    fifo: VecDeque<u8>,
    resetting: u32,
    pub cards: Vec<SimCard>,
    /// Every frame that reached the field (antenna on, 100 % ASK).
    pub heard: Vec<Vec<u8>>,
    /// Corrupts the n-th answer (counted from 0) put in the FIFO: XORs a byte, parity intact.
    pub corrupt: Option<(usize, usize, u8)>,
    answers: usize,
}

impl SimChip {
    /// A chip just powered up, with these cards in its field.
    pub fn with_cards(cards: Vec<SimCard>) -> Self {
        let mut chip = Self {
            regs: [0; 64],
            fifo: VecDeque::new(),
            resetting: 0,
            cards,
            heard: vec![],
            corrupt: None,
            answers: 0,
        };
        chip.reset_registers();
        chip
    }

    /// A chip with one card holding `uid`.
    pub fn with_card(uid: &[u8]) -> Self {
        Self::with_cards(vec![SimCard::new(uid)])
    }

    /// Writes a register from outside the bus (a test breaking the configuration).
    pub fn poke(&mut self, register: usize, value: u8) {
        self.regs[register] = value;
    }

    /// Reset values (datasheet, section 9.3).
    fn reset_registers(&mut self) {
        self.regs = [0; 64];
        for (register, value) in [
            (COMMAND, 0x20),
            (0x02, 0x80),
            (COM_IRQ, 0x14),
            (0x07, 0x21),
            (CONTROL, 0x10),
            (COLL, 0xA0),
            (MODE, 0x3F),
            (TX_CONTROL, 0x80),
            (VERSION, 0x92),
        ] {
            self.regs[register] = value;
        }
        self.fifo.clear();
    }

    fn read(&mut self, register: usize) -> u8 {
        match register {
            COMMAND if self.resetting > 0 => self.regs[COMMAND] | 0x10,
            FIFO_DATA => self.fifo.pop_front().unwrap_or(0),
            FIFO_LEVEL => self.fifo.len() as u8,
            _ => self.regs[register],
        }
    }

    fn write(&mut self, register: usize, value: u8) {
        if self.resetting > 0 {
            return;
        }
        match register {
            COMMAND => self.command(value),
            // Set1/Set2 = 1 sets the marked bits, 0 clears them.
            COM_IRQ | DIV_IRQ if value & 0x80 != 0 => self.regs[register] |= value & 0x7f,
            COM_IRQ | DIV_IRQ => self.regs[register] &= !value,
            ERROR | VERSION | CRC_RESULT_MSB | CRC_RESULT_LSB => {} // read-only
            FIFO_DATA if self.fifo.len() < 64 => self.fifo.push_back(value),
            FIFO_DATA => self.regs[ERROR] |= 0x10, // BufferOvfl
            FIFO_LEVEL if value & 0x80 != 0 => self.fifo.clear(),
            FIFO_LEVEL => {}
            BIT_FRAMING => {
                self.regs[BIT_FRAMING] = value & 0x7f; // StartSend is not kept
                if value & 0x80 != 0 && self.regs[COMMAND] & 0x0f == 0x0C {
                    self.transmit();
                }
            }
            _ => self.regs[register] = value,
        }
    }

    fn command(&mut self, value: u8) {
        match value & 0x0f {
            0x0F => {
                self.reset_registers();
                self.resetting = RESET_TRANSFERS;
            }
            0x03 => {
                self.regs[COMMAND] = (self.regs[COMMAND] & 0xf0) | 0x03;
                let preset = [0x0000, 0x6363, 0xA671, 0xFFFF][usize::from(self.regs[MODE] & 0x03)];
                let data: Vec<u8> = self.fifo.drain(..).collect();
                let [lsb, msb] = crc16(preset, &data);
                self.regs[CRC_RESULT_LSB] = lsb;
                self.regs[CRC_RESULT_MSB] = msb;
                self.regs[DIV_IRQ] |= 0x04; // CRCIRq
            }
            command => self.regs[COMMAND] = (self.regs[COMMAND] & 0xf0) | command,
        }
    }

    /// Transceive with StartSend: the FIFO goes out, the answer (if any) comes back into it.
    fn transmit(&mut self) {
        let mut frame: Vec<u8> = self.fifo.drain(..).collect();
        let last_bits = self.regs[BIT_FRAMING] & 0x07;
        if self.regs[TX_MODE] & 0x80 != 0 {
            frame.extend(crc16(0x6363, &frame)); // TxCRCEn
        }
        self.regs[ERROR] = 0;
        self.regs[COM_IRQ] |= 0x40; // TxIRq
        let field_on = self.regs[TX_CONTROL] & 0x03 != 0 && self.regs[TX_ASK] & 0x40 != 0;
        let mut answers = vec![];
        if field_on {
            self.heard.push(frame.clone());
            answers = self.cards.iter_mut().filter_map(|c| c.receive(&frame, last_bits)).collect();
        }
        let Some(first) = answers.first().cloned() else {
            // The timer runs only if started at the end of transmission (TAuto) with a reload.
            let reload = u16::from_be_bytes([self.regs[T_RELOAD_HI], self.regs[T_RELOAD_LO]]);
            if self.regs[T_MODE] & 0x80 != 0 && reload != 0 {
                self.regs[COM_IRQ] |= 0x01; // TimerIRq
            }
            return;
        };
        let mut answer = first;
        if answers.iter().any(|a| *a != answer) {
            // A bit collision: the receiver sees the bits superposed.
            answer = answers.iter().fold(vec![0; answer.len()], |acc, a| {
                acc.iter().zip(a.iter().chain(std::iter::repeat(&0))).map(|(x, y)| x | y).collect()
            });
            self.regs[ERROR] |= 0x08; // CollErr
            self.regs[COM_IRQ] |= 0x02; // ErrIRq
        }
        if let Some((n, byte, xor)) = self.corrupt
            && n == self.answers
            && byte < answer.len()
        {
            answer[byte] ^= xor;
        }
        self.answers += 1;
        self.fifo.extend(answer);
        self.regs[CONTROL] &= !0x07; // RxLastBits: whole bytes
        self.regs[COM_IRQ] |= 0x20; // RxIRq
    }
}

impl super::SpiBus for SimChip {
    /// Datasheet section 8.1.2: the first byte addresses a register (bit 7 = read); a write
    /// sends its data bytes to that register, a read answers each address byte with the
    /// previous one's value.
    fn transfer(&mut self, out: &[u8]) -> Result<Vec<u8>, super::ReaderError> {
        let answer = match out {
            [] => vec![],
            [address, data @ ..] if address & 0x80 == 0 => {
                data.iter().for_each(|&v| self.write(usize::from((address >> 1) & 0x3f), v));
                vec![0; out.len()]
            }
            _ => std::iter::once(0)
                .chain(
                    out[..out.len() - 1].iter().map(|&a| self.read(usize::from((a >> 1) & 0x3f))),
                )
                .collect(),
        };
        self.resetting = self.resetting.saturating_sub(1);
        Ok(answer)
    }
}
