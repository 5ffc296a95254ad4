//! The running gate: the [`gate::Gate`] state machine, the camera seam, the headless script
//! runner the end-to-end tests and the PC simulator use, and the loop on the device with its
//! camera (`webcam`, cargo feature `camera`).

pub mod camera;
pub mod device;
pub mod door_bench;
pub mod gate;
pub mod notify;
pub mod script;
#[cfg(feature = "camera")]
pub mod webcam;

pub use camera::{FrameSource, NoCamera, PhotoCamera};
pub use gate::{Action, Event, Gate, GateConfig, Screen};
