//! The site's publisher: register → bucket. Every door record is compared with the digest of
//! what was last put under its key (kept in `site.db`); changed records are put, keys of
//! residents no longer in the register are deleted (a tombstone with its own revision), deletes
//! first so a keypad number that moved is free at the doors before its new holder arrives.
//! The controller runs it whenever the register's `PRAGMA data_version` moves.

use std::collections::HashSet;

use async_nats::jetstream::kv;
use futures_util::{StreamExt, stream};
use sha2::{Digest, Sha256};

use super::SiteError;
use super::site_db::SiteDb;
use crate::store::Store;

/// What one run of the publisher did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    pub put: usize,
    pub deleted: usize,
    /// The newest bucket revision written (0 when nothing was).
    pub revision: u64,
}

/// Puts in flight at once.
const IN_FLIGHT: usize = 64;

/// Publishes what changed in the register since the last run.
pub async fn publish(
    register: &mut Store,
    site_db: &mut SiteDb,
    kv: &kv::Store,
    greet_by_name: bool,
) -> Result<Published, SiteError> {
    let records = register.door_records(greet_by_name)?;
    let published = site_db.published()?;
    let mut keys = HashSet::new();
    let mut puts = Vec::new();
    for record in &records {
        let key = record.key();
        let json = serde_json::to_vec(record).map_err(|e| SiteError::Invalid(e.to_string()))?;
        let digest = Sha256::digest(&json).to_vec();
        if published.get(&key).is_none_or(|(stored, _)| *stored != digest) {
            puts.push((key.clone(), digest, json));
        }
        keys.insert(key);
    }
    let mut done = Published::default();
    let mut changes = Vec::new();
    for key in published.keys().filter(|key| !keys.contains(*key)) {
        kv.delete(key).await.map_err(SiteError::broker("delete a door record"))?;
        changes.push((key.clone(), None, 0));
        done.deleted += 1;
    }
    let mut results = stream::iter(puts)
        .map(|(key, digest, json)| async move {
            let revision = kv.put(&key, json.into()).await;
            (key, digest, revision)
        })
        .buffer_unordered(IN_FLIGHT);
    let mut failed = None;
    while let Some((key, digest, revision)) = results.next().await {
        match revision {
            Ok(revision) => {
                changes.push((key, Some(digest), revision));
                done.put += 1;
                done.revision = done.revision.max(revision);
            }
            Err(err) => failed = Some(err),
        }
    }
    site_db.set_published(&changes)?; // what did reach the bucket, even after a failure
    match failed {
        Some(err) => Err(SiteError::broker("put a door record")(err)),
        None => Ok(done),
    }
}
