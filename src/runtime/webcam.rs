//! The camera on the device, through nokhwa (V4L2: USB webcams, and the Pi camera module through
//! libcamera's V4L2 compatibility layer). Capture runs on its own thread while the camera is open
//! and keeps only the newest frame, still encoded; it is decoded when the gate asks for it, so a
//! frame the gate never looks at costs no conversion.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution,
};
use nokhwa::{Buffer, Camera};

use super::camera::{CameraConfig, FrameSource};
use crate::vision::{Frame, VisionError};

/// A V4L2 camera, opened only while a resident uses Face.
pub struct Webcam {
    config: CameraConfig,
    capture: Option<Capture>,
}

/// The running capture thread and the slot it fills.
struct Capture {
    newest: Arc<Mutex<Option<Result<Buffer, String>>>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Webcam {
    pub fn new(config: CameraConfig) -> Self {
        Self { config, capture: None }
    }
}

fn camera_error(what: &str, err: impl std::fmt::Display) -> VisionError {
    VisionError::Camera(format!("{what}: {err}"))
}

/// Opens the device and starts its stream (on the capture thread: nokhwa's camera stays there).
fn start(config: &CameraConfig) -> Result<Camera, VisionError> {
    let format = CameraFormat::new(
        Resolution::new(config.width, config.height),
        FrameFormat::MJPEG,
        config.fps,
    );
    let requested = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(format));
    let device = format!("/dev/video{}", config.device);
    let mut camera = Camera::new(CameraIndex::Index(config.device), requested)
        .map_err(|e| camera_error(&device, e))?;
    camera.open_stream().map_err(|e| camera_error(&device, e))?;
    Ok(camera)
}

impl FrameSource for Webcam {
    fn open(&mut self) -> Result<(), VisionError> {
        if self.capture.is_some() {
            return Ok(());
        }
        let newest = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (started, outcome) = mpsc::sync_channel(1);
        let thread = {
            let (config, newest, stop) = (self.config.clone(), newest.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut camera = match start(&config) {
                    Ok(camera) => camera,
                    Err(err) => {
                        let _ = started.send(Err(err));
                        return;
                    }
                };
                let _ = started.send(Ok(()));
                while !stop.load(Ordering::Relaxed) {
                    let frame = camera.frame().map_err(|e| e.to_string());
                    *newest.lock().unwrap_or_else(|p| p.into_inner()) = Some(frame);
                }
                let _ = camera.stop_stream();
            })
        };
        match outcome.recv() {
            Ok(Ok(())) => {
                self.capture = Some(Capture { newest, stop, thread });
                Ok(())
            }
            Ok(Err(err)) => Err(err),
            Err(_) => Err(VisionError::Camera("the capture thread ended".into())),
        }
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, VisionError> {
        let Some(capture) = &self.capture else { return Ok(None) };
        let taken = capture.newest.lock().unwrap_or_else(|p| p.into_inner()).take();
        match taken {
            None => Ok(None),
            Some(Err(err)) => Err(camera_error("capture", err)),
            // Most webcams send MJPEG at 640x480: decoded by the same JPEG decoder as photos.
            // Other formats (YUYV, the camera module's) go through nokhwa's converters.
            Some(Ok(buffer)) if buffer.source_frame_format() == FrameFormat::MJPEG => {
                Frame::decode(buffer.buffer()).map(Some).map_err(|e| camera_error("decode", e))
            }
            Some(Ok(buffer)) => {
                let image =
                    buffer.decode_image::<RgbFormat>().map_err(|e| camera_error("decode", e))?;
                let (width, height) = image.dimensions();
                Frame::from_rgb(width, height, image.into_raw()).map(Some)
            }
        }
    }

    fn close(&mut self) {
        if let Some(capture) = self.capture.take() {
            capture.stop.store(true, Ordering::Relaxed);
            let _ = capture.thread.join();
        }
    }

    fn is_open(&self) -> bool {
        self.capture.is_some()
    }
}

impl Drop for Webcam {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_camera_is_a_clear_error_and_nothing_stays_open() {
        let mut camera = Webcam::new(CameraConfig { device: 99, ..CameraConfig::default() });
        let err = camera.open().unwrap_err().to_string();
        assert!(err.contains("/dev/video99"), "{err}");
        assert!(!camera.is_open());
        assert!(camera.next_frame().unwrap().is_none(), "no frame from a camera that is not open");
    }
}
