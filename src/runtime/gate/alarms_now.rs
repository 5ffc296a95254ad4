//! The door's alarms now, kept in the database for the site (the sync agent sends them in the
//! door's status): held open and forced until the door closes, fire until the input clears.
//! Written only when they change.

use super::Gate;
use crate::door::{DoorEvent, DoorPort};
use crate::runtime::camera::FrameSource;
use crate::runtime::error::Result;

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    /// Follows one door event into the alarms now.
    pub(super) fn follow_alarms(&mut self, event: DoorEvent) -> Result<()> {
        let mut alarms = self.alarms_now;
        match event {
            DoorEvent::HeldOpen => alarms.held_open = true,
            DoorEvent::ForcedOpen => alarms.forced_open = true,
            DoorEvent::DoorClosed => (alarms.held_open, alarms.forced_open) = (false, false),
            DoorEvent::FireUnlocked => alarms.fire = true,
            DoorEvent::FireCleared => alarms.fire = false,
            _ => {}
        }
        if alarms != self.alarms_now {
            self.store.set_door_alarms(alarms)?;
            self.alarms_now = alarms;
        }
        Ok(())
    }
}
