//! The simulated reader for a PC: one card per line (from stdin, a socket, or a script).
//! A line is a decimal card number as printed on the card (as a keyboard-wedge reader types it),
//! or `hex:` followed by the UID bytes.

use std::io::BufRead;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use super::{CardReader, ReaderError};
use crate::credentials::CardUid;

/// Parses one line.
pub fn parse_line(line: &str) -> Result<CardUid, ReaderError> {
    let line = line.trim();
    if let Some(hex) = line.strip_prefix("hex:") {
        if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ReaderError::Garbled("hex UIDs are pairs of hex digits"));
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("checked hex"))
            .collect();
        return CardUid::new(bytes).ok_or(ReaderError::Garbled("a UID has 1 to 16 bytes"));
    }
    if line.is_empty() || line.len() > 16 || !line.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ReaderError::Garbled("a card number is 1 to 16 digits"));
    }
    CardUid::new(line.as_bytes().to_vec()).ok_or(ReaderError::Garbled("empty"))
}

/// Reads lines on a thread and hands them out as cards.
pub struct SimReader {
    lines: Receiver<String>,
}

impl SimReader {
    pub fn new(input: impl BufRead + Send + 'static) -> Self {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in input.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { lines: rx }
    }
}

impl CardReader for SimReader {
    fn next_card(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => parse_line(&line).map(Some),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => {
                Err(ReaderError::Device("simulated reader input closed".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimal_and_hex_lines() {
        assert_eq!(parse_line(" 0012345678\n").unwrap().as_bytes(), b"0012345678");
        assert_eq!(parse_line("hex:DEADbeef").unwrap().as_bytes(), &[0xde, 0xad, 0xbe, 0xef]);
        for bad in ["", "12a", "hex:abc", "hex:zz", "hex:", &"1".repeat(17)] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reader_yields_cards_then_times_out() {
        let mut reader = SimReader::new(std::io::Cursor::new("1234\nnot a card\n"));
        assert_eq!(reader.next_card(Duration::from_secs(1)).unwrap().unwrap().as_bytes(), b"1234");
        assert!(reader.next_card(Duration::from_secs(1)).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        #[test]
        fn random_lines_never_panic(line in ".{0,40}") {
            let _ = parse_line(&line);
        }
    }
}
