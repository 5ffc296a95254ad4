//! Passphrase-protected backups: the key file's bytes (or a copy of the register) in an age file with a scrypt
//! (passphrase) recipient, a well-kept open format (`age -d` reads it too). The scrypt work factor
//! is age's own choice (about a second on the machine that exports).

use age::secrecy::SecretString;
use zeroize::Zeroizing;

use super::SiteKey;

/// The shortest passphrase a backup accepts.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Why a backup could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters")]
    ShortPassphrase,
    #[error(
        "the backup does not open with this passphrase (wrong passphrase, or not a facegate key backup)"
    )]
    WrongPassphrase,
    #[error("the backup opened but does not hold a facegate key: {0}")]
    NotAKey(String),
    #[error("cannot write the backup: {0}")]
    Encrypt(String),
}

/// The key, sealed under `passphrase`.
pub fn export(key: &SiteKey, passphrase: &str) -> Result<Vec<u8>, BackupError> {
    seal(&key.to_file_bytes(), passphrase)
}

/// The key in a backup made by [`export`].
pub fn import(backup: &[u8], passphrase: &str) -> Result<SiteKey, BackupError> {
    let plain = open(backup, passphrase)?;
    SiteKey::from_file_bytes(&plain, std::path::Path::new("backup"))
        .map_err(|e| BackupError::NotAKey(e.to_string()))
}

/// Any secret bytes (the key file, a door's join bundle, a copy of the register) in an age file
/// under `passphrase`.
pub fn seal(plain: &[u8], passphrase: &str) -> Result<Vec<u8>, BackupError> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(BackupError::ShortPassphrase);
    }
    let recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    age::encrypt(&recipient, plain).map_err(|e| BackupError::Encrypt(e.to_string()))
}

/// The bytes in an age file made by [`seal`].
pub fn open(backup: &[u8], passphrase: &str) -> Result<Zeroizing<Vec<u8>>, BackupError> {
    let identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    Ok(Zeroizing::new(age::decrypt(&identity, backup).map_err(|_| BackupError::WrongPassphrase)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSPHRASE: &str = "correct horse battery staple";

    #[test]
    fn a_backup_round_trips_holds_no_key_bytes_and_refuses_a_wrong_passphrase() {
        let key = SiteKey::generate().unwrap();
        let backup = export(&key, PASSPHRASE).unwrap();
        let plain = key.to_file_bytes();
        assert!(backup.starts_with(b"age-encryption.org/v1\n-> scrypt "), "an age scrypt file");
        assert!(
            !backup.windows(8).any(|w| plain.windows(8).any(|p| p == w)),
            "no 8 consecutive key bytes appear in the backup"
        );
        assert_eq!(import(&backup, PASSPHRASE).unwrap(), key);
        let err = import(&backup, "correct horse battery stapler").unwrap_err();
        assert!(matches!(err, BackupError::WrongPassphrase), "{err}");
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
    }

    #[test]
    fn short_passphrases_and_files_that_are_not_backups_are_refused() {
        let key = SiteKey::generate().unwrap();
        assert!(matches!(export(&key, "short"), Err(BackupError::ShortPassphrase)));
        assert!(matches!(import(&[0u8; 64], PASSPHRASE), Err(BackupError::WrongPassphrase)));
    }
}
