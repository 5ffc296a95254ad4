//! `[reader]`: which card reader the gate listens to.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The kinds of card reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReaderKind {
    /// Typed card numbers (the PC simulator).
    #[default]
    Sim,
    /// A USB keyboard-wedge reader on an evdev device.
    Wedge,
    /// A Wiegand 26/34 reader on two GPIO inputs.
    Wiegand,
    /// An MFRC522 on SPI0.
    Rc522,
}

/// `[reader]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReaderConfig {
    pub kind: ReaderKind,
    /// The wedge reader's input device (a stable name from the udev rule in `hardware/`).
    pub device: PathBuf,
    /// Wiegand data lines (BCM).
    pub wiegand_d0: u8,
    pub wiegand_d1: u8,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        Self {
            kind: ReaderKind::Sim,
            device: PathBuf::from("/dev/input/facegate-reader"),
            wiegand_d0: 24,
            wiegand_d1: 25,
        }
    }
}
