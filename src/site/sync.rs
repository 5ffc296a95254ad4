//! The door's sync agent (`facegate sync`): watches the site's bucket from the replica's last
//! revision into the door's database (resident records, and the door's own commands for the
//! gate), sends the outbox to the stream (a row is removed only
//! after the stream acknowledged it), reports the door's state, and records `last contact`
//! whenever the replica has caught up with the bucket (a bucket made anew is resynced first:
//! [`crate::store::replica::resync`]). It reconnects by itself; the gate never waits for it.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv, message::PublishMessage};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::bucket_identity::{bucket_state, is_mark};
use super::commands::command_of_entry;
use super::connect::{BrokerLogin, jetstream};
use super::entry::{EntryKey, EntryValue};
use super::outbox::{DoorState, OutboxKind};
use super::{DoorId, SiteError, SiteId, bucket, door_inbox_prefix, message_id, subject};
use crate::credentials::lockout::TERMINAL_KEY;
use crate::store::replica::resync::Resync;
use crate::store::{ReplicaEntry, Store};

/// How a door reaches its site (from the join bundle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoorLogin {
    pub site: SiteId,
    pub door: DoorId,
    /// User `door-<site>-<door>`.
    pub broker: BrokerLogin,
}

/// Bucket entries applied in one transaction at most.
const BATCH: usize = 2_000;
/// How long a transaction waits for more entries after the first: short against the gate's
/// "changes reach the door at once", long enough to gather a catch-up's entries.
const BATCH_WINDOW: Duration = Duration::from_millis(50);
/// Outbox rows sent before waiting for their acknowledgements.
const OUTBOX_BATCH: usize = 256;
/// How often the door reports its state and checks that it has caught up.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// A replica behind the bucket this long with no entry arriving restarts its watch.
const STALLED_AFTER: Duration = Duration::from_secs(6);

