//! The site's bucket made anew: the broker lost its store (wiped, restored from nothing) or
//! another broker took its place, and the controller's start created the bucket empty. The
//! digests in `site.db` then describe entries that are no longer there, and the doors' revisions
//! count in a bucket that is gone.
//!
//! A bucket is known by the creation time of its stream (`created` in JetStream's stream info,
//! nanoseconds; nats-server 2.9 keeps it in the stream's metadata across restarts and sets it
//! anew when the stream is created again). Not by its last sequence: once the site has put every
//! entry again, the new bucket's last sequence may well be above what a door holds, and a new
//! revision says nothing against an old one.
//!
//! `site.db` keeps the identity of the bucket the site publishes into. On another bucket the site
//! forgets every digest, so the publisher puts every entry again (and shows every door as
//! resyncing until the door reports otherwise); after a publish that reached
//! the bucket completely it puts the mark [`MARK_KEY`] (the identity as its value), once per
//! bucket. A door resyncs on another bucket and is caught up again only after that mark
//! ([`crate::store::replica::resync`]).

use async_nats::jetstream::kv;
use rusqlite::{Connection, OptionalExtension};

use super::SiteError;
use super::site_db::SiteDb;

/// The key of the site's mark that every entry is in this bucket.
pub const MARK_KEY: &str = "s.complete";

/// The bucket's identity in `site.db`, and whether each door reports a resync.
pub(super) fn prepare(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS bucket (
             id      INTEGER PRIMARY KEY CHECK (id = 1),
             created INTEGER NOT NULL,        -- the bucket's stream creation time, unix ns
             marked  INTEGER NOT NULL DEFAULT 0 -- the mark MARK_KEY is in it
         );",
    )?;
    let has: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM pragma_table_info('doors') WHERE name = 'resyncing')",
        [],
        |r| r.get(0),
    )?;
    if !has {
        conn.execute_batch("ALTER TABLE doors ADD COLUMN resyncing INTEGER NOT NULL DEFAULT 0;")?;
    }
    Ok(())
}

/// What the bucket's status says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketState {
    /// Its identity: the creation time of its stream, unix nanoseconds.
    pub created: i64,
    /// Its newest revision.
    pub last_revision: u64,
}

/// The bucket's identity and newest revision, asked of the broker now. Not `kv::Store::status`:
/// async-nats 0.51 answers it from the stream info read when the bucket was opened.
pub async fn bucket_state(kv: &kv::Store) -> Result<BucketState, SiteError> {
    let info = kv.stream.get_info().await.map_err(SiteError::broker("bucket status"))?;
    let created = i64::try_from(info.created.unix_timestamp_nanos()).unwrap_or(i64::MAX);
    Ok(BucketState { created, last_revision: info.state.last_sequence })
}

/// Takes the bucket the controller opened as the one it publishes into; returns whether it is
/// another one than before (then every digest is forgotten, so everything is put again). A
/// `site.db` that knew no bucket yet takes it as it is, unless the bucket holds fewer revisions
/// than were published.
pub async fn adopt(site_db: &mut SiteDb, kv: &kv::Store) -> Result<bool, SiteError> {
    let bucket = bucket_state(kv).await?;
    let known = site_db.bucket()?;
    if known == Some(bucket.created) {
        return Ok(false);
    }
    let made_anew = known.is_some() || bucket.last_revision < site_db.last_published_revision()?;
    site_db.publish_into(bucket.created, made_anew)?;
    if made_anew {
        tracing::warn!("the site's bucket was made anew: publishing every entry again");
    }
    Ok(made_anew)
}

/// After a publish that reached the bucket completely: puts the mark, once per bucket.
pub async fn mark_complete(site_db: &mut SiteDb, kv: &kv::Store) -> Result<(), SiteError> {
    let Some(created) = site_db.mark_due()? else { return Ok(()) };
    kv.put(MARK_KEY, created.to_string().into())
        .await
        .map_err(SiteError::broker("put the bucket's mark"))?;
    site_db
        .conn()
        .execute("UPDATE bucket SET marked = 1 WHERE created = ?1", [created])
        .map_err(super::site_db::SiteDbError::from)?;
    Ok(())
}

/// Whether an entry is the site's mark for the bucket `created`.
pub fn is_mark(entry: &kv::Entry, created: i64) -> bool {
    entry.key == MARK_KEY
        && entry.operation == kv::Operation::Put
        && entry.value.as_ref() == created.to_string().as_bytes()
}

impl SiteDb {
    /// The identity of the bucket the site publishes into (`None` before its first run).
    pub fn bucket(&self) -> super::site_db::Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row("SELECT created FROM bucket WHERE id = 1", [], |r| r.get(0))
            .optional()?)
    }

    /// Publishes into the bucket `created` from now on, its mark not put yet. With `forget`
    /// (a bucket made anew), in the same transaction: forgets every digest, and counts every
    /// door as resyncing until it reports otherwise (its last report counted in the old bucket).
    fn publish_into(&mut self, created: i64, forget: bool) -> super::site_db::Result<()> {
        let tx = self.conn_mut().transaction()?;
        if forget {
            tx.execute("DELETE FROM published", [])?;
            tx.execute("UPDATE doors SET resyncing = 1", [])?;
        }
        tx.execute(
            "INSERT INTO bucket (id, created, marked) VALUES (1, ?1, 0)
             ON CONFLICT(id) DO UPDATE SET created = excluded.created, marked = 0",
            [created],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The bucket whose mark is still to put.
    fn mark_due(&self) -> super::site_db::Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row("SELECT created FROM bucket WHERE id = 1 AND marked = 0", [], |r| r.get(0))
            .optional()?)
    }
}
