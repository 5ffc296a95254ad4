//! USB keyboard-wedge readers (the common 125 kHz / 13.56 MHz ones): they "type" the card
//! number and Enter. Read from the reader's evdev device with an exclusive grab, so the digits
//! never reach another program.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{CardReader, ReaderError};
use crate::credentials::CardUid;

/// Longest card number taken from a wedge reader: a card UID holds at most 16 bytes.
const MAX_DIGITS: usize = 16;
const EV_KEY: u16 = 1;
const KEY_ENTER: u16 = 28;
const KEY_KPENTER: u16 = 96;

/// The digit a Linux key code stands for (top row and keypad).
fn digit(code: u16) -> Option<u8> {
    match code {
        2..=10 => Some(b'1' + (code - 2) as u8),
        11 => Some(b'0'),
        79..=81 => Some(b'1' + (code - 79) as u8),
        75..=77 => Some(b'4' + (code - 75) as u8),
        71..=73 => Some(b'7' + (code - 71) as u8),
        82 => Some(b'0'),
        _ => None,
    }
}

/// Turns key presses into card numbers.
#[derive(Default)]
pub struct WedgeParser {
    digits: Vec<u8>,
    broken: bool,
}

impl WedgeParser {
    /// Feeds one key event (`value` 1 = press; releases and repeats are ignored). Returns a
    /// card (or an error) when Enter ends a number.
    pub fn feed(&mut self, code: u16, value: i32) -> Option<Result<CardUid, ReaderError>> {
        if value != 1 {
            return None;
        }
        if code == KEY_ENTER || code == KEY_KPENTER {
            let digits = std::mem::take(&mut self.digits);
            let broken = std::mem::take(&mut self.broken);
            return Some(match (broken, digits.is_empty()) {
                (true, _) => Err(ReaderError::Garbled("unexpected keys in the card number")),
                (false, true) => Err(ReaderError::Garbled("empty card number")),
                (false, false) => {
                    CardUid::new(digits).ok_or(ReaderError::Garbled("card number too long"))
                }
            });
        }
        match digit(code) {
            Some(d) if self.digits.len() < MAX_DIGITS => self.digits.push(d),
            _ => self.broken = true,
        }
        None
    }
}

/// A wedge reader on an evdev device, grabbed exclusively.
pub struct WedgeReader {
    device: File,
    parser: WedgeParser,
}

/// `EVIOCGRAB` = `_IOW('E', 0x90, int)`.
const EVIOCGRAB: libc::c_ulong = 0x4004_4590;

impl WedgeReader {
    pub fn open(path: &Path) -> Result<Self, ReaderError> {
        let device = File::open(path)
            .map_err(|e| ReaderError::Device(format!("{}: {e}", path.display())))?;
        // SAFETY: EVIOCGRAB takes an int by value on an open evdev file descriptor.
        if unsafe { libc::ioctl(device.as_raw_fd(), EVIOCGRAB as _, 1 as libc::c_int) } != 0 {
            return Err(ReaderError::Device(format!(
                "{}: cannot grab the device exclusively",
                path.display()
            )));
        }
        Ok(Self::on(device))
    }

    /// Reads key events from an already opened (and grabbed) device.
    fn on(device: File) -> Self {
        Self { device, parser: WedgeParser::default() }
    }
}

