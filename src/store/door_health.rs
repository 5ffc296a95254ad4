//! What a door reports about itself besides its replica: the alarms it has now (the gate writes
//! them as they start and end) and its last selftest (`facegate selftest` writes it). The sync
//! agent sends both in the door's status; one row, written rarely.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store};
use crate::site::outbox::{DoorAlarms, Selftest};

impl Store {
    /// The door's alarms now and its last selftest.
    pub fn door_health(&self) -> Result<(DoorAlarms, Option<Selftest>)> {
        let row = self
            .conn
            .query_row(
                "SELECT held_open, forced_open, fire, selftest_at, selftest_ok FROM door_health WHERE id = 1",
                [],
                |r| {
                    let alarms =
                        DoorAlarms { held_open: r.get(0)?, forced_open: r.get(1)?, fire: r.get(2)? };
                    let at: Option<i64> = r.get(3)?;
                    let ok: Option<bool> = r.get(4)?;
                    Ok((alarms, at.map(|at| Selftest { at, ok: ok.unwrap_or(false) })))
                },
            )
            .optional()?;
        Ok(row.unwrap_or_default())
    }

    /// Records the door's alarms now.
    pub fn set_door_alarms(&mut self, alarms: DoorAlarms) -> Result<()> {
        self.conn.execute(
            "INSERT INTO door_health (id, held_open, forced_open, fire) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET held_open = excluded.held_open,
             forced_open = excluded.forced_open, fire = excluded.fire",
            params![alarms.held_open, alarms.forced_open, alarms.fire],
        )?;
        Ok(())
    }

    /// Records a selftest's time and result.
    pub fn record_selftest(&mut self, selftest: Selftest) -> Result<()> {
        self.conn.execute(
            "INSERT INTO door_health (id, selftest_at, selftest_ok) VALUES (1, ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET selftest_at = excluded.selftest_at,
             selftest_ok = excluded.selftest_ok",
            params![selftest.at, selftest.ok],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarms_and_the_selftest_are_kept_apart_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::site::controller::SiteDir(dir.path().into()).register();
        let mut store = Store::init(&config).unwrap();
        assert_eq!(store.door_health().unwrap(), (DoorAlarms::default(), None));
        let held = DoorAlarms { held_open: true, ..DoorAlarms::default() };
        store.set_door_alarms(held).unwrap();
        store.record_selftest(Selftest { at: 50, ok: false }).unwrap();
        assert_eq!(store.door_health().unwrap(), (held, Some(Selftest { at: 50, ok: false })));
        store.set_door_alarms(DoorAlarms::default()).unwrap();
        let (alarms, selftest) = store.door_health().unwrap();
        assert_eq!((alarms.names().len(), selftest.map(|s| s.at)), (0, Some(50)));
    }
}
