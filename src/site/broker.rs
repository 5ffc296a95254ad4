//! The broker's side of site mode: the `nats-server` configuration of a site, its users and what
//! each may do.
//!
//! One NATS account per site (`site-<site>`, JetStream enabled), so sites sharing a broker never
//! see each other's subjects. In it, the site controller's user `site-<site>` writes the KV bucket
//! and consumes the stream; each door's user `door-<site>-<door>` may only watch the bucket (the
//! JetStream API calls of an async-nats KV watch, nothing else), publish under
//! `site.<site>.door.<door>.>` and receive on its own inbox `_INBOX_<site>_<door>`. A home
//! automation user (Home Assistant) reads the doors' alarms and status over MQTT and publishes
//! nothing. Passwords are stored and rendered as bcrypt hashes only.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::ids::{DoorId, SiteId};

/// bcrypt's cost for broker passwords: the `nats server passwd` tool's default.
pub const BCRYPT_COST: u32 = 11;

/// Why a broker password could not be hashed or read back.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot hash the broker password")]
    Hash(#[source] bcrypt::BcryptError),
    #[error("a stored broker password hash is not a bcrypt hash ($2a$/$2b$, cost, 53 characters)")]
    NotBcrypt,
}

/// A bcrypt hash of a broker password, safe to write into the server configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Hashes a new password at [`BCRYPT_COST`] with a random salt.
    pub fn of(password: &str) -> Result<PasswordHash, BrokerError> {
        bcrypt::hash(password, BCRYPT_COST).map(PasswordHash).map_err(BrokerError::Hash)
    }

    /// A hash read back from storage; only the bcrypt alphabet passes, so it cannot break the
    /// configuration text it goes into.
    pub fn parse(stored: &str) -> Result<PasswordHash, BrokerError> {
        let (prefix, rest) = stored.split_at_checked(4).ok_or(BrokerError::NotBcrypt)?;
        let cost_and_hash = rest.split_once('$');
        let well_formed = matches!(prefix, "$2a$" | "$2b$")
            && cost_and_hash.is_some_and(|(cost, hash)| {
                cost.len() == 2
                    && cost.bytes().all(|b| b.is_ascii_digit())
                    && hash.len() == 53
                    && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
            });
        well_formed.then(|| PasswordHash(stored.to_string())).ok_or(BrokerError::NotBcrypt)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where and how the broker listens and stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerSettings {
    /// This server's name, unique in a cluster (nats-server requires one for MQTT).
    pub server_name: String,
    /// `host:port` for clients, e.g. `0.0.0.0:4222`.
    pub listen: String,
    /// `host:port` of the MQTT listener for home automation, if any.
    pub mqtt_listen: Option<String>,
    /// JetStream's store dir. `None` leaves it to nats-server's `-sd` flag (it refuses both), but
    /// then nats-server 2.9 refuses to reload the configuration: set it on a real broker.
    pub store_dir: Option<PathBuf>,
    /// JetStream limits, in bytes.
    pub max_memory_store: u64,
    pub max_file_store: u64,
    /// Certificate and key (PEM) for TLS on the client port; `None` only on loopback.
    pub tls: Option<TlsFiles>,
}

/// The server's TLS certificate chain and private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// A broker user of one site's account, with the subjects it may publish and subscribe to (none
/// at all when a list is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUser {
    pub site: SiteId,
    pub name: String,
    pub password: PasswordHash,
    pub publish: Vec<String>,
    pub subscribe: Vec<String>,
    /// Connects over MQTT only (else over the NATS protocol only).
    pub mqtt: bool,
}

/// The site's KV bucket of door records.
pub fn bucket(site: &SiteId) -> String {
    format!("site-{site}-doors")
}

/// The site's stream of what doors send.
pub fn stream(site: &SiteId) -> String {
    format!("site-{site}-from-doors")
}

/// A door's subjects in the stream: `site.<site>.door.<door>`, then the kind.
pub fn door_subject_prefix(site: &SiteId, door: &DoorId) -> String {
    format!("site.{site}.door.{door}")
}

/// The inbox prefix a door's client must use (`ConnectOptions::custom_inbox_prefix`).
pub fn door_inbox_prefix(site: &SiteId, door: &DoorId) -> String {
    format!("_INBOX_{site}_{door}")
}

/// The inbox prefix the site controller's client must use.
pub fn site_inbox_prefix(site: &SiteId) -> String {
    format!("_INBOX_{site}__site")
}

