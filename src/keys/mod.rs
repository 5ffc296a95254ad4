//! The site key and the purpose keys derived from it.
//!
//! The key file, made by `facegate init` from the OS random source, lives outside the database
//! (mode 0600), in the clear or sealed by systemd (see [`custody`]). Each use gets its own key
//! through HKDF-SHA256 with a distinct label, so no two purposes share key material. Keys are
//! zeroised when dropped and never printed.
//!
//! The file holds two 32-byte roots, and a third after a credential-root rotation. The *site
//! key* seeds the template, audit and register keys and is what `admin rotate-key` replaces:
//! templates and the audit chain are re-keyed in place. The *credential root* seeds the PIN
//! pepper, the card-index key and the one-time codes' index key. PIN hashes and card indexes
//! are one-way, so `admin rotate-key --credentials` re-keys them lazily: the previous root is
//! kept as the third root, and each PIN or card moves to the new root when it is next used or
//! re-issued (a one-time code made under the previous root works until the next rotation).
//! The site key also seeds the row-MAC key that binds each template, PIN hash and card index
//! to its resident: a site-key rotation re-MACs every row in the same transaction, while the
//! credential root's lazy rotation leaves the MACs alone.

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
/// Length of a key file that also holds the previous credential root (after its rotation).
pub const KEY_FILE_WITH_PREVIOUS_LEN: usize = 3 * KEY_LEN;

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
    /// A public name of a credential root, stored beside each PIN hash and card index.
    CredentialRootId,
    /// HMAC key binding each template, PIN hash and card index to its resident.
    RowMac,
    /// HMAC key of the one-time codes' index (visitor passes, PIN-reset codes).
    CodeIndex,
    /// HMAC key of the residents' search filters (characters of names and units).
    RegisterSearch,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Template => b"facegate/v1/template-transform",
            Self::PinPepper => b"facegate/v1/pin-pepper",
            Self::CardIndex => b"facegate/v1/card-index",
            Self::AuditChain => b"facegate/v1/audit-chain",
            Self::RegisterFields => b"facegate/v1/register-fields",
            Self::CredentialRootId => b"facegate/v1/credential-root-id",
            Self::RowMac => b"facegate/v1/row-mac",
            Self::CodeIndex => b"facegate/v1/code-index",
            Self::RegisterSearch => b"facegate/v1/register-search",
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
        "key file {path} holds {len} bytes, expected {KEY_FILE_LEN} or {KEY_FILE_WITH_PREVIOUS_LEN}: it is damaged, not a facegate key, or sealed by another key store than `[store] key_store` says"
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
    /// The credential root before the last credential rotation, until the next one.
    previous_credentials: Option<Key>,
}

impl std::fmt::Debug for SiteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SiteKey(<redacted>)")
    }
}

impl SiteKey {
    /// New roots from the OS random source.
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self { site: random_key()?, credentials: random_key()?, previous_credentials: None })
    }

    /// A new site key with the same credential roots (key rotation).
    pub(crate) fn rotated(&self) -> Result<Self, KeyError> {
        Ok(Self { site: random_key()?, ..self.clone() })
    }

    /// A new credential root; the current one becomes the previous (replacing any older one).
    pub(crate) fn with_new_credential_root(&self) -> Result<Self, KeyError> {
        Ok(Self {
            site: self.site.clone(),
            credentials: random_key()?,
            previous_credentials: Some(self.credentials.clone()),
        })
    }

    /// The key file's bytes: the site key, the credential root, then the previous credential
    /// root if there is one.
    pub(crate) fn to_file_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(KEY_FILE_WITH_PREVIOUS_LEN));
        bytes.extend_from_slice(&self.site.0);
        bytes.extend_from_slice(&self.credentials.0);
        if let Some(previous) = &self.previous_credentials {
            bytes.extend_from_slice(&previous.0);
        }
        bytes
    }

    /// The roots in a key file's bytes (`path` names the file in the error).
    pub(crate) fn from_file_bytes(bytes: &[u8], path: &Path) -> Result<Self, KeyError> {
        if bytes.len() != KEY_FILE_LEN && bytes.len() != KEY_FILE_WITH_PREVIOUS_LEN {
            return Err(KeyError::Length { path: path.to_owned(), len: bytes.len() });
        }
        let part =
            |i: usize| Key(bytes[i * KEY_LEN..(i + 1) * KEY_LEN].try_into().expect("32 bytes"));
        let previous_credentials = (bytes.len() == KEY_FILE_WITH_PREVIOUS_LEN).then(|| part(2));
        Ok(Self { site: part(0), credentials: part(1), previous_credentials })
    }

    /// The key for one purpose.
    pub fn derive(&self, purpose: Purpose) -> Key {
        let root = match purpose {
            Purpose::Template
            | Purpose::AuditChain
            | Purpose::RegisterFields
            | Purpose::RegisterSearch
            | Purpose::RowMac => &self.site,
            Purpose::PinPepper
            | Purpose::CardIndex
            | Purpose::CredentialRootId
            | Purpose::CodeIndex => &self.credentials,
        };
        expand(root, purpose)
    }

    /// The key for a credential purpose under the previous credential root, if there is one.
    pub fn derive_previous(&self, purpose: Purpose) -> Option<Key> {
        let credential = matches!(
            purpose,
            Purpose::PinPepper
                | Purpose::CardIndex
                | Purpose::CredentialRootId
                | Purpose::CodeIndex
        );
        self.previous_credentials.as_ref().filter(|_| credential).map(|root| expand(root, purpose))
    }

    /// Fixed roots for tests: the site key is `bytes`, the credential root its complement.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self { site: Key(bytes), credentials: Key(bytes.map(|b| !b)), previous_credentials: None }
    }
}

fn expand(root: &Key, purpose: Purpose) -> Key {
    let hkdf = Hkdf::<Sha256>::new(None, &root.0);
    let mut out = [0u8; KEY_LEN];
    hkdf.expand(purpose.label(), &mut out).expect("32 bytes is a valid HKDF-SHA256 length");
    Key(out)
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
            Purpose::CredentialRootId,
            Purpose::RowMac,
            Purpose::CodeIndex,
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

    #[test]
    fn a_credential_rotation_keeps_the_previous_root_in_the_file() {
        let key = SiteKey::generate().unwrap();
        let next = key.with_new_credential_root().unwrap();
        assert_eq!(key.derive(Purpose::Template), next.derive(Purpose::Template));
        assert_ne!(key.derive(Purpose::PinPepper), next.derive(Purpose::PinPepper));
        assert_eq!(next.derive_previous(Purpose::PinPepper), Some(key.derive(Purpose::PinPepper)));
        assert_eq!(next.derive_previous(Purpose::Template), None);
        assert_eq!(key.derive_previous(Purpose::CardIndex), None);
        let bytes = next.to_file_bytes();
        assert_eq!(bytes.len(), KEY_FILE_WITH_PREVIOUS_LEN);
        assert_eq!(SiteKey::from_file_bytes(&bytes, Path::new("k")).unwrap(), next);
        let again = next.with_new_credential_root().unwrap();
        assert_eq!(
            again.derive_previous(Purpose::CardIndex),
            Some(next.derive(Purpose::CardIndex))
        );
    }
}
