//! The touchscreen on the device: Slint's window on the main thread (linuxkms on the Pi's
//! display, without X11; an X11 window where built with `window`), the gate's device loop
//! ([`runtime::device`](crate::runtime::device)) on its own thread. A tap is one message to the
//! gate; each change of screen or language is one message back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use slint::ComponentHandle;

use super::{GateWindow, connect, select_language, show};
use crate::credentials::readers::CardReader;
use crate::door::DoorPort;
use crate::runtime::notify::Notifier;
use crate::runtime::{Event, FrameSource, Gate, device};

/// Runs the gate behind the touchscreen until `stop` is set, the window closes or the gate
/// fails (the service then restarts it, with the door locked meanwhile). `log` gets every event.
pub fn run<C, D>(
    mut gate: Gate<C, D>,
    mut reader: Box<dyn CardReader>,
    notifier: Notifier,
    stop: Arc<AtomicBool>,
    mut log: impl FnMut(u64, &Event) + Send + 'static,
) -> anyhow::Result<()>
where
    C: FrameSource + 'static,
    D: DoorPort + 'static,
{
    let window = GateWindow::new()?;
    let (taps, inbox) = mpsc::channel();
    connect(&window, move |action| {
        let _ = taps.send(action);
    });
    let weak = window.as_weak();
    let worker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut shown = None;
            let result = device::run(
                &mut gate,
                reader.as_mut(),
                &notifier,
                &inbox,
                &stop,
                |gate, now, events| {
                    for event in events {
                        log(now, event);
                    }
                    let view = (gate.screen().clone(), gate.language());
                    if shown.as_ref() != Some(&view) {
                        shown = Some(view.clone());
                        let weak = weak.clone();
                        let _ = slint::invoke_from_event_loop(move || {
                            if let Some(window) = weak.upgrade() {
                                select_language(view.1);
                                show(&window, &view.0);
                            }
                        });
                    }
                },
            );
            // A failed gate closes the screen too: the service restarts both.
            let _ = slint::quit_event_loop();
            result
        })
    };
    window.show()?;
    slint::run_event_loop_until_quit()?;
    stop.store(true, Ordering::Relaxed);
    drop(window);
    Ok(worker.join().map_err(|_| anyhow::anyhow!("the gate's thread panicked"))??)
}