/// A door's user: it can watch its site's bucket (read only) and send under its own door id.
pub fn door_user(site: &SiteId, door: &DoorId, password: &PasswordHash) -> BrokerUser {
    let kv = format!("KV_{}", bucket(site));
    BrokerUser {
        site: site.clone(),
        name: format!("door-{site}-{door}"),
        password: password.clone(),
        publish: vec![
            format!("{}.>", door_subject_prefix(site, door)),
            // `get_key_value`: the bucket's stream info.
            format!("$JS.API.STREAM.INFO.{kv}"),
            // A watch's ordered consumer: created (named when re-created), checked, replaced.
            format!("$JS.API.CONSUMER.CREATE.{kv}"),
            format!("$JS.API.CONSUMER.CREATE.{kv}.>"),
            format!("$JS.API.CONSUMER.INFO.{kv}.*"),
            format!("$JS.API.CONSUMER.DELETE.{kv}.*"),
            // Its flow-control replies.
            format!("$JS.FC.{kv}.>"),
        ],
        subscribe: vec![format!("{}.>", door_inbox_prefix(site, door))],
        mqtt: false,
    }
}

/// The site controller's user: it manages the bucket and the stream, writes door records and
/// consumes what the doors send.
pub fn site_user(site: &SiteId, password: &PasswordHash) -> BrokerUser {
    let mut publish = vec![
        "$JS.API.INFO".to_string(),
        format!("$KV.{}.>", bucket(site)),
        format!("$JS.API.DIRECT.GET.KV_{}", bucket(site)),
        format!("$JS.API.DIRECT.GET.KV_{}.>", bucket(site)),
    ];
    for stream in [format!("KV_{}", bucket(site)), stream(site)] {
        publish.extend([
            format!("$JS.API.STREAM.*.{stream}"),
            format!("$JS.API.STREAM.MSG.*.{stream}"),
            format!("$JS.API.CONSUMER.*.{stream}"),
            format!("$JS.API.CONSUMER.*.{stream}.>"),
            format!("$JS.API.CONSUMER.*.*.{stream}.>"),
            format!("$JS.ACK.{stream}.>"),
            format!("$JS.FC.{stream}.>"),
        ]);
    }
    BrokerUser {
        site: site.clone(),
        name: format!("site-{site}"),
        password: password.clone(),
        publish,
        subscribe: vec![format!("{}.>", site_inbox_prefix(site))],
        mqtt: false,
    }
}

/// The home automation user `automation-<site>`, over MQTT only: it receives every door's alarms
/// and status (MQTT topics `site/<site>/door/+/alarm` and `.../status`) and publishes nothing.
/// Access events are not among them: they name residents by id.
pub fn automation_user(site: &SiteId, password: &PasswordHash) -> BrokerUser {
    BrokerUser {
        site: site.clone(),
        name: format!("automation-{site}"),
        password: password.clone(),
        publish: Vec::new(),
        subscribe: ["alarm", "status"].map(|kind| format!("site.{site}.door.*.{kind}")).to_vec(),
        mqtt: true,
    }
}

/// JetStream streams a site's account may hold: the bucket, the stream of what doors send and
/// the three nats-server 2.9 makes for MQTT, with room to spare. Doors cannot create streams;
/// the limit bounds a stolen controller login.
pub const STREAMS_PER_SITE: u64 = 8;
/// Consumers each stream of a site's account may hold (nats-server 2.9 applies an account's
/// `max_consumers` to each stream), per user of the account: a door's watch and the one it
/// replaces when it reconnects (an ephemeral consumer outlives its connection by a few
/// seconds), with room to spare.
pub const CONSUMERS_PER_USER: u64 = 4;
/// Consumers each stream may hold besides (the controller's one, MQTT's).
pub const CONSUMERS_SPARE: u64 = 8;

