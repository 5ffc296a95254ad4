//! The simulated reader for a PC: one card per line (from stdin, a socket, or a script), each
//! a card number as [`CardUid`]'s `FromStr` reads it.

use std::io::BufRead;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use super::{CardReader, ReaderError};
use crate::credentials::{CardNumberError, CardUid};

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
            Ok(line) => {
                line.parse().map(Some).map_err(|e: CardNumberError| ReaderError::Garbled(e.0))
            }
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

    #[test]
    fn reader_yields_cards_then_times_out() {
        let mut reader = SimReader::new(std::io::Cursor::new("1234\nnot a card\n"));
        assert_eq!(reader.next_card(Duration::from_secs(1)).unwrap().unwrap().as_bytes(), b"1234");
        assert!(reader.next_card(Duration::from_secs(1)).is_err());
    }
}
