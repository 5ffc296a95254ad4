//! A card enrolled by a tap for the site ([`crate::site::card_tap`]): when the site's command
//! is due, the screen asks "tap the new card for resident R" until the command's expiry by the
//! door's clock. The first card tapped is reported to the site (its keyed index, never its
//! number) and opens nothing; Cancel or the time running out ends the wait without a card.
//! While the gate waits, every other action is ignored, so no resident's card opening the door
//! is taken for the new one.

use super::{Action, Event, Gate, Offer, Outcome, Screen};
use crate::door::DoorPort;
use crate::runtime::camera::FrameSource;
use crate::runtime::error::Result;

/// The tap request the gate is waiting on.
pub(super) struct CardTap {
    id: String,
    number: String,
    /// The gate's clock (ms) at which the wait ends.
    until: u64,
}

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    /// Starts waiting for resident `number`'s new card until `expires_at` (the door's clock); a
    /// wait still under way ends first, without a card.
    pub(super) fn start_card_tap(
        &mut self,
        id: String,
        number: String,
        expires_at: i64,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<()> {
        self.end_card_tap(None, now)?;
        self.close_camera(events);
        let left = expires_at.saturating_sub(self.unix(now)).max(0) as u64;
        self.card_tap = Some(CardTap { id, number: number.clone(), until: now + left * 1000 });
        self.show(Screen::SiteCard { number }, events);
        Ok(())
    }

    /// While waiting: a card ends the wait with that card, Cancel without one; anything else
    /// is ignored. Returns whether the action was taken here.
    pub(super) fn card_tap_act(
        &mut self,
        action: &Action,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<bool> {
        let Some(tap) = &self.card_tap else { return Ok(false) };
        let number = tap.number.clone();
        match action {
            Action::Card(uid) => {
                let taken = self.store.resident_for_card(uid)?.is_some();
                self.end_card_tap(Some(uid), now)?;
                let outcome = if taken {
                    Outcome::CardAlreadyRegistered
                } else {
                    Outcome::CardAdded { number }
                };
                self.show_result(!taken, outcome, Offer::Nothing, now, events)?;
            }
            Action::Cancel => {
                self.end_card_tap(None, now)?;
                self.show_after_card_tap(events);
            }
            _ => {}
        }
        Ok(true)
    }

    /// Ends the wait without a card once its time ran out.
    pub(super) fn card_tap_tick(&mut self, now: u64, events: &mut Vec<Event>) -> Result<()> {
        if self.card_tap.as_ref().is_some_and(|tap| now >= tap.until) {
            self.end_card_tap(None, now)?;
            self.show_after_card_tap(events);
        }
        Ok(())
    }

    fn end_card_tap(&mut self, card: Option<&crate::credentials::CardUid>, now: u64) -> Result<()> {
        if let Some(tap) = self.card_tap.take() {
            self.store.finish_card_tap(&tap.id, card, self.unix(now))?;
        }
        Ok(())
    }

    fn show_after_card_tap(&mut self, events: &mut Vec<Event>) {
        if self.admin_active() {
            self.show_admin_menu(events);
        } else {
            let idle = self.idle();
            self.show(idle, events);
        }
    }
}
