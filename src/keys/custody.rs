//! Key custody: where the key file rests and what it takes to read it.
//!
//! - `file`: the key file's bytes as they are (mode 0600). Whoever copies the medium it lies on
//!   has the key: on a device keep it on another medium than the database (a USB key inside the
//!   housing), or the gate warns at start.
//! - `systemd-host` / `tpm2`: the bytes are sealed by `systemd-creds encrypt` to this machine's
//!   host secret (`/var/lib/systemd/credential.secret`) or to its TPM2. The unit hands the
//!   unsealed key to the gate with `LoadCredentialEncrypted=` under [`CREDENTIAL_NAME`]; a manager's
//!   CLI outside the unit unseals it with `systemd-creds decrypt` (as root).
//!
//! No cryptography of our own here: sealing is systemd's. Key bytes live in zeroised buffers.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{KeyError, SiteKey};

/// The credential's name: sealed into it, and the file name under `$CREDENTIALS_DIRECTORY`.
pub const CREDENTIAL_NAME: &str = "facegate-site-key";

/// `[store] key_store`: how the key file is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStore {
    /// Sealed to this machine's TPM2 (refused where `systemd-creds has-tpm2` finds none).
    Tpm2,
    /// Sealed to the host secret: it lies on the same card, so this stops a copy of the
    /// database file alone, not a copy of the whole card.
    SystemdHost,
    /// The bytes in the clear: the simulator, or a key file on a separate medium.
    #[default]
    File,
}

impl KeyStore {
    /// The name in the config and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tpm2 => "tpm2",
            Self::SystemdHost => "systemd-host",
            Self::File => "file",
        }
    }

    /// The `--with-key=` of `systemd-creds encrypt`, for sealed key stores.
    fn seal_with(self) -> Option<&'static str> {
        match self {
            Self::Tpm2 => Some("tpm2"),
            Self::SystemdHost => Some("host"),
            Self::File => None,
        }
    }
}

/// One key file under one key store.
#[derive(Debug, Clone)]
pub struct Custody {
    store: KeyStore,
    path: PathBuf,
    /// Whether the key systemd hands over (`$CREDENTIALS_DIRECTORY`) stands for this file.
    handed_over: bool,
}

impl Custody {
    pub fn new(store: KeyStore, path: &Path) -> Self {
        Self { store, path: path.to_owned(), handed_over: true }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where a key rotation writes the new key before the database is re-keyed.
    pub fn pending(&self) -> Custody {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".new");
        Custody { store: self.store, path: PathBuf::from(name), handed_over: false }
    }

    /// The first step of a key rotation: writes `key` to the pending `.new` file, owned by this
    /// file's owner (the service user, also when the rotation runs as root).
    pub fn stage(&self, key: &SiteKey) -> Result<Custody, KeyError> {
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(&self.path)
            .map_err(|source| KeyError::Read { path: self.path.clone(), source })?;
        let pending = self.pending();
        pending.create(key)?;
        std::os::unix::fs::chown(&pending.path, Some(owner.uid()), Some(owner.gid()))
            .map_err(|source| KeyError::Write { path: pending.path.clone(), source })?;
        Ok(pending)
    }

    /// Writes `key` to a new file readable by its owner only, sealed as the key store says;
    /// never overwrites.
    pub fn create(&self, key: &SiteKey) -> Result<(), KeyError> {
        if self.path.exists() {
            return Err(KeyError::Exists { path: self.path.clone() });
        }
        let plain = key.to_file_bytes();
        let bytes = match self.store.seal_with() {
            None => Zeroizing::new(plain.to_vec()),
            Some(with) => {
                if self.store == KeyStore::Tpm2 {
                    check_tpm2()?;
                }
                let arg = format!("--with-key={with}");
                let name = format!("--name={CREDENTIAL_NAME}");
                let args: [&str; 5] = ["encrypt", &arg, &name, "-", "-"];
                self.systemd_creds("seal", &args, &plain[..])?
            }
        };
        write_private_new(&self.path, &bytes)
    }

    /// Reads the key: from systemd's hand-over when the gate runs under its unit, else from the
    /// file (unsealing it with `systemd-creds decrypt` for a sealed key store).
    pub fn load(&self) -> Result<SiteKey, KeyError> {
        let bytes = match self.store.seal_with() {
            None => self.read()?,
            Some(_) => match self.handed_over_bytes()? {
                Some(bytes) => bytes,
                None => {
                    self.read()?;
                    let path = self.path.to_string_lossy().into_owned();
                    let name = format!("--name={CREDENTIAL_NAME}");
                    let args: [&str; 4] = ["decrypt", &name, &path, "-"];
                    self.systemd_creds("unseal", &args, &[])?
                }
            },
        };
        SiteKey::from_file_bytes(&bytes, &self.path)
    }

