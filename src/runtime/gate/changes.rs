//! Changes made to the database by anyone else (the CLI's consent withdrawal, template deletion,
//! resident removal, card revocation, PIN reset) reach the running gate at once: every tick
//! reads SQLite's `data_version` and, when it moved, reloads the gallery, the only thing the
//! gate caches (residents, cards, PINs and consent are read from the store on every attempt).
//! A remote unlock the sync agent kept is carried out on the same look (see `remote`).
//! A damaged template row is left out of the gallery and rejected by the store (audited once,
//! shown as an alarm on the next tick); the rest of the gate (PIN, card, every other face) goes on.

use super::{Event, Gate, Screen};
use crate::door::DoorPort;
use crate::runtime::camera::FrameSource;
use crate::runtime::error::Result;

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    /// Reloads what the gate caches when another connection committed since the last look.
    pub(super) fn notice_changes(&mut self, now: u64, events: &mut Vec<Event>) -> Result<()> {
        let version = self.store.data_version()?;
        if version != self.data_version {
            self.data_version = version;
            self.reload_gallery(now)?;
            self.replica_contact = self.store.replica()?.map(|r| r.last_contact);
            self.follow_commands(now, events)?;
        }
        self.follow_replica(now, events)
    }

    /// On a door of a site, Face goes while the replica is older than `max_offline_secs` and
    /// comes back once the sync agent caught up; an idle screen shows the change at once.
    pub(super) fn follow_replica(&mut self, now: u64, events: &mut Vec<Event>) -> Result<()> {
        let unix = self.unix(now);
        let max = self.settings.max_offline_secs;
        let stale = self
            .replica_contact
            .is_some_and(|contact| contact.is_none_or(|at| unix.saturating_sub(at) > max));
        if stale != self.replica_stale {
            self.replica_stale = stale;
            if matches!(self.screen, Screen::Idle { .. }) {
                let idle = self.idle();
                self.show(idle, events);
            }
        }
        Ok(())
    }

    /// Loads the gallery of residents valid now.
    pub(super) fn reload_gallery(&mut self, now: u64) -> Result<()> {
        self.gallery = self.store.gallery(self.unix(now))?;
        Ok(())
    }
}
