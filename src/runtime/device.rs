//! The gate on the device: the door on GPIO (on its own thread), the configured card reader, the
//! touchscreen's taps, and systemd's watchdog fed from every turn of the loop while the door's
//! thread is alive too (see `door::DoorThread`). Without a screen (`run --headless`) the same
//! loop serves a door with a reader only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::error::Result;
use super::notify::Notifier;
use super::{Action, Event, FrameSource, Gate};
use crate::credentials::readers::CardReader;
use crate::door::DoorPort;

/// How long one turn waits for a card; the gate and the door are ticked once per turn.
const TURN: Duration = Duration::from_millis(50);

/// Runs until `stop` is set. `taps` are the touchscreen's actions (none without a screen);
/// `after_turn` sees the gate and the turn's events (for the screen and the journal).
pub fn run<C: FrameSource, D: DoorPort>(
    gate: &mut Gate<C, D>,
    reader: &mut dyn CardReader,
    notifier: &Notifier,
    taps: &mpsc::Receiver<Action>,
    stop: &AtomicBool,
    mut after_turn: impl FnMut(&Gate<C, D>, u64, &[Event]),
) -> Result<()> {
    let started = Instant::now();
    notifier.ready()?;
    while !stop.load(Ordering::Relaxed) {
        let mut events = Vec::new();
        let now = started.elapsed().as_millis() as u64;
        for action in taps.try_iter() {
            events.extend(gate.act(action, now)?);
        }
        match reader.next_card(TURN) {
            Ok(Some(uid)) => events.extend(gate.act(Action::Card(uid), now)?),
            Ok(None) => {}
            Err(err) => {
                // Garbage from a reader, or a reader unplugged: the door stays locked, the
                // gate goes on (the screen, the exit button and the alarms still work).
                tracing::warn!("card reader: {err}");
                std::thread::sleep(TURN);
            }
        }
        let now = started.elapsed().as_millis() as u64;
        events.extend(gate.tick(now)?);
        after_turn(gate, now, &events);
        if gate.door().alive() {
            notifier.alive()?;
        }
    }
    Ok(())
}
