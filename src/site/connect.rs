//! Connecting to the broker: one login (URL, user, password, the site CA, the addresses
//! resolved at join; TLS and dialling in [`super::link`]), reconnecting by itself for as long
//! as the process runs, quickly after a link comes back; and the site's bucket and stream.

use std::net::IpAddr;
use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use serde::{Deserialize, Serialize};

use super::{SiteError, SiteId, bucket, stream as stream_name};

/// How one process logs in to the broker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerLogin {
    /// `tls://host:port` (`nats://` only on loopback).
    pub url: String,
    /// None on a broker without users (tests on loopback only).
    pub user: Option<String>,
    pub password: Option<String>,
    /// The site CA (PEM), the only root a `tls://` link trusts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// The broker's addresses, resolved by `facegate join` (a door's sync agent has no DNS):
    /// dialled instead of the URL's host, whose name the certificate is still checked against.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpAddr>,
}

impl BrokerLogin {
    /// Connects with this login and `inbox_prefix`; returns at once (the first connection
    /// is retried in the background like every reconnection). Refuses a plain link off
    /// loopback and a `tls://` login without the site CA ([`super::link::servers_and_tls`]).
    pub async fn connect(&self, inbox_prefix: &str) -> Result<async_nats::Client, SiteError> {
        let (servers, tls) = super::link::servers_and_tls(self)?;
        let mut options = match (&self.user, &self.password) {
            (Some(user), Some(password)) => {
                async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
            }
            _ => async_nats::ConnectOptions::new(),
        };
        options = options
            .custom_inbox_prefix(inbox_prefix)
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2))
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((attempts as u64 * 100).min(1_000))
            });
        if let Some(tls) = tls {
            options = options.tls_client_config(tls).require_tls(true);
        }
        options.connect(servers).await.map_err(SiteError::broker("connect"))
    }
}

/// A JetStream context with short request timeouts (a cut link shows within seconds).
pub fn jetstream(client: async_nats::Client) -> jetstream::Context {
    jetstream::ContextBuilder::new().timeout(Duration::from_secs(3)).build(client)
}

/// The site's bucket of door records, created if missing (the site controller only): its
/// stream made as `create_key_value` makes it, one value per key. Not `create_key_value`
/// itself: async-nats 0.51 first reads the account's info, and nats-server 2.9's answer
/// (no `reserved_memory`) does not parse.
pub async fn create_bucket(js: &jetstream::Context, site: &SiteId) -> Result<kv::Store, SiteError> {
    let name = bucket(site);
    let config = stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        storage: stream::StorageType::File,
        ..stream::Config::default()
    };
    js.get_or_create_stream(config).await.map_err(SiteError::broker("create the bucket"))?;
    js.get_key_value(name).await.map_err(SiteError::broker("open the bucket"))
}

/// The stream of what doors send, created if missing (the site controller only). Work-queue
/// retention: a message leaves the stream once the site acknowledged it.
pub async fn create_stream(
    js: &jetstream::Context,
    site: &SiteId,
) -> Result<stream::Stream, SiteError> {
    let config = stream::Config {
        name: stream_name(site),
        subjects: vec![format!("site.{site}.door.*.*")],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        ..stream::Config::default()
    };
    js.get_or_create_stream(config).await.map_err(SiteError::broker("create stream"))
}
