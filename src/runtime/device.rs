//! The gate on the device: the door on GPIO (on its own thread), the configured card reader (read
//! on a thread of its own, so that no turn waits on the reader's own polling), the touchscreen's
//! taps, and systemd's watchdog fed from every turn of the loop while the door's thread is alive
//! too (see `door::DoorThread`). Without a screen (`run --headless`) the same loop serves a door
//! with a reader only.
//!
//! An idle turn waits up to [`TURN`] for a card, so an idle gate sleeps between turns. While the
//! camera is open a turn waits at most [`FACE_TURN`]: the face session takes each new frame
//! almost as soon as the camera has it, and a card presented meanwhile still decides at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::error::Result;
use super::notify::Notifier;
use super::{Action, Event, FrameSource, Gate};
use crate::credentials::CardUid;
use crate::credentials::readers::CardReader;
use crate::door::DoorPort;

/// How long an idle turn waits for a card; the gate and the door are ticked once per turn.
const TURN: Duration = Duration::from_millis(50);
/// How long a turn waits for a card while the camera is open (a face session).
const FACE_TURN: Duration = Duration::from_millis(5);

/// Runs until `stop` is set. `taps` are the touchscreen's actions (none without a screen);
/// `after_turn` sees the gate and the turn's events (for the screen and the journal).
pub fn run<C: FrameSource, D: DoorPort>(
    gate: &mut Gate<C, D>,
    reader: &mut dyn CardReader,
    notifier: &Notifier,
    taps: &mpsc::Receiver<Action>,
    stop: &AtomicBool,
    after_turn: impl FnMut(&Gate<C, D>, u64, &[Event]),
) -> Result<()> {
    let (cards, card_inbox) = mpsc::channel();
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let finished = &finished;
        scope.spawn(move || {
            read_cards(reader, &cards, || {
                stop.load(Ordering::Relaxed) || finished.load(Ordering::Relaxed)
            })
        });
        let result = turns(gate, &card_inbox, notifier, taps, stop, after_turn);
        finished.store(true, Ordering::Relaxed);
        result
    })
}

/// Hands the reader's cards to the loop until `done`.
fn read_cards(reader: &mut dyn CardReader, cards: &mpsc::Sender<CardUid>, done: impl Fn() -> bool) {
    while !done() {
        match reader.next_card(TURN) {
            Ok(Some(uid)) => {
                if cards.send(uid).is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(err) => {
                // Garbage from a reader, or a reader unplugged: the door stays locked, the
                // gate goes on (the screen, the exit button and the alarms still work).
                tracing::warn!("card reader: {err}");
                std::thread::sleep(TURN);
            }
        }
    }
}

/// The gate's turns: the taps, a card if one comes within the turn's wait, one tick.
fn turns<C: FrameSource, D: DoorPort>(
    gate: &mut Gate<C, D>,
    cards: &mpsc::Receiver<CardUid>,
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
        let wait = if gate.camera().is_open() { FACE_TURN } else { TURN };
        match cards.recv_timeout(wait) {
            Ok(uid) => {
                let now = started.elapsed().as_millis() as u64;
                events.extend(gate.act(Action::Card(uid), now)?);
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The reader's thread is gone (it panicked): the gate goes on without cards.
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
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
