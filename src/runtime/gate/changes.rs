//! Changes made to the database by anyone else (the CLI's consent withdrawal, template deletion,
//! resident removal, card revocation, PIN reset) reach the running gate at once: every tick
//! reads SQLite's `data_version` and, when it moved, reloads the gallery, the only thing the
//! gate caches (residents, cards, PINs and consent are read from the store on every attempt).
//! A damaged template row is left out of the gallery and rejected by the store (audited once,
//! shown as an alarm on the next tick); the rest of the gate (PIN, card, every other face) goes on.

use super::Gate;
use crate::door::DoorPort;
use crate::runtime::camera::FrameSource;
use crate::runtime::error::Result;

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    /// Reloads what the gate caches when another connection committed since the last look.
    pub(super) fn notice_changes(&mut self, now: u64) -> Result<()> {
        let version = self.store.data_version()?;
        if version != self.data_version {
            self.data_version = version;
            self.reload_gallery(now)?;
        }
        Ok(())
    }

    /// Loads the gallery of residents valid now.
    pub(super) fn reload_gallery(&mut self, now: u64) -> Result<()> {
        self.gallery = self.store.gallery(self.unix(now))?;
        Ok(())
    }
}
