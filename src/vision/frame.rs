//! A camera frame or decoded photo: 8-bit RGB pixels in memory, zeroised when dropped.
//!
//! Photos for enrolment and `eval` are decoded already shrunk ([`Frame::open_within`]): a JPEG
//! at 1/2, 1/4 or 1/8 scale in the decoder (DCT scaling, `jpeg-decoder`) where that still
//! leaves the size the pipeline works at, then resized. Resizing is `fast_image_resize`'s
//! SIMD bilinear convolution, which averages like an area filter when shrinking.

use std::borrow::Cow;
use std::path::Path;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};
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
        let bytes = read(path)?;
        Self::decode(&bytes).map_err(|reason| decode_error(path, reason))
    }

    /// Decodes a JPEG or PNG file shrunk so that its longer side is at most `max_side`, upright
    /// by its EXIF orientation: a JPEG is decoded at the smallest DCT scale that keeps the
    /// longer side at `max_side` or more, then resized.
    pub fn open_within(path: &Path, max_side: u32) -> Result<Self, VisionError> {
        let bytes = read(path)?;
        let decoded = if bytes.starts_with(&[0xFF, 0xD8]) {
            decode_jpeg_within(&bytes, max_side)
        } else {
            Self::decode(&bytes).map_err(|e| e.to_string())
        };
        Ok(decoded.map_err(|reason| decode_error(path, reason))?.into_within(max_side))
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

    /// Scales by `factor` (< 1 shrinks) with a bilinear filter, which averages like an area
    /// filter when shrinking.
    pub(crate) fn scaled(&self, factor: f32) -> Frame {
        let width = ((self.width as f32 * factor).round() as u32).max(1);
        let height = ((self.height as f32 * factor).round() as u32).max(1);
        let source = ImageRef::new(self.width, self.height, &self.pixels, PixelType::U8x3)
            .expect("frame length is checked on construction");
        let mut resized = Image::new(width, height, PixelType::U8x3);
        let bilinear =
            ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
        Resizer::new()
            .resize(&source, &mut resized, &bilinear)
            .expect("source and destination are both RGB");
        Frame { width, height, pixels: resized.into_vec() }
    }

    /// This frame, shrunk so that the longer side is at most `max_side`.
    fn into_within(self, max_side: u32) -> Frame {
        let longest = self.width.max(self.height);
        if longest <= max_side { self } else { self.scaled(max_side as f32 / longest as f32) }
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

fn read(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>, VisionError> {
    std::fs::read(path)
        .map(zeroize::Zeroizing::new)
        .map_err(|source| VisionError::ImageRead { path: path.to_owned(), source })
}

fn decode_error(path: &Path, reason: impl ToString) -> VisionError {
    VisionError::ImageDecode { path: path.to_owned(), reason: reason.to_string() }
}

/// A JPEG decoded at the smallest scale (1, 1/2, 1/4, 1/8) whose longer side is still at least
/// `max_side`, upright by its EXIF orientation. 16-bit and CMYK files go through [`Frame::decode`].
fn decode_jpeg_within(bytes: &[u8], max_side: u32) -> Result<Frame, String> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().map_err(|e| e.to_string())?;
    let info = decoder.info().ok_or("no JPEG frame header")?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!("{width}x{height} is larger than {MAX_SIDE} pixels a side"));
    }
    if !matches!(
        info.pixel_format,
        jpeg_decoder::PixelFormat::RGB24 | jpeg_decoder::PixelFormat::L8
    ) {
        return Frame::decode(bytes).map_err(|e| e.to_string());
    }
    if width.max(height) > max_side {
        // The decoder picks the smallest scale that meets the request on either side: only the
        // longer side asks.
        let side = max_side.min(u32::from(u16::MAX)) as u16;
        let (w, h) = if width >= height { (side, u16::MAX) } else { (u16::MAX, side) };
        decoder.scale(w, h).map_err(|e| e.to_string())?;
    }
    let mut decoded = decoder.decode().map_err(|e| e.to_string())?;
    let info = decoder.info().ok_or("no JPEG frame header")?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let pixels = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => {
            let rgb = decoded.iter().flat_map(|&l| [l, l, l]).collect();
            decoded.zeroize();
            rgb
        }
        _ => decoded,
    };
    let mut frame = Frame::from_rgb(width, height, pixels).map_err(|e| e.to_string())?;
    let orientation = decoder.exif_data().and_then(Orientation::from_exif_chunk);
    if let Some(orientation) = orientation.filter(|o| *o != Orientation::NoTransforms) {
        let pixels = std::mem::take(&mut frame.pixels);
        let rgb = RgbImage::from_raw(width, height, pixels).ok_or("a frame makes an image")?;
        let mut image = DynamicImage::ImageRgb8(rgb);
        image.apply_orientation(orientation);
        let DynamicImage::ImageRgb8(rgb) = image else { return Err("orientation".into()) };
        (frame.width, frame.height) = rgb.dimensions();
        frame.pixels = rgb.into_raw();
    }
    Ok(frame)
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
