//! One-time codes (visitor passes, PIN-reset codes): [`CODE_DIGITS`] digits from the OS random
//! source, stored only as `HMAC-SHA256(code key, code)` and looked up by that index, like cards.
//!
//! Eight digits: a guesser on the keypad gets the keypad's back-off budget (under 300 wrong
//! codes a day, shared with PINs), so with a hundred passes live at once the chance of hitting
//! one in a day stays below 1 in 3 000 (`a_day_of_keypad_guesses_rarely_hits_a_live_code`).

use hmac::{Hmac, KeyInit, Mac};
use rand::TryRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::keys::{Key, KeyError};

/// How many digits a code has.
pub const CODE_DIGITS: usize = 8;

/// A code as issued or typed: digits only, zeroised when dropped, never logged.
pub struct Code(Zeroizing<String>);

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(<redacted>)")
    }
}

/// Why a text is not a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a code is {CODE_DIGITS} digits")]
pub struct CodeFormatError;

impl Code {
    /// A fresh code, uniform over all [`CODE_DIGITS`]-digit strings.
    pub fn generate() -> Result<Code, KeyError> {
        let space = 10u64.pow(CODE_DIGITS as u32);
        let limit = u64::MAX - u64::MAX % space;
        loop {
            let mut bytes = [0u8; 8];
            rand::rngs::SysRng
                .try_fill_bytes(&mut bytes)
                .map_err(|e| KeyError::Random(e.to_string()))?;
            let value = u64::from_le_bytes(bytes);
            if value < limit {
                let text = format!("{:0width$}", value % space, width = CODE_DIGITS);
                return Ok(Code(Zeroizing::new(text)));
            }
        }
    }

    /// Checks the format of a typed or scanned code (surrounding whitespace is ignored).
    pub fn parse(text: &str) -> Result<Code, CodeFormatError> {
        let text = text.trim();
        if text.len() != CODE_DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeFormatError);
        }
        Ok(Code(Zeroizing::new(text.to_owned())))
    }

    /// The digits, to show once to whoever issued the code (or put in its QR code).
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

/// The stored, keyed index of a code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodeIndex(pub [u8; 32]);

impl std::fmt::Debug for CodeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeIndex(..)")
    }
}

impl CodeIndex {
    pub fn of(code_key: &Key, code: &Code) -> Self {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&code_key.0).expect("any key length");
        mac.update(code.reveal().as_bytes());
        Self(mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{LockoutState, PinConfig};

    #[test]
    fn codes_are_eight_random_digits_and_never_print() {
        let codes: Vec<String> =
            (0..200).map(|_| Code::generate().unwrap().reveal().to_owned()).collect();
        assert!(
            codes.iter().all(|c| c.len() == CODE_DIGITS && c.bytes().all(|b| b.is_ascii_digit()))
        );
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert!(distinct.len() > 195, "codes repeat: {}", distinct.len());
        for position in 0..CODE_DIGITS {
            let digits: std::collections::HashSet<u8> =
                codes.iter().map(|c| c.as_bytes()[position]).collect();
            assert!(digits.len() >= 8, "digit {position} takes only {digits:?}");
        }
        let code = Code::parse(" 01234567\n").unwrap();
        assert_eq!(code.reveal(), "01234567");
        assert_eq!(format!("{code:?}"), "Code(<redacted>)");
        for bad in ["", "1234567", "123456789", "1234567a", "１２３４５６７８"] {
            assert_eq!(Code::parse(bad).unwrap_err(), CodeFormatError, "{bad}");
        }
    }

    #[test]
    fn the_index_depends_on_key_and_code() {
        let code = Code::parse("12345678").unwrap();
        let a = CodeIndex::of(&Key([1; 32]), &code);
        assert_eq!(a, CodeIndex::of(&Key([1; 32]), &code));
        assert_ne!(a, CodeIndex::of(&Key([2; 32]), &code));
        assert_ne!(a, CodeIndex::of(&Key([1; 32]), &Code::parse("12345679").unwrap()));
    }

    /// A guesser typing a code every five seconds whenever the keypad lets them, for a day.
    fn guesses_in_a_day(rules: &PinConfig) -> u32 {
        let (mut keypad, mut t, mut guesses) = (LockoutState::default(), 0, 0);
        while t < 86_400 {
            if let Some(wait) = keypad.remaining(t) {
                t += wait;
                continue;
            }
            keypad = keypad.after_terminal_failure(t, rules);
            guesses += 1;
            t += 5;
        }
        guesses
    }

    #[test]
    fn a_day_of_keypad_guesses_rarely_hits_a_live_code() {
        let guesses = guesses_in_a_day(&PinConfig::default());
        let chance = f64::from(guesses) * 100.0 / 10f64.powi(CODE_DIGITS as i32);
        println!(
            "{guesses} code guesses in a day; with 100 live codes, chance of a hit {chance:.1e}"
        );
        assert!(chance < 1.0 / 3_000.0, "{guesses} guesses: {chance}");
        let open = PinConfig { terminal_max_failures: u32::MAX, ..PinConfig::default() };
        assert!(guesses_in_a_day(&open) > 10_000, "the simulation can fail");
    }
}
