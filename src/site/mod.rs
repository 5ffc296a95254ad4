//! Site mode: one register on the site controller, a replica of what a door needs on every
//! door, kept in sync through NATS JetStream.
//!
//! - The site publishes each resident's [`record::DoorRecord`] to the key-value bucket
//!   `site-<site>-doors` ([`publish`]); a delete is a KV delete (a tombstone with a revision).
//! - A door's `facegate sync` agent watches the bucket from its last revision into the door's
//!   database and sends the door's outbox to the stream `site-<site>-from-doors` ([`sync`]).
//! - The site's consumer applies what doors send and keeps each door message exactly once
//!   ([`consumer`], [`site_db`]).
//!
//! The gate itself never touches the network: it reads and writes only its database.

pub mod connect;
pub mod consumer;
pub mod controller;
pub mod ids;
pub mod outbox;
pub mod publish;
pub mod record;
pub mod site_db;
pub mod sync;

pub use ids::{DoorId, IdError, SiteId};
pub use record::DoorRecord;

/// The bucket of a site's door records.
pub fn bucket(site: &SiteId) -> String {
    format!("site-{site}-doors")
}

/// The stream of what a site's doors send.
pub fn stream(site: &SiteId) -> String {
    format!("site-{site}-from-doors")
}

/// The subject a door sends one kind of message on.
pub fn subject(site: &SiteId, door: &DoorId, kind: outbox::OutboxKind) -> String {
    format!("site.{site}.door.{door}.{}", kind.as_str())
}

/// The inbox prefix of a door's connection (a door may subscribe only to its own inbox).
pub fn door_inbox_prefix(site: &SiteId, door: &DoorId) -> String {
    format!("_INBOX_{site}_{door}")
}

/// The inbox prefix of the site controller's connection.
pub fn site_inbox_prefix(site: &SiteId) -> String {
    format!("_INBOX_{site}__site")
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