/// The `nats-server` configuration text for these settings and users: one account per site
/// (in the users' order of first appearance), JetStream enabled in each with limits: an equal
/// share of the server's memory and file store, [`STREAMS_PER_SITE`] streams, and per stream
/// [`CONSUMERS_PER_USER`] consumers per user plus [`CONSUMERS_SPARE`]: a stolen door creating
/// watches without end is refused at that limit, and the stream the controller consumes is
/// another stream, out of its reach.
pub fn render_server_config(settings: &BrokerSettings, users: &[BrokerUser]) -> String {
    let mut out = String::from("# Written by facegate: changes are overwritten.\n");
    let _ = writeln!(out, "server_name: {}", quoted(&settings.server_name));
    let _ = writeln!(out, "listen: {}", quoted(&settings.listen));
    out.push_str("jetstream {\n");
    if let Some(dir) = &settings.store_dir {
        let _ = writeln!(out, "  store_dir: {}", quoted(&dir.to_string_lossy()));
    }
    let _ = writeln!(out, "  max_memory_store: {}", settings.max_memory_store);
    let _ = writeln!(out, "  max_file_store: {}", settings.max_file_store);
    out.push_str("}\n");
    let tls = settings.tls.as_ref().map(|tls| {
        format!(
            "tls {{\n  cert_file: {}\n  key_file: {}\n}}\n",
            quoted(&tls.cert_file.to_string_lossy()),
            quoted(&tls.key_file.to_string_lossy())
        )
    });
    out.push_str(tls.as_deref().unwrap_or_default());
    if let Some(listen) = &settings.mqtt_listen {
        let _ = writeln!(out, "mqtt {{\n  listen: {}", quoted(listen));
        // The same certificate for MQTT, indented into the block.
        for line in tls.iter().flat_map(|t| t.lines()) {
            let _ = writeln!(out, "  {line}");
        }
        out.push_str("}\n");
    }
    let mut sites: Vec<&SiteId> = Vec::new();
    for user in users {
        if !sites.contains(&&user.site) {
            sites.push(&user.site);
        }
    }
    if sites.is_empty() {
        return out;
    }
    out.push_str("accounts {\n");
    let shares = sites.len() as u64;
    for site in sites {
        let account = quoted(&format!("site-{site}"));
        let members = users.iter().filter(|u| &u.site == site).count() as u64;
        let _ = writeln!(out, "  {account}: {{\n    jetstream: {{");
        let _ = writeln!(out, "      max_memory: {}", settings.max_memory_store / shares);
        let _ = writeln!(out, "      max_file: {}", settings.max_file_store / shares);
        let _ = writeln!(out, "      max_streams: {STREAMS_PER_SITE}");
        let consumers = CONSUMERS_PER_USER * members + CONSUMERS_SPARE;
        let _ = writeln!(out, "      max_consumers: {consumers}\n    }}\n    users: [");
        for user in users.iter().filter(|u| &u.site == site) {
            let _ = writeln!(out, "      {{\n        user: {}", quoted(&user.name));
            let _ = writeln!(out, "        password: {}", quoted(user.password.as_str()));
            let connection = quoted(if user.mqtt { "MQTT" } else { "STANDARD" });
            let _ = writeln!(out, "        allowed_connection_types: [{connection}]");
            out.push_str("        permissions: {\n");
            let _ = writeln!(out, "          publish: {}", allow_only(&user.publish));
            let _ = writeln!(out, "          subscribe: {}", allow_only(&user.subscribe));
            out.push_str("        }\n      }\n");
        }
        out.push_str("    ]\n  }\n");
    }
    out.push_str("}\n");
    out
}

/// Where `facegate join` writes [`sync_network_dropin`]: a drop-in of the sync agent's unit.
pub const SYNC_NETWORK_DROPIN: &str = "/etc/systemd/system/facegate-sync.service.d/broker.conf";

/// The systemd drop-in that lets the door's sync agent reach the broker's addresses and nothing
/// else (its unit denies every address). A drop-in rather than an environment file, because
/// systemd expands variables only in command lines, not in `IPAddressAllow=`.
pub fn sync_network_dropin(broker: &[std::net::IpAddr]) -> String {
    let mut out = String::from(
        "# Written by facegate join: the only addresses facegate sync may reach.\n[Service]\n",
    );
    for address in broker {
        let _ = writeln!(out, "IPAddressAllow={address}");
    }
    out
}

