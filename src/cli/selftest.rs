//! `facegate selftest`: the installer's bring-up check. Opens every configured part, reads the
//! inputs, pulses the relay when asked, and prints what works and what does not.

use std::time::Duration;

use crate::config::Config;
use crate::credentials::readers::rc522::Mfrc522;
use crate::credentials::readers::sim::parse_line;
use crate::credentials::readers::wedge::WedgeReader;
use crate::credentials::readers::{CardReader, ReaderKind};
use crate::door::{DoorController, Gpio, Input, Output, SimGpio};
use crate::pi::{RppalGpio, RppalSpi, WiegandReader};
use crate::runtime::{FrameSource, PhotoCamera};
use crate::store::Store;
use crate::vision::FacePipeline;
use crate::vision::liveness::LivenessMode;
use crate::vision::liveness::passive::PassiveLiveness;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check the simulated door, reader and camera instead of the hardware.
    #[arg(long)]
    sim: bool,
    /// Also release the strike for one pulse (someone should watch the door).
    #[arg(long)]
    pulse: bool,
}

/// One line of the report.
fn report(part: &str, result: Result<String, String>) -> bool {
    match &result {
        Ok(detail) => println!("ok    {part:<14} {detail}"),
        Err(reason) => println!("FAIL  {part:<14} {reason}"),
    }
    result.is_ok()
}

fn door_check<G: Gpio>(gpio: G, config: &Config, pulse: bool) -> Result<String, String> {
    let mut probe = gpio.clone();
    let mut door = DoorController::new(gpio, config.door.clone(), 0).map_err(|e| e.to_string())?;
    let mut read = |input| probe.read(input).map_err(|e| e.to_string());
    let inputs = format!(
        "door {}, exit button {}, fire {}",
        if read(Input::DoorContact)? { "open" } else { "closed" },
        if read(Input::ExitButton)? { "pressed" } else { "released" },
        if config.door.fire_signalled(read(Input::Fire)?) { "ACTIVE" } else { "clear" },
    );
    if pulse {
        door.grant(0).map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(config.door.pulse_ms.min(3_000)));
        door.tick(config.door.pulse_ms).map_err(|e| e.to_string())?;
    }
    Ok(format!("{inputs}; relay {}", if pulse { "pulsed" } else { "not pulsed (add --pulse)" }))
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    let mut all = true;
    all &= report(
        "database",
        Store::open(&config.store)
            .map(|s| format!("{} opened with its key", s.path().display()))
            .map_err(|e| e.to_string()),
    );
    all &= report(
        "face models",
        FacePipeline::load(&config.paths.models, &config.vision)
            .map(|_| format!("{} backend", config.vision.backend))
            .map_err(|e| e.to_string()),
    );
    if config.vision.liveness.mode != LivenessMode::Off {
        let pad = PassiveLiveness::load(&config.paths.models, config.vision.backend, 1);
        all &=
            report("liveness", pad.map(|_| "both models loaded".into()).map_err(|e| e.to_string()));
    }
    if args.sim {
        let mut camera = PhotoCamera::default();
        let frame = camera.open().and_then(|()| camera.next_frame()).map_err(|e| e.to_string());
        camera.close();
        all &= report("camera", frame.map(|f| format!("simulated, {f:?}")));
        let gpio = SimGpio::default();
        let door = door_check(gpio.clone(), config, args.pulse);
        let relay_locked = !gpio.output(Output::Strike);
        all &= report(
            "door",
            door.and_then(|d| if relay_locked { Ok(d) } else { Err("relay left released".into()) }),
        );
        all &= report(
            "card reader",
            parse_line("0004512345")
                .map(|_| "simulated: reads typed numbers".into())
                .map_err(|e| e.to_string()),
        );
    } else {
        all &= report("camera", Err("no camera support in this version: use --sim".into()));
        all &= report(
            "door",
            RppalGpio::open(&config.door)
                .map_err(|e| e.to_string())
                .and_then(|g| door_check(g, config, args.pulse)),
        );
        let reader = match config.reader.kind {
            ReaderKind::Sim => Ok("simulated".to_owned()),
            ReaderKind::Wedge => WedgeReader::open(&config.reader.device)
                .map(|_| "grabbed".to_owned())
                .map_err(|e| e.to_string()),
            ReaderKind::Wiegand => {
                WiegandReader::open(config.reader.wiegand_d0, config.reader.wiegand_d1)
                    .and_then(|mut r| r.next_card(Duration::from_secs(5)))
                    .map(|card| {
                        if card.is_some() {
                            "a card was read".to_owned()
                        } else {
                            "lines open; no card in 5 s".to_owned()
                        }
                    })
                    .map_err(|e| e.to_string())
            }
            ReaderKind::Rc522 => RppalSpi::open()
                .and_then(|spi| Mfrc522::new(spi).version())
                .map(|v| {
                    format!(
                        "chip version {v:#04x}{}",
                        if matches!(v, 0x91 | 0x92) { "" } else { " (not an MFRC522?)" }
                    )
                })
                .map_err(|e| e.to_string()),
        };
        all &= report("card reader", reader);
    }
    anyhow::ensure!(all, "some parts failed: see above");
    Ok(())
}