impl CardReader for WedgeReader {
    fn next_card(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError> {
        // A 64-bit `struct input_event`: timeval (16 bytes), type, code (u16 each), value (i32).
        let mut event = [0u8; 24];
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let mut poll =
                libc::pollfd { fd: self.device.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            let wait = deadline.saturating_duration_since(Instant::now()).as_millis().min(1000)
                as libc::c_int;
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut poll, 1, wait) } <= 0 {
                continue;
            }
            self.device.read_exact(&mut event).map_err(|e| ReaderError::Device(e.to_string()))?;
            let kind = u16::from_ne_bytes([event[16], event[17]]);
            let code = u16::from_ne_bytes([event[18], event[19]]);
            let value = i32::from_ne_bytes([event[20], event[21], event[22], event[23]]);
            if kind == EV_KEY
                && let Some(card) = self.parser.feed(code, value)
            {
                return card.map(Some);
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn typed(parser: &mut WedgeParser, codes: &[u16]) -> Option<Result<CardUid, ReaderError>> {
        codes.iter().find_map(|&c| {
            let out = parser.feed(c, 1);
            parser.feed(c, 0);
            out
        })
    }

    #[test]
    fn recorded_frame_decodes() {
        // "0004512345" + Enter, as a 125 kHz reader types it.
        let codes = [11, 11, 11, 5, 6, 2, 3, 4, 5, 6, KEY_ENTER];
        let card = typed(&mut WedgeParser::default(), &codes).unwrap().unwrap();
        assert_eq!(card.as_bytes(), b"0004512345");
        let keypad = [82, 79, 80, 81, 75, 76, 77, 71, 72, 73, KEY_KPENTER];
        assert_eq!(
            typed(&mut WedgeParser::default(), &keypad).unwrap().unwrap().as_bytes(),
            b"0123456789"
        );
    }

    #[test]
    fn letters_empty_and_overlong_numbers_are_errors_and_the_next_card_still_reads() {
        let mut p = WedgeParser::default();
        assert!(typed(&mut p, &[2, 30, 3, KEY_ENTER]).unwrap().is_err(), "an 'a' in the number");
        assert!(typed(&mut p, &[KEY_ENTER]).unwrap().is_err());
        let ones = |n: usize| std::iter::repeat_n(2, n).chain([KEY_ENTER]).collect::<Vec<_>>();
        assert_eq!(typed(&mut p, &ones(16)).unwrap().unwrap().as_bytes(), &[b'1'; 16]);
        assert!(typed(&mut p, &ones(17)).unwrap().is_err(), "longer than a UID holds");
        assert!(typed(&mut p, &ones(25)).unwrap().is_err());
        assert_eq!(typed(&mut p, &[2, 3, KEY_ENTER]).unwrap().unwrap().as_bytes(), b"12");
    }

    /// What a keyboard-wedge parser must make of a run of key presses ended by Enter.
    fn expected(presses: &[u16]) -> Result<Vec<u8>, ()> {
        let digits: Option<Vec<u8>> = presses.iter().map(|&c| digit(c)).collect();
        match digits {
            Some(d) if !d.is_empty() && d.len() <= MAX_DIGITS => Ok(d),
            _ => Err(()),
        }
    }

    /// Key events as the kernel writes them: a 64-bit `struct input_event`.
    fn input_event(kind: u16, code: u16, value: i32) -> [u8; 24] {
        let mut event = [0u8; 24];
        event[16..18].copy_from_slice(&kind.to_ne_bytes());
        event[18..20].copy_from_slice(&code.to_ne_bytes());
        event[20..24].copy_from_slice(&value.to_ne_bytes());
        event
    }

    /// Key codes a wedge reader may send, digits and Enter most often.
    fn key() -> impl Strategy<Value = u16> {
        prop_oneof![4 => 2u16..12, 2 => Just(KEY_ENTER), 1 => 0u16..300]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        /// Each Enter gives exactly the digits pressed since the last one, or an error when
        /// anything else was pressed: garbage never becomes a card.
        #[test]
        fn key_streams_give_the_typed_number_or_an_error(
            events in proptest::collection::vec((key(), -1i32..3), 0..64),
        ) {
            let mut p = WedgeParser::default();
            let mut presses = vec![];
            for (code, value) in events {
                let out = p.feed(code, value);
                if value != 1 {
                    prop_assert!(out.is_none());
                } else if code == KEY_ENTER || code == KEY_KPENTER {
                    let card = out.expect("Enter ends a number");
                    let want = expected(&std::mem::take(&mut presses));
                    prop_assert_eq!(card.map(|c| c.as_bytes().to_vec()).map_err(|_| ()), want);
                } else {
                    presses.push(code);
                    prop_assert!(out.is_none());
                }
            }
        }

        /// The device path: raw events (key, sync and other types) read from the device file.
        #[test]
        fn the_event_stream_from_the_device_gives_the_typed_number_or_an_error(
            presses in proptest::collection::vec(key().prop_filter("not Enter", |&c| c != KEY_ENTER && c != KEY_KPENTER), 0..24),
            other_type in prop_oneof![Just(0u16), Just(2), Just(4)],
        ) {
            let mut bytes = vec![];
            for &code in presses.iter().chain([KEY_ENTER].iter()) {
                bytes.extend(input_event(EV_KEY, code, 1));
                bytes.extend(input_event(other_type, code, 1)); // SYN, REL or MSC: not keys
                bytes.extend(input_event(EV_KEY, code, 0));
            }
            let mut file = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut file, &bytes).unwrap();
            std::io::Seek::rewind(&mut file).unwrap();
            let mut reader = WedgeReader::on(file);
            let card = reader.next_card(Duration::from_secs(5));
            let card = card.map(|c| c.expect("Enter was typed").as_bytes().to_vec());
            prop_assert_eq!(card.map_err(|_| ()), expected(&presses));
        }
    }
}