/// A double-quoted string of the configuration format, with `\` and `"` escaped.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A permission that allows these subjects only; none at all for an empty list (to nats-server,
/// an empty allow list would not restrict).
fn allow_only(subjects: &[String]) -> String {
    if subjects.is_empty() {
        return "{ deny: [\">\"] }".to_string();
    }
    let subjects: Vec<String> =
        subjects.iter().map(|s| format!("            {}", quoted(s))).collect();
    format!("{{ allow: [\n{}\n          ] }}", subjects.join(",\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (SiteId, DoorId) {
        ("north".parse().unwrap(), "gate-1".parse().unwrap())
    }

    /// A well-formed hash of no particular password, so that the tests need not hash.
    fn hash() -> PasswordHash {
        PasswordHash::parse("$2b$04$abcdefghijklmnopqrstuu5uVqJG8e6N2tqMpN2h0b0m/7d8x4aQe").unwrap()
    }

    #[test]
    fn a_door_may_publish_only_under_its_own_id_and_the_calls_of_a_kv_watch() {
        let (site, door) = ids();
        let user = door_user(&site, &door, &hash());
        assert_eq!(user.name, "door-north-gate-1");
        assert_eq!(
            user.publish,
            [
                "site.north.door.gate-1.>",
                "$JS.API.STREAM.INFO.KV_site-north-doors",
                "$JS.API.CONSUMER.CREATE.KV_site-north-doors",
                "$JS.API.CONSUMER.CREATE.KV_site-north-doors.>",
                "$JS.API.CONSUMER.INFO.KV_site-north-doors.*",
                "$JS.API.CONSUMER.DELETE.KV_site-north-doors.*",
                "$JS.FC.KV_site-north-doors.>",
            ]
        );
        assert_eq!(user.subscribe, ["_INBOX_north_gate-1.>"]);
        assert!(!user.publish.iter().any(|s| s.starts_with("$KV.")), "no KV writes");
    }

    #[test]
    fn users_are_grouped_into_one_account_per_site() {
        let (north, door) = ids();
        let south: SiteId = "south".parse().unwrap();
        let users = [
            door_user(&north, &door, &hash()),
            site_user(&south, &hash()),
            site_user(&north, &hash()),
        ];
        let settings = BrokerSettings {
            server_name: "broker-1".into(),
            listen: "0.0.0.0:4222".into(),
            mqtt_listen: None,
            store_dir: Some("/var/lib/nats".into()),
            max_memory_store: 1 << 26,
            max_file_store: 1 << 30,
            tls: None,
        };
        let text = render_server_config(&settings, &users);
        let north_at = text.find("\"site-north\": {").unwrap();
        let south_at = text.find("\"site-south\": {").unwrap();
        let door_at = text.find("user: \"door-north-gate-1\"\n").unwrap();
        let north_site_at = text.find("user: \"site-north\"\n").unwrap();
        assert!(north_at < door_at && door_at < north_site_at && north_site_at < south_at);
        assert!(text.contains("store_dir: \"/var/lib/nats\""));
        assert!(!text.contains("tls {") && !text.contains("mqtt {"));
    }

    #[test]
    fn only_bcrypt_hashes_are_accepted_as_stored_passwords() {
        let fresh = PasswordHash::of("correct horse").unwrap();
        assert!(bcrypt::verify("correct horse", fresh.as_str()).unwrap());
        assert_eq!(PasswordHash::parse(fresh.as_str()).unwrap(), fresh);
        let stored = hash().as_str().to_string();
        for bad in ["", "secret", "$2b$04$short", &stored.replace('a', "\""), &format!("{stored}x")]
        {
            assert!(matches!(PasswordHash::parse(bad), Err(BrokerError::NotBcrypt)), "{bad}");
        }
    }

    #[test]
    fn the_sample_configuration_in_the_docs_is_what_render_writes() {
        let doc = include_str!("../../docs/site-broker.md");
        let sample = doc.split("```conf\n").nth(1).and_then(|s| s.split("```").next()).unwrap();
        let site: SiteId = "north".parse().unwrap();
        let placeholder = |name: &str| {
            let hash = format!("$2b$11${name}HashFromSiteDb{}", "x".repeat(53));
            PasswordHash::parse(&hash[..60]).unwrap()
        };
        let users = [
            site_user(&site, &placeholder("SiteNorth")),
            door_user(&site, &"gate-1".parse().unwrap(), &placeholder("DoorGate1")),
            automation_user(&site, &placeholder("AutomationNorth")),
        ];
        let tls_dir = std::path::Path::new("/etc/nats-server/tls");
        let settings = BrokerSettings {
            server_name: "broker-1".into(),
            listen: "0.0.0.0:4222".into(),
            mqtt_listen: Some("0.0.0.0:8883".into()),
            store_dir: Some("/var/lib/nats-server".into()),
            max_memory_store: 256 << 20,
            max_file_store: 4 << 30,
            tls: Some(TlsFiles {
                cert_file: tls_dir.join("cert.pem"),
                key_file: tls_dir.join("key.pem"),
            }),
        };
        assert_eq!(sample, render_server_config(&settings, &users));
    }

    #[test]
    fn quotes_and_backslashes_in_paths_are_escaped() {
        assert_eq!(quoted("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }
}