    /// Moves this (pending) file over `target`: the last step of a key rotation.
    pub fn replace(&self, target: &Custody) -> Result<(), KeyError> {
        std::fs::rename(&self.path, &target.path)
            .map_err(|source| KeyError::Write { path: target.path.clone(), source })
    }

    /// Deletes this (pending) file.
    pub fn remove(&self) -> Result<(), KeyError> {
        std::fs::remove_file(&self.path)
            .map_err(|source| KeyError::Write { path: self.path.clone(), source })
    }

    /// On a device: why keeping the key this way leaves it beside the data, if it does.
    pub fn beside_data(&self, database: &Path) -> Option<String> {
        if self.store != KeyStore::File || !same_filesystem(&self.path, database) {
            return None;
        }
        Some(format!(
            "key file {} lies on the same medium as the database: whoever copies it can read every template; \
             use `key_store = \"tpm2\"` or `\"systemd-host\"`, or move the key file to a separate medium",
            self.path.display()
        ))
    }

    fn read(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        std::fs::read(&self.path).map(Zeroizing::new).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => KeyError::Missing { path: self.path.clone() },
            _ => KeyError::Read { path: self.path.clone(), source },
        })
    }

    fn handed_over_bytes(&self) -> Result<Option<Zeroizing<Vec<u8>>>, KeyError> {
        let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY").filter(|_| self.handed_over)
        else {
            return Ok(None);
        };
        let path = Path::new(&dir).join(CREDENTIAL_NAME);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KeyError::Read { path, source }),
        }
    }

    /// Runs `systemd-creds` with `input` on its standard input; returns its standard output.
    fn systemd_creds(
        &self,
        action: &'static str,
        args: &[&str],
        input: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let fail = |reason: String| KeyError::Sealing { action, path: self.path.clone(), reason };
        let mut child = Command::new("systemd-creds")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot run systemd-creds: {e}")))?;
        let mut stdin = child.stdin.take().expect("piped");
        let written = stdin.write_all(input);
        drop(stdin);
        let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
        let stdout = Zeroizing::new(out.stdout);
        written.map_err(|e| fail(e.to_string()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let reason = stderr.lines().last().unwrap_or("failed").trim().to_owned();
            return Err(fail(reason));
        }
        Ok(stdout)
    }
}

