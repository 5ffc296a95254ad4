//! Commands from the site (remote unlock), kept in the database by the sync agent: the gate
//! looks whenever the database changed (and once at start), and pulses the strike once for each
//! command the store hands out as due ([`crate::store::Store::take_commands`]: not expired by
//! the door's clock, never executed before). The door controller keeps its own precedence: a
//! fire unlock stays unlocked, a held-open or forced alarm stays until the door closes.

use super::{Event, Gate};
use crate::door::{DoorEvent, DoorPort};
use crate::runtime::camera::FrameSource;
use crate::runtime::error::Result;
use crate::site::commands::CommandKind;

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    /// Carries out the commands that are due.
    pub(super) fn follow_commands(&mut self, now: u64, events: &mut Vec<Event>) -> Result<()> {
        for kind in self.store.take_commands(self.unix(now))? {
            match kind {
                CommandKind::Unlock => {
                    self.door.grant(now)?;
                    events.push(Event::Door { what: "RemoteUnlock".into() });
                    events.push(Event::Door { what: format!("{:?}", DoorEvent::Unlocked) });
                }
            }
        }
        Ok(())
    }
}
