//! A camera frame or decoded photo: 8-bit RGB pixels in memory, zeroised when dropped.

use std::borrow::Cow;
use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, ImageBuffer, ImageDecoder, ImageReader, Rgb};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::VisionError;

/// Largest width or height accepted, against decompression bombs and broken cameras.
pub const MAX_SIDE: u32 = 8192;

/// An RGB frame, row-major, 3 bytes per pixel.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Frame {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame({}x{})", self.width, self.height)
    }
}

impl Frame {
    /// Wraps RGB pixels; the length must be exactly `width × height × 3`.
    pub fn from_rgb(width: u32, height: u32, mut pixels: Vec<u8>) -> Result<Self, VisionError> {
        let expected = width as usize * height as usize * 3;
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            pixels.zeroize();
            return Err(VisionError::FrameSize { width, height });
        }
        if pixels.len() != expected {
            let len = pixels.len();
            pixels.zeroize();
            return Err(VisionError::FrameLength { width, height, len });
        }
        Ok(Self { width, height, pixels })
    }

    /// Decodes a JPEG or PNG file, turned upright by its EXIF orientation.
    pub fn open(path: &Path) -> Result<Self, VisionError> {
        let bytes = std::fs::read(path)
            .map_err(|source| VisionError::ImageRead { path: path.to_owned(), source })?;
        let bytes = zeroize::Zeroizing::new(bytes);
        Self::decode(&bytes).map_err(|reason| VisionError::ImageDecode {
            path: path.to_owned(),
            reason: reason.to_string(),
        })
    }

    /// Decodes JPEG or PNG bytes, honouring EXIF orientation.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, image::ImageError> {
        let mut decoder =
            ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?.into_decoder()?;
        let (width, height) = decoder.dimensions();
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(image::ImageError::Limits(image::error::LimitError::from_kind(
                image::error::LimitErrorKind::DimensionError,
            )));
        }
        let orientation = decoder.orientation()?;
        let mut image = DynamicImage::from_decoder(decoder)?;
        image.apply_orientation(orientation);
        let rgb = match image {
            DynamicImage::ImageRgb8(rgb) => rgb,
            mut other => {
                let rgb = other.to_rgb8();
                wipe(&mut other);
                rgb
            }
        };
        let (width, height) = rgb.dimensions();
        Ok(Self { width, height, pixels: rgb.into_raw() })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The RGB bytes, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixel at `(x, y)` as RGB.
    pub(crate) fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// Scales by `factor` (< 1 shrinks) with a triangle filter, which averages like an area
    /// filter when shrinking.
    pub(crate) fn scaled(&self, factor: f32) -> Frame {
        let width = ((self.width as f32 * factor).round() as u32).max(1);
        let height = ((self.height as f32 * factor).round() as u32).max(1);
        let view: ImageBuffer<Rgb<u8>, &[u8]> =
            ImageBuffer::from_raw(self.width, self.height, &self.pixels[..])
                .expect("frame length is checked on construction");
        let resized = image::imageops::resize(&view, width, height, FilterType::Triangle);
        Frame { width, height, pixels: resized.into_raw() }
    }

    /// The frame mirrored left to right.
    pub(crate) fn mirrored(&self) -> Frame {
        let row = self.width as usize * 3;
        let mut pixels = Vec::with_capacity(self.pixels.len());
        for line in self.pixels.chunks_exact(row) {
            pixels.extend(line.rchunks_exact(3).flatten());
        }
        Frame { width: self.width, height: self.height, pixels }
    }

    /// The frame without its first `dx` columns and `dy` rows (at least one pixel is kept).
    pub(crate) fn cropped_from(&self, dx: u32, dy: u32) -> Frame {
        let (dx, dy) = (dx.min(self.width - 1), dy.min(self.height - 1));
        let (width, height) = (self.width - dx, self.height - dy);
        let row = self.width as usize * 3;
        let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
        for line in self.pixels.chunks_exact(row).skip(dy as usize) {
            pixels.extend_from_slice(&line[dx as usize * 3..]);
        }
        Frame { width, height, pixels }
    }

    /// Shrinks so that the longer side is at most `max_side` (borrowing when it already fits).
    pub(crate) fn fit_within(&self, max_side: u32) -> Cow<'_, Frame> {
        let longest = self.width.max(self.height);
        if longest <= max_side {
            return Cow::Borrowed(self);
        }
        Cow::Owned(self.scaled(max_side as f32 / longest as f32))
    }
}

/// Overwrites the pixels of a decoded image that is about to be dropped.
fn wipe(image: &mut DynamicImage) {
    match image {
        DynamicImage::ImageLuma8(b) => b.as_mut().zeroize(),
        DynamicImage::ImageLumaA8(b) => b.as_mut().zeroize(),
        DynamicImage::ImageRgba8(b) => b.as_mut().zeroize(),
        DynamicImage::ImageLuma16(b) => b.as_mut().zeroize(),
        DynamicImage::ImageRgb16(b) => b.as_mut().zeroize(),
        DynamicImage::ImageRgba16(b) => b.as_mut().zeroize(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_lengths_and_sizes() {
        assert!(matches!(Frame::from_rgb(2, 2, vec![0; 11]), Err(VisionError::FrameLength { .. })));
        assert!(matches!(Frame::from_rgb(0, 2, vec![]), Err(VisionError::FrameSize { .. })));
        assert!(Frame::from_rgb(2, 2, vec![0; 12]).is_ok());
    }

    #[test]
    fn corrupt_bytes_are_an_error() {
        assert!(Frame::decode(b"definitely not a jpeg").is_err());
        let mut png = Vec::new();
        image::RgbImage::new(4, 3)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let frame = Frame::decode(&png).unwrap();
        assert_eq!((frame.width(), frame.height()), (4, 3));
        assert!(Frame::decode(&png[..png.len() / 2]).is_err());
    }

    #[test]
    fn mirrored_and_cropped_move_pixels_where_expected() {
        let frame = Frame::from_rgb(3, 2, (0..18).collect()).unwrap();
        let mirrored = frame.mirrored();
        assert_eq!(mirrored.pixel(0, 0), frame.pixel(2, 0));
        assert_eq!(mirrored.pixel(2, 1), frame.pixel(0, 1));
        assert_eq!(mirrored.mirrored().pixels(), frame.pixels());
        let cropped = frame.cropped_from(1, 1);
        assert_eq!((cropped.width(), cropped.height()), (2, 1));
        assert_eq!(cropped.pixels(), &frame.pixels()[12..18]);
        assert_eq!(frame.cropped_from(9, 9).pixels(), frame.pixel(2, 1));
    }

    #[test]
    fn fit_within_shrinks_the_longer_side() {
        let frame = Frame::from_rgb(1000, 500, vec![128; 1000 * 500 * 3]).unwrap();
        let small = frame.fit_within(640);
        assert_eq!((small.width(), small.height()), (640, 320));
        assert_eq!(small.pixel(10, 10), [128, 128, 128]);
        assert!(matches!(small.fit_within(640), Cow::Borrowed(_)), "no copy when it fits");
    }
}