/// Refuses `tpm2` unless `systemd-creds has-tpm2` reports a usable TPM2.
fn check_tpm2() -> Result<(), KeyError> {
    let out = Command::new("systemd-creds")
        .arg("has-tpm2")
        .output()
        .map_err(|e| KeyError::NoTpm(format!("cannot run systemd-creds: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stdout);
    Err(KeyError::NoTpm(said.lines().next().unwrap_or("no").trim().to_owned()))
}

fn write_private_new(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => KeyError::Exists { path: path.to_owned() },
        _ => KeyError::Write { path: path.to_owned(), source },
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|source| KeyError::Write { path: path.to_owned(), source })
}

/// Whether two files (or, for a file not made yet, its folder) lie on one filesystem.
fn same_filesystem(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let device = |p: &Path| {
        let existing = if p.exists() { p } else { p.parent().unwrap_or(Path::new(".")) };
        let existing = if existing.as_os_str().is_empty() { Path::new(".") } else { existing };
        std::fs::metadata(existing).map(|m| m.dev()).ok()
    };
    matches!((device(a), device(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temp dir standing in for the data partition, and one holding the "host" secret.
    fn sealed_dirs() -> (tempfile::TempDir, tempfile::TempDir) {
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap())
    }

    /// Runs `f` with `SYSTEMD_CREDENTIAL_SECRET` in `host`; tests that touch it take this lock.
    fn with_host_secret<T>(host: &Path, f: impl FnOnce() -> T) -> T {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: every test that reads or writes this variable holds LOCK.
        unsafe { std::env::set_var("SYSTEMD_CREDENTIAL_SECRET", host.join("credential.secret")) };
        let out = f();
        unsafe { std::env::remove_var("SYSTEMD_CREDENTIAL_SECRET") };
        out
    }

    #[test]
    fn a_plain_key_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let custody = Custody::new(KeyStore::File, &dir.path().join("site.key"));
        let key = SiteKey::generate().unwrap();
        custody.create(&key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(custody.path()).unwrap();
        assert_eq!((meta.permissions().mode() & 0o777, meta.len()), (0o600, 64));
        assert!(matches!(
            custody.create(&SiteKey::generate().unwrap()),
            Err(KeyError::Exists { .. })
        ));
        assert_eq!(custody.load().unwrap(), key);
    }

    #[test]
    fn missing_or_damaged_key_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = Custody::new(KeyStore::File, &dir.path().join("none.key")).load().unwrap_err();
        assert!(err.to_string().contains("facegate init"), "{err}");
        let short = dir.path().join("short.key");
        std::fs::write(&short, [1u8; 10]).unwrap();
        let err = Custody::new(KeyStore::File, &short).load().unwrap_err();
        assert!(matches!(err, KeyError::Length { len: 10, .. }), "{err}");
        assert_eq!(format!("{:?}", SiteKey::from_bytes([1; 32])), "SiteKey(<redacted>)");
    }

    #[test]
    fn a_host_sealed_key_holds_no_key_bytes_and_opens_only_with_its_host_secret() {
        let (data, host) = sealed_dirs();
        let custody = Custody::new(KeyStore::SystemdHost, &data.path().join("site.cred"));
        let key = SiteKey::generate().unwrap();
        with_host_secret(host.path(), || custody.create(&key)).unwrap();
        let sealed = std::fs::read(custody.path()).unwrap();
        let plain = key.to_file_bytes();
        assert!(!sealed.windows(16).any(|w| plain.windows(16).any(|p| p == w)));
        assert_eq!(with_host_secret(host.path(), || custody.load()).unwrap(), key);

        let other_host = tempfile::tempdir().unwrap();
        let err = with_host_secret(other_host.path(), || custody.load()).unwrap_err();
        assert!(matches!(err, KeyError::Sealing { action: "unseal", .. }), "{err}");
        assert!(err.to_string().contains("site.cred"), "{err}");
    }

    #[test]
    fn tpm2_is_refused_clearly_where_there_is_none() {
        let has_tpm = Command::new("systemd-creds").arg("has-tpm2").status().unwrap().success();
        assert!(!has_tpm, "this test machine is expected to have no TPM2");
        let dir = tempfile::tempdir().unwrap();
        let custody = Custody::new(KeyStore::Tpm2, &dir.path().join("site.cred"));
        let err = custody.create(&SiteKey::generate().unwrap()).unwrap_err();
        assert!(matches!(err, KeyError::NoTpm(_)), "{err}");
        assert!(err.to_string().contains("systemd-host"), "{err}");
        assert!(!custody.path().exists());
    }

    #[test]
    fn the_key_systemd_hands_over_is_used_for_the_key_file_but_not_for_a_pending_one() {
        let (data, host) = sealed_dirs();
        let custody = Custody::new(KeyStore::SystemdHost, &data.path().join("site.cred"));
        let handed = SiteKey::from_bytes([3; 32]);
        let creds = tempfile::tempdir().unwrap();
        std::fs::write(creds.path().join(CREDENTIAL_NAME), &handed.to_file_bytes()[..]).unwrap();
        let pending_key = SiteKey::generate().unwrap();
        let (main, pending) = with_host_secret(host.path(), || {
            custody.pending().create(&pending_key).unwrap();
            // SAFETY: under the same lock as SYSTEMD_CREDENTIAL_SECRET.
            unsafe { std::env::set_var("CREDENTIALS_DIRECTORY", creds.path()) };
            let out = (custody.load(), custody.pending().load());
            unsafe { std::env::remove_var("CREDENTIALS_DIRECTORY") };
            out
        });
        assert_eq!(main.unwrap(), handed);
        assert_eq!(pending.unwrap(), pending_key);
    }

    #[test]
    fn a_plain_key_beside_the_database_is_flagged_and_one_on_another_medium_is_not() {
        let data = tempfile::tempdir().unwrap();
        let database = data.path().join("gate.db");
        let beside = Custody::new(KeyStore::File, &data.path().join("site.key"));
        assert!(beside.beside_data(&database).unwrap().contains("same medium"));
        let sealed = Custody::new(KeyStore::SystemdHost, &data.path().join("site.cred"));
        assert_eq!(sealed.beside_data(&database), None);
        // /dev/shm is a tmpfs: another filesystem than the temp dir, like a USB key.
        let usb = tempfile::tempdir_in("/dev/shm").unwrap();
        assert!(!same_filesystem(usb.path(), data.path()), "/dev/shm must be a separate fs here");
        let apart = Custody::new(KeyStore::File, &usb.path().join("site.key"));
        assert_eq!(apart.beside_data(&database), None);
    }
}
