//! The site's publisher: register → bucket. Every entry (door records, live visitor passes,
//! open bookings: see [`super::entry`]) is compared with the digest of what was last put under
//! its key (kept in `site.db`); changed entries are put, keys the register no longer publishes
//! are deleted (a tombstone with its own revision): residents removed, passes revoked, used up
//! or past their window, bookings done or past their time. Deletes go first, so a keypad number
//! that moved is free at the doors before its new holder arrives; door records go before passes
//! and bookings, so a booking never reaches a door before its resident. Keys of other kinds
//! (`c.<door>`) are left alone. The controller runs it whenever the register's
//! `PRAGMA data_version` moves.

use std::collections::HashSet;

use async_nats::jetstream::kv;
use futures_util::{StreamExt, stream};
use sha2::{Digest, Sha256};

use super::SiteError;
use super::entry::{EntryKey, EntryValue};
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

/// A put still to make: key, digest of the JSON, JSON.
type Put = (String, Vec<u8>, Vec<u8>);

/// Publishes what changed in the register since the last run.
pub async fn publish(
    register: &mut Store,
    site_db: &mut SiteDb,
    kv: &kv::Store,
    greet_by_name: bool,
) -> Result<Published, SiteError> {
    let now = crate::store::unix_now();
    let residents = register.door_records(greet_by_name)?.into_iter().map(EntryValue::Resident);
    let passes = register
        .visitor_pass_records()?
        .into_iter()
        .filter(|pass| pass.revoked_at.is_none() && pass.entries_left > 0 && pass.valid_until > now)
        .map(EntryValue::Pass);
    let bookings = register.bookings(now)?.into_iter().map(EntryValue::Booking);
    let published = site_db.published()?;
    let mut keys = HashSet::new();
    let (mut first, mut then) = (Vec::new(), Vec::new());
    for value in residents.chain(passes).chain(bookings) {
        let key = value.key().to_string();
        let json = value.to_json().map_err(|e| SiteError::Invalid(e.to_string()))?;
        let digest = Sha256::digest(&json).to_vec();
        if published.get(&key).is_none_or(|(stored, _)| *stored != digest) {
            let phase =
                if matches!(value, EntryValue::Resident(_)) { &mut first } else { &mut then };
            phase.push((key.clone(), digest, json));
        }
        keys.insert(key);
    }
    let mut done = Published::default();
    let mut changes = Vec::new();
    let gone = published.keys().filter(|key| EntryKey::is_published(key) && !keys.contains(*key));
    for key in gone {
        kv.delete(key).await.map_err(SiteError::broker("delete a bucket entry"))?;
        changes.push((key.clone(), None, 0));
        done.deleted += 1;
    }
    let mut failed = put_all(kv, first, &mut done, &mut changes).await;
    if failed.is_none() {
        failed = put_all(kv, then, &mut done, &mut changes).await;
    }
    site_db.set_published(&changes)?; // what did reach the bucket, even after a failure
    match failed {
        Some(err) => Err(SiteError::broker("put a bucket entry")(err)),
        None => Ok(done),
    }
}

/// Puts entries, [`IN_FLIGHT`] at a time; notes each that reached the bucket; the last error.
async fn put_all(
    kv: &kv::Store,
    puts: Vec<Put>,
    done: &mut Published,
    changes: &mut Vec<(String, Option<Vec<u8>>, u64)>,
) -> Option<kv::PutError> {
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
    failed
}
