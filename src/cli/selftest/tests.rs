//! Each simulated part broken in turn: its check fails, and the healthy part passes.

use super::*;
use crate::door::DoorError;
use crate::vision::VisionError;

/// Door lines whose strike relay misbehaves: stuck (ignores every change) or latching
/// (releases once, then ignores being locked again).
#[derive(Clone)]
struct FaultyRelay {
    lines: SimGpio,
    latching: bool,
}

impl Gpio for FaultyRelay {
    fn set(&mut self, line: Output, on: bool) -> Result<(), DoorError> {
        let released_already = self.lines.output(Output::Strike);
        if line == Output::Strike && (!self.latching || released_already) {
            return Ok(());
        }
        self.lines.set(line, on)
    }

    fn read(&mut self, line: Input) -> Result<bool, DoorError> {
        self.lines.read(line)
    }
}

fn door_with(gpio: impl Gpio, lines: &SimGpio) -> Result<String, String> {
    let relay = || lines.output(Output::Strike);
    door_check(gpio, &Config::default(), true, Some(&relay))
}

#[test]
fn the_door_check_fails_when_the_relay_does_not_release_or_does_not_relock() {
    let healthy = SimGpio::default();
    assert_eq!(
        door_with(healthy.clone(), &healthy).unwrap(),
        "door closed, exit button released, fire clear; relay pulsed"
    );
    let stuck = SimGpio::default();
    let err = door_with(FaultyRelay { lines: stuck.clone(), latching: false }, &stuck).unwrap_err();
    assert_eq!(err, "relay did not release");
    let latching = SimGpio::default();
    let err =
        door_with(FaultyRelay { lines: latching.clone(), latching: true }, &latching).unwrap_err();
    assert_eq!(err, "relay still released after the pulse");
}

/// A camera that opens but never delivers a frame.
struct Silent;

impl FrameSource for Silent {
    fn open(&mut self) -> Result<(), VisionError> {
        Ok(())
    }
    fn next_frame(&mut self) -> Result<Option<Frame>, VisionError> {
        Ok(None)
    }
    fn close(&mut self) {}
    fn is_open(&self) -> bool {
        false
    }
}

#[test]
fn the_camera_check_fails_when_the_camera_is_unplugged_or_silent() {
    let mut camera = PhotoCamera::default();
    let ok = camera_check(&mut camera, "simulated", None).unwrap();
    assert!(ok.starts_with("simulated: 640x480 at "), "{ok}");
    assert!(!camera.is_open(), "the check closes the camera");
    camera.unplug(true);
    let err = camera_check(&mut camera, "simulated", None).unwrap_err();
    assert!(err.contains("unplugged"), "{err}");
    let err = camera_check(&mut Silent, "/dev/video7", None).unwrap_err();
    assert_eq!(err, "/dev/video7: no frame in 3 s");
}

#[test]
fn the_reader_check_fails_unless_the_presented_card_comes_back() {
    let card = CardUid::new(b"0004512345".to_vec()).unwrap();
    let reader = |input: &str| SimReader::new(Cursor::new(input.to_owned()));
    assert!(reader_check(&mut reader("0004512345\n"), &card).is_ok());
    assert!(reader_check(&mut reader("0004512346\n"), &card).unwrap_err().contains("another card"));
    assert!(reader_check(&mut reader("garbage\n"), &card).unwrap_err().contains("not usable"));
    assert!(reader_check(&mut reader(""), &card).unwrap_err().contains("closed"));
}