/// Runs the agent until the process ends.
pub async fn run(store: &mut Store, login: &DoorLogin) -> Result<(), SiteError> {
    let client = login.broker.connect(&door_inbox_prefix(&login.site, &login.door)).await?;
    let js = jetstream(client);
    loop {
        if let Err(err) = session(store, &js, login).await {
            tracing::warn!(door = %login.door, %err, "sync: retrying");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// One watch of the bucket, with the outbox and status alongside, until something fails.
async fn session(
    store: &mut Store,
    js: &jetstream::Context,
    login: &DoorLogin,
) -> Result<(), SiteError> {
    let kv = js
        .get_key_value(bucket(&login.site))
        .await
        .map_err(SiteError::broker("open the bucket"))?;
    let bucket = bucket_state(&kv).await?.created;
    if store.follow_bucket(bucket)? != Resync::Following {
        tracing::warn!(door = %login.door, "sync: the site's bucket was made anew: resyncing");
    }
    let from = replica_revision(store)? + 1;
    let mut watch =
        kv.watch_all_from_revision(from).await.map_err(SiteError::broker("watch the bucket"))?;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut last_status: Option<Instant> = None;
    let mut behind_since: Option<Instant> = None;
    loop {
        tokio::select! {
            entry = watch.next() => {
                let entry = entry.ok_or_else(|| SiteError::Invalid("the bucket watch ended".into()))?;
                let entry = entry.map_err(SiteError::broker("watch"))?;
                let mut door_commands: Vec<_> = command_of_entry(&entry, &login.door).into_iter().collect();
                let mut marked = is_mark(&entry, bucket);
                let mut batch = vec![replica_entry(entry)];
                // Entries arriving within BATCH_WINDOW join this transaction: one commit (one
                // fsync) per window while a replica catches up, not one per entry.
                let window_ends = tokio::time::Instant::now() + BATCH_WINDOW;
                while batch.len() < BATCH {
                    match tokio::time::timeout_at(window_ends, watch.next()).await {
                        Ok(Some(entry)) => {
                            let entry = entry.map_err(SiteError::broker("watch"))?;
                            door_commands.extend(command_of_entry(&entry, &login.door));
                            marked |= is_mark(&entry, bucket);
                            batch.push(replica_entry(entry));
                        }
                        _ => break,
                    }
                }
                // Kept before the revision moves past them; a command kept twice is one row.
                store.receive_commands(&door_commands)?;
                if marked {
                    store.note_bucket_mark()?; // before the revision moves past the mark
                }
                store.apply_entries(&batch)?;
                behind_since = None; // catching up is not a stall
            }
            _ = tick.tick() => {
                send_outbox(store, js, login).await?;
                if last_status.is_none_or(|at| at.elapsed() >= STATUS_EVERY) {
                    let holds_all = check_caught_up(store, &kv, bucket).await?;
                    let behind = behind_since.get_or_insert_with(Instant::now);
                    if holds_all {
                        behind_since = None;
                    } else if behind.elapsed() > STALLED_AFTER {
                        return Err(SiteError::Invalid("the bucket watch stalled".into()));
                    }
                    send_status(store, js, login).await?;
                    last_status = Some(Instant::now());
                }
            }
        }
    }
}

fn replica_revision(store: &Store) -> Result<u64, SiteError> {
    let state = store.replica()?.ok_or_else(|| {
        SiteError::Invalid(format!(
            "{} is no door of a site: run `facegate join`",
            store.path().display()
        ))
    })?;
    Ok(state.revision)
}

/// A bucket entry as the replica applies it; an unreadable value removes that resident, pass
/// or booking at this door (no stale copy keeps opening the door), with a warning.
fn replica_entry(entry: kv::Entry) -> ReplicaEntry {
    let value = match (entry.operation, EntryKey::parse(&entry.key)) {
        (kv::Operation::Put, Some(key)) => match EntryValue::read(key, &entry.value) {
            Ok(value) => Some(value),
            Err(err) => {
                tracing::warn!(key = %entry.key, %err, "unreadable bucket entry: removed here");
                None
            }
        },
        _ => None,
    };
    ReplicaEntry { key: entry.key, revision: entry.revision, value }
}

/// Whether the replica holds every revision of the bucket `bucket`. Caught up (then records
/// `last contact`) when it does and is not resyncing, or its resync ends now. An error when the
/// bucket was made anew meanwhile, so the next session resyncs.
async fn check_caught_up(
    store: &mut Store,
    kv: &kv::Store,
    bucket: i64,
) -> Result<bool, SiteError> {
    let state = bucket_state(kv).await?;
    if state.created != bucket {
        return Err(SiteError::Invalid("the site's bucket was made anew".into()));
    }
    let holds_all = replica_revision(store)? >= state.last_revision;
    let caught_up = holds_all
        && match store.resync()? {
            Resync::Following => true,
            Resync::AwaitingMark => false,
            Resync::Marked => {
                let removed = store.finish_resync()?;
                tracing::warn!(removed, "sync: resynced with the site's new bucket");
                true
            }
        };
    if caught_up {
        store.set_last_contact(crate::store::unix_now())?;
    }
    Ok(holds_all)
}

/// Sends the outbox, oldest first; removes what the stream acknowledged.
async fn send_outbox(
    store: &mut Store,
    js: &jetstream::Context,
    login: &DoorLogin,
) -> Result<(), SiteError> {
    loop {
        let rows = store.outbox(OUTBOX_BATCH)?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut acks = Vec::with_capacity(rows.len());
        for row in &rows {
            let message = PublishMessage::build()
                .payload(row.body.clone().into())
                .message_id(message_id(&login.door, row.id));
            let subject = subject(&login.site, &login.door, row.kind);
            let ack = js.send_publish(subject, message).await.map_err(SiteError::broker("send"))?;
            acks.push((row.id, ack));
        }
        let mut delivered = Vec::with_capacity(acks.len());
        let mut failed = None;
        for (id, ack) in acks {
            match ack.await {
                Ok(_) => delivered.push(id),
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        store.remove_outbox(&delivered)?;
        if let Some(err) = failed {
            return Err(SiteError::broker("outbox acknowledgement")(err));
        }
        if rows.len() < OUTBOX_BATCH {
            return Ok(());
        }
    }
}

/// Reports the door's replica revision, outbox depth, last contact, alarms now, last selftest
/// and the keypad's lock.
async fn send_status(
    store: &mut Store,
    js: &jetstream::Context,
    login: &DoorLogin,
) -> Result<(), SiteError> {
    let replica = store.replica()?.ok_or_else(|| SiteError::Invalid("no replica".into()))?;
    let (alarms, selftest) = store.door_health()?;
    let at = crate::store::unix_now();
    let state = DoorState {
        at,
        replica_revision: replica.revision,
        outbox_depth: store.outbox_depth()?,
        last_contact: replica.last_contact,
        alarms,
        selftest,
        resyncing: store.resync()? != Resync::Following,
        keypad_locked_until: store.lockout(TERMINAL_KEY)?.locked_until.filter(|&until| until > at),
    };
    let body = serde_json::to_vec(&state).map_err(|e| SiteError::Invalid(e.to_string()))?;
    let subject = subject(&login.site, &login.door, OutboxKind::Status);
    js.publish(subject, body.into()).await.map_err(SiteError::broker("send status"))?;
    Ok(())
}
