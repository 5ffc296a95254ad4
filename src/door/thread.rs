//! The door on its own thread: door I/O never waits for inference, the database or a camera.
//!
//! [`DoorThread`] owns the [`DoorController`] and ticks it every [`TICK`] on its own monotonic
//! clock; the gate sends it commands over a channel and drains its events without blocking.
//! A second thread runs the controller's [`Watchdog`](super::Watchdog): if the door thread stops
//! ticking (a call that hangs, a bug that loops), the watchdog drives the strike locked within
//! `watchdog_ms`, unless the door thread last saw a fire signal that unlocks the door: then
//! the watchdog keeps it unlocked. On a Pi the strike's pin has a lock of its own, so a hung
//! call on another line does not hold the watchdog back.
//!
//! What watches the gate's own loop: nothing here needs to. While the gate loop stalls (a slow
//! inference, a hung camera call) the door thread goes on: the exit button, the contact and the
//! alarms still work, and a pulse still ends on time, so the strike cannot stay released because
//! the gate hangs. The stalled gate itself is systemd's to catch: the gate loop sends `WATCHDOG=1`
//! only while [`DoorThread::alive`] also says the door thread ticks, so a stall of either stops
//! the messages and systemd restarts the service, which drives the strike locked at its start.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::controller::{DoorController, DoorEvent, Watchdog};
use super::gpio::Gpio;
use super::{DoorError, DoorPort};

/// How often the door thread reads its inputs.
pub const TICK: Duration = Duration::from_millis(5);

enum Command {
    Grant,
    Deny,
}

/// A door controller on its own thread, with its watchdog on another.
pub struct DoorThread {
    commands: Option<Sender<Command>>,
    events: Receiver<Result<DoorEvent, String>>,
    heartbeat: Box<dyn Fn() -> bool + Send>,
    door: Option<JoinHandle<()>>,
    watchdog: Option<(Sender<()>, JoinHandle<()>)>,
}

impl DoorThread {
    /// Starts ticking `controller` (made with time 0: its clock starts now) and its watchdog.
    pub fn spawn<G: Gpio>(mut controller: DoorController<G>) -> Self {
        let started = Instant::now();
        let clock = move || started.elapsed().as_millis() as u64;
        let mut dog = controller.watchdog();
        let probe = controller.watchdog();
        let (commands, inbox) = mpsc::channel();
        let (events, outbox) = mpsc::channel();
        let door = std::thread::Builder::new()
            .name("door".into())
            .spawn(move || {
                if let Err(err) = tick_until_stopped(&mut controller, &inbox, &events, clock) {
                    let _ = events.send(Err(err.to_string()));
                }
                // Dropping the controller here locks the strike, also when a panic unwinds.
            })
            .expect("a thread for the door");
        let (stop_dog, dog_inbox) = mpsc::channel::<()>();
        let period = dog.period();
        let watchdog = std::thread::Builder::new()
            .name("door-watchdog".into())
            .spawn(move || watch(&mut dog, &dog_inbox, period, clock))
            .expect("a thread for the door's watchdog");
        Self {
            commands: Some(commands),
            events: outbox,
            heartbeat: Box::new(move || !probe.stale(clock())),
            door: Some(door),
            watchdog: Some((stop_dog, watchdog)),
        }
    }

    fn send(&self, command: Command) -> Result<(), DoorError> {
        let stopped = || DoorError::Stopped("it no longer takes commands".into());
        self.commands.as_ref().ok_or_else(stopped)?.send(command).map_err(|_| stopped())
    }
}

