//! What can stop the running gate (a camera or a card reader that fails does not: the gate
//! goes on without it).

use crate::credentials::CardNumberError;
use crate::door::DoorError;
use crate::store::StoreError;
use crate::vision::VisionError;

/// Why a gate operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vision(#[from] VisionError),
    #[error(transparent)]
    Door(#[from] DoorError),
    #[error("cannot tell systemd: {0}")]
    Notify(#[from] std::io::Error),
    /// A simulation script line that is not a command.
    #[error("{reason}: {line}")]
    Script { line: String, reason: String },
    #[error(transparent)]
    Card(#[from] CardNumberError),
}

/// The result of a gate operation.
pub type Result<T, E = GateError> = std::result::Result<T, E>;
