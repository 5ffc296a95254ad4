//! Frame sources. The camera is a resource the gate opens only when a resident chooses Face and
//! closes on the result, on cancel and on timeout: nothing is captured while the gate is idle.

use std::path::PathBuf;

use crate::vision::{Frame, VisionError};

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
    /// How many times the camera was opened (tests check camera discipline with it).
    pub opened_count: usize,
}

impl PhotoCamera {
    /// Puts a photo in front of the camera (`None`: nobody there).
    pub fn show(&mut self, photo: Option<PathBuf>) {
        self.scene = photo;
    }
}

impl FrameSource for PhotoCamera {
    fn open(&mut self) -> Result<(), VisionError> {
        self.open = true;
        self.opened_count += 1;
        Ok(())
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, VisionError> {
        if !self.open {
            return Ok(None);
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
