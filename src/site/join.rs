//! The one-time join bundle: what a new door needs from its site — the key file, the broker
//! URL and the door's own broker login — in an age file under a one-time passphrase (the
//! site key never crosses the broker). `facegate site door add` makes it, `facegate join`
//! opens it on the door and stores the key as the door's `[store] key_store` says, and writes
//! the sync agent's network drop-in for the broker's addresses ([`broker_addresses`]).

use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;

use rand::TryRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::connect::BrokerLogin;
use super::link::BrokerUrl;
use super::sync::DoorLogin;
use super::{DoorId, SiteError, SiteId};
use crate::keys::{SiteKey, backup};
use crate::store::{Store, StoreConfig};

/// What a bundle holds.
#[derive(Serialize, Deserialize)]
struct Bundle {
    login: DoorLogin,
    /// The key file's bytes, hex.
    key: String,
}

/// Seals a join bundle for `door` under a fresh one-time passphrase; returns the bundle and
/// the passphrase (shown once, never stored).
pub fn make_bundle(
    key: &SiteKey,
    site: &SiteId,
    door: &DoorId,
    broker: BrokerLogin,
) -> Result<(Vec<u8>, Zeroizing<String>), SiteError> {
    let bundle = Bundle {
        login: DoorLogin { site: site.clone(), door: door.clone(), broker },
        key: hex::encode(&key.to_file_bytes()[..]),
    };
    let plain = Zeroizing::new(serde_json::to_vec(&bundle).map_err(invalid)?);
    let passphrase = secret(PASSPHRASE_GROUPS * 4, true)?;
    let sealed = backup::seal(&plain, &passphrase).map_err(invalid)?;
    Ok((sealed, passphrase))
}

/// Opens a bundle, creates the door's database and key file (refusing to overwrite either)
/// and makes it the replica of the bundle's door; writes the door's broker login to `login`
/// (mode 0600) with the broker's addresses resolved now ([`broker_addresses`]). Refuses a
/// plain link to a broker off loopback and a TLS one without the site CA before anything is
/// written. Returns the door's login.
pub fn join(
    sealed: &[u8],
    passphrase: &str,
    store: &StoreConfig,
    login_path: &Path,
) -> Result<DoorLogin, SiteError> {
    let plain = backup::open(sealed, passphrase).map_err(invalid)?;
    let bundle: Bundle = serde_json::from_slice(&plain).map_err(invalid)?;
    let bytes = Zeroizing::new(hex::decode(&bundle.key).map_err(invalid)?);
    let key = SiteKey::from_file_bytes(&bytes, Path::new("join bundle")).map_err(invalid)?;
    if login_path.exists() {
        return Err(SiteError::Invalid(format!("{} exists already", login_path.display())));
    }
    let mut login = bundle.login;
    super::link::servers_and_tls(&login.broker)?;
    login.broker.addresses = broker_addresses(&login.broker.url)?;
    let mut door = Store::create_with_key(store, &key)?;
    door.join_site(&login.site, &login.door)?;
    write_private(login_path, &serde_json::to_vec_pretty(&login).map_err(invalid)?)?;
    Ok(login)
}

/// Resolves the broker's host name of the login at `login_path` again and stores the new
/// addresses (after the broker moved to another address); returns them, for the sync agent's
/// network drop-in.
pub fn resolve_again(login_path: &Path) -> Result<Vec<IpAddr>, SiteError> {
    let mut login = read_login(login_path)?;
    login.broker.addresses = broker_addresses(&login.broker.url)?;
    let tmp = login_path.with_extension("facegate-new");
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, &serde_json::to_vec_pretty(&login).map_err(invalid)?)?;
    std::fs::rename(&tmp, login_path)
        .map_err(|e| SiteError::Invalid(format!("cannot replace {}: {e}", login_path.display())))?;
    Ok(login.broker.addresses)
}

/// Reads a door's login written by [`join`].
pub fn read_login(path: &Path) -> Result<DoorLogin, SiteError> {
    let text = std::fs::read(path).map_err(|e| {
        SiteError::Invalid(format!(
            "cannot read {} (run `facegate join` first): {e}",
            path.display()
        ))
    })?;
    serde_json::from_slice(&text).map_err(invalid)
}

/// The addresses of the broker in a login's URL ([`BrokerUrl`]), a host name resolved now,
/// once: systemd's `IPAddressAllow=` takes addresses only, and the sync agent dials these.
pub fn broker_addresses(url: &str) -> Result<Vec<IpAddr>, SiteError> {
    let url = BrokerUrl::parse(url)?;
    let resolved = (url.host.as_str(), url.port).to_socket_addrs().map_err(|e| {
        SiteError::Invalid(format!("cannot resolve the broker's host {:?}: {e}", url.host))
    })?;
    let mut addresses: Vec<IpAddr> = resolved.map(|a| a.ip()).collect();
    addresses.sort();
    addresses.dedup();
    Ok(addresses)
}

