//! Commands from the site (remote unlock, a card enrolled by a tap), kept in the database by
//! the sync agent: the gate looks whenever the database changed (and once at start), and
//! carries out each command the store hands out as due ([`crate::store::Store::take_commands`]:
//! not expired by the door's clock, never executed before): a pulse of the strike for an
//! unlock, the wait for a card in `card_tap`. The door controller keeps its own precedence: a
//! fire unlock stays unlocked, a held-open or forced alarm stays until the door closes.

use super::{Event, Gate};
use crate::door::{DoorEvent, DoorPort};
use crate::runtime::camera::FrameSource;
use crate::runtime::error::Result;
use crate::store::DueCommand;

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    /// Carries out the commands that are due.
    pub(super) fn follow_commands(&mut self, now: u64, events: &mut Vec<Event>) -> Result<()> {
        for command in self.store.take_commands(self.unix(now))? {
            match command {
                DueCommand::Unlock => {
                    self.door.grant(now)?;
                    events.push(Event::Door { what: "RemoteUnlock".into() });
                    events.push(Event::Door { what: format!("{:?}", DoorEvent::Unlocked) });
                }
                DueCommand::EnrolCard { id, number, expires_at } => {
                    self.start_card_tap(id, number, expires_at, now, events)?;
                }
            }
        }
        Ok(())
    }
}
