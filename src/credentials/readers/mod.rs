//! Card readers behind one trait. Each reader's parser turns raw input (key codes, Wiegand
//! pulses, RC522 frames, text lines) into a [`CardUid`] or a clear error, never a panic: garbage
//! from a reader must not open the door or stop the gate.

mod config;
pub mod rc522;
pub mod sim;
pub mod wedge;
pub mod wiegand;

use std::time::Duration;

use super::CardUid;

pub use config::{ReaderConfig, ReaderKind};

/// Why a card could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReaderError {
    #[error("card data is not usable: {0}")]
    Garbled(&'static str),
    #[error("card frame has {0} bits; 26 or 34 expected")]
    FrameLength(usize),
    #[error("card frame failed its parity check")]
    Parity,
    #[error("card UID check byte is wrong")]
    Checksum,
    #[error("no card answered")]
    NoCard,
    #[error("more than one card answered: present one card at a time")]
    Collision,
    #[error("reader device: {0}")]
    Device(String),
}

/// A source of card UIDs.
pub trait CardReader: Send {
    /// The next card presented within `timeout`, `Ok(None)` if none.
    fn next_card(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError>;
}
