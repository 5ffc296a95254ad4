//! Credentials that are not biometric: PINs (argon2id, peppered, with lockout) and cards
//! (keyed UID index), one-time codes (keyed index), and the readers that deliver card UIDs.

pub mod card;
pub mod code;
pub mod lockout;
pub mod pin;
pub mod readers;

pub use card::{CardIndex, CardNumberError, CardUid};
pub use code::{Code, CodeFormatError, CodeIndex};
pub use lockout::{AttemptLimits, LockoutState};
pub use pin::{Pin, PinConfig, PinError, PinHasher, WeakPin};
