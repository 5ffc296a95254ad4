//! Site mode: one register on the site controller, a replica of what a door needs on every
//! door, kept in sync through NATS JetStream.
//!
//! - The site publishes each resident's [`record::DoorRecord`], the visitor passes and the
//!   enrolment bookings to the key-value bucket `site-<site>-doors` ([`publish`], keys in
//!   [`entry`]); a delete is a KV delete (a tombstone with a revision).
//! - A door's `facegate sync` agent watches the bucket from its last revision into the door's
//!   database and sends the door's outbox to the stream `site-<site>-from-doors` ([`sync`]).
//! - The site's consumer applies what doors send and keeps each door message exactly once
//!   ([`consumer`], [`site_db`]).
//! - Commands for one door (remote unlock) go from the console through `site.db` and the key
//!   `c.<door>` to the gate ([`commands`]); a card added by a tap at a door is one
//!   ([`card_tap`]).
//! - The broker's configuration: one account per site, least-privilege door users
//!   ([`broker`]), rendered from `site.db` whenever a door is added or removed
//!   ([`broker_config`]). The subject a door message arrives on names its door and the broker
//!   enforces it: that is the site's proof of origin; a removed door loses its login and its
//!   messages are refused.
//!
//! The gate itself never touches the network: it reads and writes only its database.

pub mod broker;
pub mod broker_config;
pub mod bucket_identity;
pub mod card_tap;
pub mod commands;
pub mod connect;
pub mod consumer;
pub mod controller;
pub mod door_log;
pub mod entry;
pub mod ids;
pub mod join;
pub mod link;
pub mod lockouts;
pub mod outbox;
pub mod publish;
pub mod record;
pub mod restore_guard;
pub mod site_db;
pub mod status;
pub mod sync;

pub use broker::{bucket, door_inbox_prefix, site_inbox_prefix, stream};
pub use ids::{DoorId, IdError, SiteId};
pub use record::DoorRecord;

/// The subject a door sends one kind of message on: `site.<site>.door.<door>.<kind>`.
pub fn subject(site: &SiteId, door: &DoorId, kind: outbox::OutboxKind) -> String {
    format!("{}.{}", broker::door_subject_prefix(site, door), kind.as_str())
}

/// The message id of an outbox row: `<door>-<row id>`.
pub fn message_id(door: &DoorId, row: i64) -> String {
    format!("{door}-{row}")
}

/// What can go wrong in site mode.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("broker ({context}): {source}")]
    Broker { context: &'static str, source: async_nats::Error },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    SiteDb(#[from] site_db::SiteDbError),
    #[error("{0}")]
    Invalid(String),
}

impl SiteError {
    /// Wraps a broker error with what was being done.
    pub fn broker<E: Into<async_nats::Error>>(context: &'static str) -> impl FnOnce(E) -> Self {
        move |source| Self::Broker { context, source: source.into() }
    }
}

/// Where `facegate join` writes a door's broker login unless `[site] login` says otherwise:
/// the state directory of `facegate.service` and `facegate-sync.service`.
pub const DEFAULT_LOGIN: &str = "/var/lib/facegate/site-login.json";

/// `[site]` on a door: where its broker login is, and how long it may go without catching up
/// before it stops offering Face.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteConfig {
    /// The door's broker login, written by `facegate join` (mode 0600, given to the service
    /// user), under the services' state directory by default.
    pub login: std::path::PathBuf,
    /// A door whose replica last caught up longer ago than this stops offering Face (PIN and
    /// card go on): it cannot know of withdrawals made elsewhere. Only on a door of a site.
    pub max_offline_hours: u64,
}

impl Default for SiteConfig {
    fn default() -> Self {
        Self { login: std::path::PathBuf::from(DEFAULT_LOGIN), max_offline_hours: 24 }
    }
}