fn tick_until_stopped<G: Gpio>(
    controller: &mut DoorController<G>,
    inbox: &Receiver<Command>,
    events: &Sender<Result<DoorEvent, String>>,
    clock: impl Fn() -> u64,
) -> Result<(), DoorError> {
    loop {
        match inbox.recv_timeout(TICK) {
            Ok(Command::Grant) => controller.grant(clock())?,
            Ok(Command::Deny) => controller.deny(clock())?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        for event in controller.tick(clock())? {
            // The gate may be gone while the door still locks itself; nothing to tell then.
            let _ = events.send(Ok(event));
        }
    }
}

fn watch<G: Gpio>(
    dog: &mut Watchdog<G>,
    stop: &Receiver<()>,
    period: Duration,
    clock: impl Fn() -> u64,
) {
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(period) {
        match dog.check(clock()) {
            Some(true) => {
                tracing::error!("the door thread stopped ticking: the watchdog locked the strike");
            }
            Some(false) => {
                tracing::error!(
                    "the door thread stopped ticking during a fire: the door stays unlocked"
                );
            }
            None => {}
        }
    }
}

impl DoorPort for DoorThread {
    /// The door thread's clock decides; the caller's `now` is not used.
    fn grant(&mut self, _now: u64) -> Result<(), DoorError> {
        self.send(Command::Grant)
    }

    fn deny(&mut self, _now: u64) -> Result<(), DoorError> {
        self.send(Command::Deny)
    }

    /// Drains the events so far without waiting; an error once the door thread has failed.
    fn poll(&mut self, _now: u64) -> Result<Vec<DoorEvent>, DoorError> {
        let mut out = Vec::new();
        loop {
            match self.events.try_recv() {
                Ok(Ok(event)) => out.push(event),
                Ok(Err(reason)) => return Err(DoorError::Stopped(reason)),
                Err(mpsc::TryRecvError::Empty) => return Ok(out),
                Err(mpsc::TryRecvError::Disconnected) => {
                    return Err(DoorError::Stopped("it ended".into()));
                }
            }
        }
    }

    /// Both threads run and the door ticked within `watchdog_ms`.
    fn alive(&self) -> bool {
        let running = |h: Option<&JoinHandle<()>>| h.is_some_and(|h| !h.is_finished());
        running(self.door.as_ref())
            && running(self.watchdog.as_ref().map(|w| &w.1))
            && (self.heartbeat)()
    }
}

impl Drop for DoorThread {
    /// Ends the door thread, which locks the strike as its controller drops, then the watchdog.
    fn drop(&mut self) {
        self.commands = None;
        if let Some(door) = self.door.take() {
            let _ = door.join();
        }
        if let Some((stop, watchdog)) = self.watchdog.take() {
            drop(stop);
            let _ = watchdog.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::door::{DoorConfig, Input, Output, SimGpio};

    /// Simulated lines whose reads hang while `stall` is set (a GPIO call that never returns).
    #[derive(Clone)]
    struct StallingGpio {
        sim: SimGpio,
        stall: Arc<AtomicBool>,
    }

    impl Gpio for StallingGpio {
        fn set(&mut self, line: Output, on: bool) -> Result<(), DoorError> {
            self.sim.set(line, on)
        }

        fn read(&mut self, line: Input) -> Result<bool, DoorError> {
            while self.stall.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
            self.sim.read(line)
        }
    }

    fn wait_for(mut what: impl FnMut() -> bool, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if what() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        what()
    }

    #[test]
    fn the_exit_button_works_without_anyone_polling() {
        let sim = SimGpio::default();
        let controller = DoorController::new(sim.clone(), DoorConfig::default(), 0).unwrap();
        let mut door = DoorThread::spawn(controller);
        sim.drive(Input::ExitButton, true);
        assert!(wait_for(|| sim.output(Output::Strike), Duration::from_secs(2)));
        sim.drive(Input::ExitButton, false);
        let mut events = Vec::new();
        assert!(wait_for(
            || {
                events.extend(door.poll(0).unwrap());
                !events.is_empty()
            },
            Duration::from_secs(1)
        ));
        assert_eq!(events, vec![DoorEvent::ExitRequested]);
        assert!(door.alive());
        drop(door);
        assert!(!sim.output(Output::Strike), "stopping the door thread locks the strike");
    }

    #[test]
    fn a_stalled_door_thread_is_relocked_by_the_watchdog_within_its_limit() {
        let stall = Arc::new(AtomicBool::new(false));
        let sim = SimGpio::default();
        let gpio = StallingGpio { sim: sim.clone(), stall: stall.clone() };
        let config = DoorConfig { watchdog_ms: 200, ..DoorConfig::default() };
        let controller = DoorController::new(gpio, config, 0).unwrap();
        let mut door = DoorThread::spawn(controller);
        door.grant(0).unwrap();
        assert!(wait_for(|| sim.output(Output::Strike), Duration::from_secs(2)));
        std::thread::sleep(Duration::from_millis(600));
        assert!(sim.output(Output::Strike), "a ticking door keeps its 5 s pulse");
        assert!(door.alive());
        stall.store(true, Ordering::Relaxed);
        // The limit plus one watchdog period (50 ms), with room for a busy machine's scheduler.
        assert!(
            wait_for(|| !sim.output(Output::Strike), Duration::from_millis(200 + 50 + 250)),
            "the watchdog relocks a stalled door"
        );
        assert!(!door.alive(), "a stalled door thread is not alive for systemd");
        stall.store(false, Ordering::Relaxed);
    }

    #[test]
    fn a_door_thread_stalled_during_a_fire_is_kept_unlocked_by_the_watchdog_and_on_drop() {
        let stall = Arc::new(AtomicBool::new(false));
        let sim = SimGpio::default();
        let gpio = StallingGpio { sim: sim.clone(), stall: stall.clone() };
        let config = DoorConfig {
            watchdog_ms: 200,
            debounce_ms: 0,
            pins: crate::door::Pins { fire: Some(26), ..Default::default() },
            ..DoorConfig::default()
        };
        let controller = DoorController::new(gpio, config, 0).unwrap();
        let door = DoorThread::spawn(controller);
        // Normally closed fire contact: an open contact (false) signals fire.
        sim.drive(Input::Fire, false);
        assert!(wait_for(|| sim.output(Output::Strike), Duration::from_secs(2)));
        stall.store(true, Ordering::Relaxed);
        assert!(wait_for(|| !door.alive(), Duration::from_secs(2)), "the door thread stalls");
        std::thread::sleep(Duration::from_millis(300));
        assert!(sim.output(Output::Strike), "the watchdog keeps a fire-unlocked door unlocked");
        stall.store(false, Ordering::Relaxed);
        drop(door);
        assert!(sim.output(Output::Strike), "stopping during a fire leaves the escape route open");
    }

    #[test]
    fn a_panic_on_the_gate_side_leaves_the_strike_locked() {
        let sim = SimGpio::default();
        let (lines, probe) = (sim.clone(), sim.clone());
        let result = std::thread::spawn(move || {
            let controller = DoorController::new(lines, DoorConfig::default(), 0).unwrap();
            let mut door = DoorThread::spawn(controller);
            door.grant(0).unwrap();
            assert!(wait_for(|| probe.output(Output::Strike), Duration::from_secs(2)));
            panic!("simulated bug in the gate while the door is unlocked");
        })
        .join();
        assert!(result.is_err());
        assert!(!sim.output(Output::Strike));
    }
}
