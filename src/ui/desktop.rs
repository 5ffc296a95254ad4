//! The simulated gate in desktop windows: the touchscreen (800×480, as on the Pi) and the
//! simulated hardware beside it. The gate runs on its own thread, so inference never blocks the
//! UI: a tap is one message to the gate, and each change of screen or door is one message back.
//! The door contact and the exit button act on the simulated lines at once, as wires do: the
//! door's own thread reads them, whatever the gate is doing.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use slint::ComponentHandle;

use super::{GateWindow, SimPanel, connect, select_language, show};
use crate::door::{DoorPort, Gpio, Input, Output};
use crate::language::Language;
use crate::runtime::script::Simulation;
use crate::runtime::{Action, FrameSource, Screen};

/// What the windows send to the gate's thread.
enum Command {
    Act(Action),
    /// A line of the simulation's script language (a card, the door, the camera's scene).
    Script(String),
}

/// What the windows show; sent again only when it changes.
#[derive(Clone, PartialEq)]
struct View {
    screen: Screen,
    language: Language,
    lamps: [bool; 5],
    door_open: bool,
}

/// How long a click on the simulated exit button holds it down.
const EXIT_PRESS: Duration = Duration::from_millis(300);

/// Runs until both windows are closed. `people`: labels and photos for the camera's scene.
pub fn run<D: DoorPort + 'static>(
    mut sim: Simulation<D>,
    people: Vec<(String, Option<PathBuf>)>,
) -> anyhow::Result<()> {
    let gate_window = GateWindow::new()?;
    let panel = SimPanel::new()?;
    let (commands, inbox) = mpsc::channel::<Command>();

    let to_gate = commands.clone();
    connect(&gate_window, move |action| {
        let _ = to_gate.send(Command::Act(action));
    });
    let labels: Vec<slint::SharedString> = people.iter().map(|p| p.0.as_str().into()).collect();
    panel.set_people(std::rc::Rc::new(slint::VecModel::from(labels)).into());
    let to_gate = commands.clone();
    panel.on_show_person(move |i| {
        let line = match people.get(i as usize).and_then(|p| p.1.as_ref()) {
            Some(photo) => format!("show {}", photo.display()),
            None => "show nobody".to_owned(),
        };
        let _ = to_gate.send(Command::Script(line));
    });
    let to_gate = commands.clone();
    panel.on_card(move |number| {
        let _ = to_gate.send(Command::Script(format!("card {}", number.trim())));
    });
    let lines = sim.gpio.clone();
    panel.on_door(move |open| lines.drive(Input::DoorContact, open));
    let lines = sim.gpio.clone();
    panel.on_exit_button(move || {
        let lines = lines.clone();
        // Held long enough to pass the debounce, as a finger does.
        std::thread::spawn(move || {
            lines.drive(Input::ExitButton, true);
            std::thread::sleep(EXIT_PRESS);
            lines.drive(Input::ExitButton, false);
        });
    });
    drop(commands);

    let windows = (gate_window.as_weak(), panel.as_weak());
    let worker = std::thread::spawn(move || -> anyhow::Result<()> {
        let started = Instant::now();
        let mut shown: Option<View> = None;
        loop {
            match inbox.recv_timeout(Duration::from_millis(50)) {
                Ok(Command::Act(action)) => {
                    sim.gate.act(action, sim.now)?;
                }
                Ok(Command::Script(line)) => {
                    if let Err(err) = sim.run_line(&line) {
                        eprintln!("{err}");
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
            let now = (started.elapsed().as_millis() as u64).max(sim.now);
            sim.run_line(&format!("at {now}"))?;
            let view = view_of(&sim);
            if shown.as_ref() != Some(&view) {
                shown = Some(view.clone());
                let (gate_window, panel) = windows.clone();
                slint::invoke_from_event_loop(move || {
                    if let Some(w) = gate_window.upgrade() {
                        select_language(view.language);
                        show(&w, &view.screen);
                    }
                    if let Some(p) = panel.upgrade() {
                        let [strike, green, red, buzzer, camera] = view.lamps;
                        p.set_strike(strike);
                        p.set_green(green);
                        p.set_red(red);
                        p.set_buzzer(buzzer);
                        p.set_camera(camera);
                        p.set_door_open(view.door_open);
                        let state = if view.door_open { "Door open" } else { "Door closed" };
                        p.set_door_state(state.into());
                    }
                })?;
            }
        }
    });

    gate_window.show()?;
    panel.show()?;
    slint::run_event_loop()?;
    // Closing the windows drops the senders: the gate's thread ends at its next turn.
    drop((gate_window, panel));
    worker.join().map_err(|_| anyhow::anyhow!("the gate's thread panicked"))?
}

fn view_of<D: DoorPort>(sim: &Simulation<D>) -> View {
    let out = |line| sim.gpio.output(line);
    View {
        screen: sim.gate.screen().clone(),
        language: sim.gate.language(),
        lamps: [
            out(Output::Strike),
            out(Output::GreenLed),
            out(Output::RedLed),
            out(Output::Buzzer),
            sim.gate.camera().is_open(),
        ],
        door_open: sim.gpio.clone().read(Input::DoorContact).unwrap_or(false),
    }
}
