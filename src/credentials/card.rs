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
