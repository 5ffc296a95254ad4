//! Frame sources. The camera is a resource the gate opens only when a resident chooses Face and
//! closes on the result, on cancel and on timeout: nothing is captured while the gate is idle.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::vision::{Frame, VisionError};

/// `[camera]`: the device's camera (V4L2). The simulator's camera shows photos instead.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CameraConfig {
    /// `/dev/video<N>`: 0 is the first camera (a USB webcam, or the Pi camera module through
    /// libcamera's V4L2 compatibility layer).
    pub device: u32,
    /// The capture size asked of the camera (it may give the closest it has).
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

impl Default for CameraConfig {
    fn default() -> Self {
        // 640x480 shows a face at arm's length at well over 100 px, and every webcam has it.
        Self { device: 0, width: 640, height: 480, fps: 15 }
    }
}

/// A `[camera]` setting no camera can meet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CameraConfigError {
    #[error("[camera] {width}x{height} is not a usable capture size (160x120 to 4096x4096)")]
    Size { width: u32, height: u32 },
    #[error("[camera] fps = {0} must be 1 to 60")]
    Fps(u32),
}

impl CameraConfig {
    pub(crate) fn validate(&self) -> Result<(), CameraConfigError> {
        if !(160..=4096).contains(&self.width) || !(120..=4096).contains(&self.height) {
            return Err(CameraConfigError::Size { width: self.width, height: self.height });
        }
        if !(1..=60).contains(&self.fps) {
            return Err(CameraConfigError::Fps(self.fps));
        }
        Ok(())
    }
}

/// A camera, or anything that stands in for one.
pub trait FrameSource: Send {
    /// Starts capturing.
    fn open(&mut self) -> Result<(), VisionError>;
    /// The latest frame, `None` if none is ready.
    fn next_frame(&mut self) -> Result<Option<Frame>, VisionError>;
    /// Stops capturing and drops any buffered frame.
    fn close(&mut self);
    fn is_open(&self) -> bool;
}

/// The simulated camera: shows whatever photo the simulation puts in front of it (a person
/// walking up to the door), or an empty scene.
#[derive(Default)]
pub struct PhotoCamera {
    scene: Option<PathBuf>,
    open: bool,
    unplugged: bool,
    /// How many times the camera was opened (tests check camera discipline with it).
    pub opened_count: usize,
}

impl PhotoCamera {
    /// Puts a photo in front of the camera (`None`: nobody there).
    pub fn show(&mut self, photo: Option<PathBuf>) {
        self.scene = photo;
    }

    /// Unplugs the simulated camera (or plugs it back in): it then fails to open and, if
    /// open, stops delivering frames, as a webcam pulled from its USB port does.
    pub fn unplug(&mut self, unplugged: bool) {
        self.unplugged = unplugged;
    }
}

const UNPLUGGED: &str = "the simulated camera is unplugged";

impl FrameSource for PhotoCamera {
    fn open(&mut self) -> Result<(), VisionError> {
        if self.unplugged {
            return Err(VisionError::Camera(UNPLUGGED.into()));
        }
        self.open = true;
        self.opened_count += 1;
        Ok(())
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, VisionError> {
        if !self.open {
            return Ok(None);
        }
        if self.unplugged {
            return Err(VisionError::Camera(UNPLUGGED.into()));
        }
        match &self.scene {
            Some(path) => Frame::open(path).map(Some),
            None => Frame::from_rgb(640, 480, vec![40; 640 * 480 * 3]).map(Some),
        }
    }

    fn close(&mut self) {
        self.open = false;
    }

    fn is_open(&self) -> bool {
        self.open
    }
}

/// A camera whose every frame takes `stall` to come (a hung driver, a USB hiccup).
pub struct StalledCamera {
    pub stall: Duration,
    open: bool,
}

impl StalledCamera {
    pub fn new(stall: Duration) -> Self {
        Self { stall, open: false }
    }
}

impl FrameSource for StalledCamera {
    fn open(&mut self) -> Result<(), VisionError> {
        self.open = true;
        Ok(())
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, VisionError> {
        std::thread::sleep(self.stall);
        Ok(None)
    }

    fn close(&mut self) {
        self.open = false;
    }

    fn is_open(&self) -> bool {
        self.open
    }
}

/// The camera of a build without the `camera` feature: it cannot be opened, and says why.
pub struct NoCamera;

impl FrameSource for NoCamera {
    fn open(&mut self) -> Result<(), VisionError> {
        Err(VisionError::Camera(NO_CAMERA.into()))
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, VisionError> {
        Ok(None)
    }

    fn close(&mut self) {}

    fn is_open(&self) -> bool {
        false
    }
}

/// Why a build without the `camera` feature has no face recognition (shown on the Face tile).
pub const NO_CAMERA: &str = "this build has no camera support (cargo feature `camera`)";
