//! A door's replica when the site's bucket was made anew (the broker lost its store, or another
//! broker took its place): revisions of the new bucket start again at 1 and mean nothing against
//! the old ones. The door knows its bucket by the creation time of the bucket's stream. On
//! another bucket it starts again from revision 0 and keeps its residents meanwhile (it goes on
//! deciding PIN and card from them), and it is not caught up (so `max_offline` counts from its
//! last real catch-up) until the site's mark that every entry is in the new bucket arrived
//! ([`crate::site::bucket_identity`]) and the replica holds every revision up to the bucket's
//! last. Then whatever the new bucket did not bring is removed: it was deleted at the site while
//! the door was away, and the new bucket holds no tombstone to say so.

use super::super::bookings::remove_booking;
use super::super::visitors::remove_pass;
use super::delete_resident;
use crate::site::entry::EntryKey;
use crate::store::{Result, Store};

/// Where a door's replica stands with the site's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resync {
    /// Its revisions count in the bucket it follows.
    Following,
    /// The bucket was made anew: waiting for the site's mark that every entry is in.
    AwaitingMark,
    /// The mark arrived: caught up once the replica holds every revision of the bucket.
    Marked,
}

impl Resync {
    fn of(column: i64) -> Resync {
        match column {
            0 => Resync::Following,
            1 => Resync::AwaitingMark,
            _ => Resync::Marked,
        }
    }
}

impl Store {
    /// Follows the bucket whose stream was created at `bucket` (unix nanoseconds). A replica
    /// that followed none takes it as it is (a door just joined, or one made before buckets had
    /// an identity); another bucket than the followed one starts a resync.
    pub fn follow_bucket(&mut self, bucket: i64) -> Result<Resync> {
        self.transaction(|tx| {
            let (followed, state): (Option<i64>, i64) = tx.query_row(
                "SELECT bucket, resyncing FROM replica_state WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            match followed {
                Some(followed) if followed == bucket => Ok(Resync::of(state)),
                None => {
                    tx.execute("UPDATE replica_state SET bucket = ?1 WHERE id = 1", [bucket])?;
                    Ok(Resync::of(state))
                }
                Some(_) => {
                    tx.execute(
                        "UPDATE replica_state SET bucket = ?1, revision = 0, resyncing = 1 WHERE id = 1",
                        [bucket],
                    )?;
                    // Tombstones of the old bucket guard against nothing in the new one; every
                    // key held is unconfirmed until the new bucket brings it again.
                    tx.execute("DELETE FROM replica_revisions WHERE deleted = 1", [])?;
                    tx.execute("UPDATE replica_revisions SET revision = 0", [])?;
                    Ok(Resync::AwaitingMark)
                }
            }
        })
    }

    /// Where the replica stands (`Following` on a database that is no door).
    pub fn resync(&self) -> Result<Resync> {
        let state: Option<i64> = rusqlite::OptionalExtension::optional(self.conn.query_row(
            "SELECT resyncing FROM replica_state WHERE id = 1",
            [],
            |r| r.get(0),
        ))?;
        Ok(Resync::of(state.unwrap_or(0)))
    }

    /// Notes that the site's mark arrived (while awaiting it).
    pub fn note_bucket_mark(&mut self) -> Result<()> {
        self.conn
            .execute("UPDATE replica_state SET resyncing = 2 WHERE id = 1 AND resyncing = 1", [])?;
        Ok(())
    }

    /// Ends a resync whose mark arrived and whose replica holds every revision of the bucket:
    /// removes every resident, visitor pass and booking the new bucket did not bring. Returns
    /// how many keys went.
    pub fn finish_resync(&mut self) -> Result<usize> {
        let removed = self.transaction(|tx| {
            let stale: Vec<String> = tx
                .prepare("SELECT key FROM replica_revisions WHERE revision = 0")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for key in &stale {
                match EntryKey::parse(key) {
                    Some(EntryKey::Resident(id)) => delete_resident(tx, id)?,
                    Some(EntryKey::Pass(id)) => remove_pass(tx, id)?,
                    Some(EntryKey::Booking(id)) => remove_booking(tx, id)?,
                    None => {}
                }
            }
            tx.execute("DELETE FROM replica_revisions WHERE revision = 0", [])?;
            tx.execute("UPDATE replica_state SET resyncing = 0 WHERE id = 1", [])?;
            Ok(stale.len())
        })?;
        if removed > 0 {
            self.checkpoint()?; // deleted rows leave no copy in the WAL
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use crate::keys::{KEY_LEN, SiteKey};
    use crate::site::entry::EntryValue;
    use crate::store::{NewResident, ReplicaEntry, Store};

    use super::Resync;

    const NOW: i64 = 1_780_000_000;

    /// A register with residents 1201 and 1202, their door records.
    fn records() -> Vec<crate::site::DoorRecord> {
        let mut site = Store::in_memory(&SiteKey::from_bytes([9; KEY_LEN])).unwrap();
        for number in ["1201", "1202"] {
            let new = NewResident {
                number: number.into(),
                name: "A".into(),
                unit: "1".into(),
                ..NewResident::default()
            };
            site.add_resident(&new, NOW, "m").unwrap();
        }
        site.door_records(false).unwrap()
    }

    fn put(record: &crate::site::DoorRecord, revision: u64) -> ReplicaEntry {
        let value = Some(EntryValue::Resident(record.clone()));
        ReplicaEntry { key: record.key(), revision, value }
    }

    fn numbers(door: &Store) -> Vec<String> {
        door.door_records(false).unwrap().into_iter().map(|r| r.number).collect()
    }

    #[test]
    fn a_bucket_made_anew_is_resynced_and_what_it_did_not_bring_goes_only_after_the_mark() {
        let records = records();
        let mut door = Store::in_memory(&SiteKey::from_bytes([9; KEY_LEN])).unwrap();
        door.join_site(&"oak".parse().unwrap(), &"north".parse().unwrap()).unwrap();
        assert_eq!(door.follow_bucket(111).unwrap(), Resync::Following, "a new door takes it");
        door.apply_entries(&[put(&records[0], 7), put(&records[1], 8)]).unwrap();
        assert_eq!(door.follow_bucket(111).unwrap(), Resync::Following, "the same bucket");
        assert_eq!(door.replica().unwrap().unwrap().revision, 8);

        // Made anew: revision 0, residents kept; the new bucket's low revisions apply.
        assert_eq!(door.follow_bucket(222).unwrap(), Resync::AwaitingMark);
        assert_eq!(door.replica().unwrap().unwrap().revision, 0);
        assert_eq!(numbers(&door), ["1201", "1202"], "kept while resyncing");
        assert_eq!(door.apply_entries(&[put(&records[0], 1)]).unwrap(), 1, "a new revision 1");
        assert_eq!(door.follow_bucket(222).unwrap(), Resync::AwaitingMark, "a restart keeps it");
        door.note_bucket_mark().unwrap();
        assert_eq!(door.resync().unwrap(), Resync::Marked);
        assert_eq!(door.finish_resync().unwrap(), 1, "1202 was not in the new bucket");
        assert_eq!(numbers(&door), ["1201"]);
        assert_eq!(door.resync().unwrap(), Resync::Following);
        assert_eq!(door.apply_entries(&[put(&records[1], 2)]).unwrap(), 1, "it may come again");
    }
}
