//! Cards: a UID is only ever stored as `HMAC-SHA256(card_key, uid)`, looked up by that index.
//!
//! UID-only cards (125 kHz EM4100, MIFARE UIDs) can be copied with cheap tools: a door or a
//! resident can require card + PIN (see `[access] two_factor`).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::keys::Key;

/// A card's UID as read: bytes, zeroised when dropped, never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct CardUid(Vec<u8>);

impl std::fmt::Debug for CardUid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardUid(<{} bytes>)", self.0.len())
    }
}

impl CardUid {
    /// A UID of 1 to 16 bytes.
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (1..=16).contains(&bytes.len()).then_some(Self(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Why a text is not a card number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("card data is not usable: {0}")]
pub struct CardNumberError(pub &'static str);

impl std::str::FromStr for CardUid {
    type Err = CardNumberError;

    /// A card number as printed on the card (1 to 16 digits, as a keyboard-wedge reader types
    /// it), or `hex:` followed by the UID bytes; surrounding whitespace is ignored.
    fn from_str(text: &str) -> Result<Self, CardNumberError> {
        let text = text.trim();
        if let Some(hex) = text.strip_prefix("hex:") {
            if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(CardNumberError("hex UIDs are pairs of hex digits"));
            }
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("checked hex"))
                .collect();
            return CardUid::new(bytes).ok_or(CardNumberError("a UID has 1 to 16 bytes"));
        }
        if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardNumberError("a card number is 1 to 16 digits"));
        }
        Ok(Self(text.as_bytes().to_vec()))
    }
}

/// The stored, keyed index of a card.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CardIndex(pub [u8; 32]);

impl std::fmt::Debug for CardIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardIndex(..)")
    }
}

impl CardIndex {
    pub fn of(card_key: &Key, uid: &CardUid) -> Self {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&card_key.0).expect("any key length");
        mac.update(uid.as_bytes());
        Self(mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimal_and_hex_card_numbers() {
        let uid = |text: &str| text.parse::<CardUid>().unwrap();
        assert_eq!(uid(" 0012345678\n").as_bytes(), b"0012345678");
        assert_eq!(uid("hex:DEADbeef").as_bytes(), &[0xde, 0xad, 0xbe, 0xef]);
        for bad in ["", "12a", "hex:abc", "hex:zz", "hex:", &"1".repeat(17)] {
            assert!(bad.parse::<CardUid>().is_err(), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        #[test]
        fn random_text_never_panics(text in ".{0,40}") {
            let _ = text.parse::<CardUid>();
        }
    }

    #[test]
    fn index_depends_on_key_and_uid_and_uids_never_print() {
        let uid = CardUid::new(vec![0xde, 0xad, 0xbe, 0xef]).unwrap();
        let a = CardIndex::of(&Key([1; 32]), &uid);
        assert_eq!(a, CardIndex::of(&Key([1; 32]), &uid));
        assert_ne!(a, CardIndex::of(&Key([2; 32]), &uid));
        assert_ne!(
            a,
            CardIndex::of(&Key([1; 32]), &CardUid::new(vec![0xde, 0xad, 0xbe, 0xee]).unwrap())
        );
        assert_eq!(format!("{uid:?}"), "CardUid(<4 bytes>)");
        assert!(CardUid::new(vec![]).is_none() && CardUid::new(vec![0; 17]).is_none());
    }
}
