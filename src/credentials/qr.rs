//! Reading a visitor's code from a QR code held to the camera (rqrr). The QR code carries only
//! the code's digits; anything else in front of the camera reads as nothing.

use super::code::Code;
use crate::vision::Frame;

/// The code in the first QR code of `frame` that holds exactly a code, if any.
pub fn read_code(frame: &Frame) -> Option<Code> {
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    let pixels = frame.pixels();
    let grey = |x: usize, y: usize| {
        let i = (y * width + x) * 3;
        let sum = u16::from(pixels[i]) + u16::from(pixels[i + 1]) + u16::from(pixels[i + 2]);
        (sum / 3) as u8
    };
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, grey);
    image
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok())
        .find_map(|(_, content)| Code::parse(&content).ok().filter(|_| content.trim() == content))
}
