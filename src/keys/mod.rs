//! The site key and the purpose keys derived from it.
//!
//! The key file, made by `facegate init` from the OS random source, lives outside the database
//! (mode 0600), in the clear or sealed by systemd (see [`custody`]). Each use gets its own key
//! through HKDF-SHA256 with a distinct label, so no two purposes share key material. Keys are
//! zeroised when dropped and never printed.
//!
//! The file holds two 32-byte roots. The *site key* seeds the template and audit keys and is
//! what `admin rotate-key` replaces: templates and the audit chain can be re-keyed in place. The
//! *credential root* seeds the PIN pepper, the card-index key and the row-MAC key (which binds
//! each template, PIN hash and card index to its resident) and survives a rotation: PIN
//! hashes and card indexes are one-way, so they cannot be re-keyed without every resident
//! re-typing their PIN and re-presenting their cards (after a suspected key leak, ask for that
//! too).

pub mod backup;
pub mod custody;

use std::path::{Path, PathBuf};

use hkdf::Hkdf;
use rand::TryRng;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of every key.
pub const KEY_LEN: usize = 32;
/// Length of the key file: the site key, then the credential root.
pub const KEY_FILE_LEN: usize = 2 * KEY_LEN;

/// What a derived key is for; the label is fixed forever for a given purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Seeds of the salted template transforms.
    Template,
    /// argon2's secret input for PIN hashes.
    PinPepper,
    /// HMAC key of the card-UID index.
    CardIndex,
    /// HMAC key of the audit chain.
    AuditChain,
    /// AEAD key of the register's personal fields (name, unit, birth year, guardian, operator).
    RegisterFields,
    /// HMAC key binding each template, PIN hash and card index to its resident.
    RowMac,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Template => b"facegate/v1/template-transform",
            Self::PinPepper => b"facegate/v1/pin-pepper",
            Self::CardIndex => b"facegate/v1/card-index",
            Self::AuditChain => b"facegate/v1/audit-chain",
            Self::RegisterFields => b"facegate/v1/register-fields",
            Self::RowMac => b"facegate/v1/row-mac",
        }
    }
}

/// A 32-byte key.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Key(pub [u8; KEY_LEN]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "key file {path} is missing: run `facegate init` (or restore the key file from its backup)"
    )]
    Missing { path: PathBuf },
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "key file {path} holds {len} bytes, expected {KEY_FILE_LEN}: it is damaged, not a facegate key, or sealed by another key store than `[store] key_store` says"
    )]
    Length { path: PathBuf, len: usize },
    #[error("key file {path} already exists: refusing to overwrite it")]
    Exists { path: PathBuf },
    #[error("cannot write key file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("systemd-creds cannot {action} key file {path}: {reason}")]
    Sealing { action: &'static str, path: PathBuf, reason: String },
    #[error(
        "no TPM2 usable here (`systemd-creds has-tpm2` says {0:?}): choose key store `systemd-host` or a key file on a separate medium"
    )]
    NoTpm(String),
}

/// The roots in the key file.
#[derive(Clone, PartialEq, Eq)]
pub struct SiteKey {
    site: Key,
    credentials: Key,
}

impl std::fmt::Debug for SiteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SiteKey(<redacted>)")
    }
}

impl SiteKey {
    /// New roots from the OS random source.
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self { site: random_key()?, credentials: random_key()? })
    }

    /// A new site key with the same credential root (key rotation).
    pub(crate) fn rotated(&self) -> Result<Self, KeyError> {
        Ok(Self { site: random_key()?, credentials: self.credentials.clone() })
    }

    /// The key file's bytes: the site key, then the credential root.
    pub(crate) fn to_file_bytes(&self) -> zeroize::Zeroizing<[u8; KEY_FILE_LEN]> {
        let mut bytes = zeroize::Zeroizing::new([0u8; KEY_FILE_LEN]);
        bytes[..KEY_LEN].copy_from_slice(&self.site.0);
        bytes[KEY_LEN..].copy_from_slice(&self.credentials.0);
        bytes
    }

    /// The roots in a key file's bytes (`path` names the file in the error).
    pub(crate) fn from_file_bytes(bytes: &[u8], path: &Path) -> Result<Self, KeyError> {
        if bytes.len() != KEY_FILE_LEN {
            return Err(KeyError::Length { path: path.to_owned(), len: bytes.len() });
        }
        let half = |range: std::ops::Range<usize>| Key(bytes[range].try_into().expect("32 bytes"));
        Ok(Self { site: half(0..KEY_LEN), credentials: half(KEY_LEN..KEY_FILE_LEN) })
    }

    /// The key for one purpose.
    pub fn derive(&self, purpose: Purpose) -> Key {
        let root = match purpose {
            Purpose::Template | Purpose::AuditChain | Purpose::RegisterFields => &self.site,
            Purpose::PinPepper | Purpose::CardIndex | Purpose::RowMac => &self.credentials,
        };
        let hkdf = Hkdf::<Sha256>::new(None, &root.0);
        let mut out = [0u8; KEY_LEN];
        hkdf.expand(purpose.label(), &mut out).expect("32 bytes is a valid HKDF-SHA256 length");
        Key(out)
    }

    /// Fixed roots for tests: the site key is `bytes`, the credential root its complement.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self { site: Key(bytes), credentials: Key(bytes.map(|b| !b)) }
    }
}

fn random_key() -> Result<Key, KeyError> {
    let mut bytes = [0u8; KEY_LEN];
    rand::rngs::SysRng.try_fill_bytes(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(Key(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_get_distinct_stable_keys() {
        let site = SiteKey::from_bytes([7; KEY_LEN]);
        let all = [
            Purpose::Template,
            Purpose::PinPepper,
            Purpose::CardIndex,
            Purpose::AuditChain,
            Purpose::RegisterFields,
            Purpose::RowMac,
        ]
        .map(|p| site.derive(p));
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            site.derive(Purpose::Template),
            SiteKey::from_bytes([7; KEY_LEN]).derive(Purpose::Template)
        );
        assert_ne!(
            site.derive(Purpose::Template),
            SiteKey::from_bytes([8; KEY_LEN]).derive(Purpose::Template)
        );
    }

    #[test]
    fn rotation_replaces_the_site_key_and_keeps_the_credential_keys() {
        let key = SiteKey::generate().unwrap();
        let next = key.rotated().unwrap();
        assert_ne!(key.derive(Purpose::Template), next.derive(Purpose::Template));
        assert_ne!(key.derive(Purpose::AuditChain), next.derive(Purpose::AuditChain));
        assert_eq!(key.derive(Purpose::PinPepper), next.derive(Purpose::PinPepper));
        assert_eq!(key.derive(Purpose::CardIndex), next.derive(Purpose::CardIndex));
    }
}
