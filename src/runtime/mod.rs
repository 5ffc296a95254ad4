//! The running gate: the [`gate::Gate`] state machine, the camera seam, and the headless script
//! runner the end-to-end tests and the PC simulator use.

pub mod camera;
pub mod gate;
pub mod script;

pub use camera::{FrameSource, PhotoCamera};
pub use gate::{Action, Event, Gate, GateConfig, Screen};
