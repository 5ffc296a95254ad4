//! Rendering the UI without a display (software renderer), for screenshots and UI tests.

use std::path::Path;
use std::rc::Rc;

use slint::PhysicalSize;
use slint::Rgb8Pixel;
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};

struct Headless(Rc<MinimalSoftwareWindow>);

impl Platform for Headless {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.0.clone())
    }
}

/// The headless window all components of this thread draw into. Call before creating any.
pub fn window(width: u32, height: u32) -> Result<Rc<MinimalSoftwareWindow>, slint::PlatformError> {
    let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
    window.set_size(PhysicalSize::new(width, height));
    slint::platform::set_platform(Box::new(Headless(window.clone())))
        .map_err(|e| slint::PlatformError::Other(e.to_string()))?;
    Ok(window)
}

/// Draws the current state and returns RGB pixels.
pub fn render(window: &MinimalSoftwareWindow) -> image::RgbImage {
    let size = window.size();
    let (w, h) = (size.width, size.height);
    let mut buffer = vec![Rgb8Pixel::default(); (w * h) as usize];
    slint::platform::update_timers_and_animations();
    window.request_redraw();
    window.draw_if_needed(|renderer| {
        renderer.render(&mut buffer, w as usize);
    });
    image::RgbImage::from_fn(w, h, |x, y| {
        let p = buffer[(y * w + x) as usize];
        image::Rgb([p.r, p.g, p.b])
    })
}

/// Draws and saves a PNG.
pub fn save(window: &MinimalSoftwareWindow, path: &Path) -> image::ImageResult<()> {
    render(window).save(path)
}