/// A new broker password (128 bits).
pub fn new_password() -> Result<Zeroizing<String>, SiteError> {
    secret(26, false)
}

const PASSPHRASE_GROUPS: usize = 5;
/// No 0/o, 1/l/i: easy to read out and type (31 characters, about 4.95 bits each).
const ALPHABET: &[u8; 31] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// `len` random characters of [`ALPHABET`], in groups of 4 joined by '-' with `grouped`.
fn secret(len: usize, grouped: bool) -> Result<Zeroizing<String>, SiteError> {
    let mut out = Zeroizing::new(String::new());
    let mut count = 0;
    while count < len {
        let mut byte = [0u8; 1];
        rand::rngs::SysRng
            .try_fill_bytes(&mut byte)
            .map_err(|e| SiteError::Invalid(format!("the OS random source failed: {e}")))?;
        if byte[0] >= 248 {
            continue; // 248 = 8 × 31: every character equally likely
        }
        if grouped && count > 0 && count % 4 == 0 {
            out.push('-');
        }
        out.push(ALPHABET[(byte[0] % 31) as usize] as char);
        count += 1;
    }
    Ok(out)
}

/// Writes a file only its owner can read, refusing to overwrite.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SiteError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| SiteError::Invalid(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| SiteError::Invalid(format!("cannot write {}: {e}", path.display())))
}

fn invalid(e: impl std::fmt::Display) -> SiteError {
    SiteError::Invalid(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_opens_once_into_a_door_with_the_site_key_and_its_own_login_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = SiteKey::generate().unwrap();
        let (site, door): (SiteId, DoorId) = ("oak".parse().unwrap(), "north".parse().unwrap());
        let broker = BrokerLogin {
            url: "nats://localhost:4222".into(),
            user: Some("door-oak-north".into()),
            password: Some("s3cret-door-password".into()),
            ..BrokerLogin::default()
        };
        let (sealed, passphrase) = make_bundle(&key, &site, &door, broker.clone()).unwrap();
        assert!(sealed.starts_with(b"age-encryption.org/v1\n-> scrypt "));
        assert!(!String::from_utf8_lossy(&sealed).contains("s3cret"), "the login is sealed");
        assert!(passphrase.len() >= 24, "{} characters", passphrase.len());
        let store = StoreConfig::in_dir(dir.path(), "door.db");
        let login_path = dir.path().join("site-login.json");
        let err = join(&sealed, "wrong passphrase here", &store, &login_path).err().unwrap();
        assert!(err.to_string().contains("does not open"), "{err}");
        assert!(!store.database.exists() && !store.key_file.exists());

        let login = join(&sealed, &passphrase, &store, &login_path).unwrap();
        assert_eq!((login.door.as_str(), &login.broker.url), ("north", &broker.url));
        assert!(!login.broker.addresses.is_empty(), "localhost resolved at join");
        assert!(login.broker.addresses.iter().all(|ip| ip.is_loopback()));
        assert_eq!(store.custody().load().unwrap(), key);
        let state = Store::open(&store).unwrap().replica().unwrap().unwrap();
        assert_eq!((state.site.as_str(), state.door.as_str(), state.revision), ("oak", "north", 0));
        assert_eq!(read_login(&login_path).unwrap(), login);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&login_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the login file is private");
        assert!(join(&sealed, &passphrase, &store, &login_path).is_err(), "never overwrites");
    }

    #[test]
    fn broker_addresses_are_read_from_every_url_form() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        for (url, expected) in [
            ("tls://192.0.2.10:4222", ip("192.0.2.10")),
            ("nats://door:pw@192.0.2.11", ip("192.0.2.11")),
            ("192.0.2.12:4333", ip("192.0.2.12")),
            ("tls://[2001:db8::10]:4222/", ip("2001:db8::10")),
        ] {
            assert_eq!(broker_addresses(url).unwrap(), [expected], "{url}");
        }
        for bad in ["tls://", "tls://192.0.2.10:port", "tls://[2001:db8::10"] {
            assert!(broker_addresses(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_door_refuses_a_plain_link_to_a_broker_elsewhere_before_writing_anything() {
        let dir = tempfile::tempdir().unwrap();
        let key = SiteKey::generate().unwrap();
        let broker = BrokerLogin { url: "nats://192.0.2.10:4222".into(), ..BrokerLogin::default() };
        let ids: (SiteId, DoorId) = ("oak".parse().unwrap(), "north".parse().unwrap());
        let (sealed, passphrase) = make_bundle(&key, &ids.0, &ids.1, broker).unwrap();
        let store = StoreConfig::in_dir(dir.path(), "door.db");
        let login_path = dir.path().join("site-login.json");
        let err = join(&sealed, &passphrase, &store, &login_path).err().unwrap().to_string();
        assert!(err.contains("use tls://"), "{err}");
        assert!(!store.database.exists() && !login_path.exists());
    }
}
