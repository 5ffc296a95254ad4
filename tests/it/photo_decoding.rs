//! Photos for enrolment and `eval` decode already shrunk (`Frame::open_within`): the size the
//! pipeline works at, the same picture as a full decode, upright by EXIF, and a clear error for
//! files that are not usable photos.

use facegate::vision::{Frame, VisionError};

/// A smooth test picture: red grows to the right, green downwards.
fn gradient(width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
    })
}

fn jpeg(image: &image::RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 92).encode_image(image).unwrap();
    bytes
}

/// `bytes` with an EXIF segment saying "rotate 90° clockwise to view" (orientation 6).
fn with_orientation_6(bytes: &[u8]) -> Vec<u8> {
    let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec();
    tiff.extend([0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(tiff);
    let mut out = bytes[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((payload.len() + 2) as u16).to_be_bytes());
    out.extend(payload);
    out.extend(&bytes[2..]);
    out
}

fn rgb(frame: &Frame, x: u32, y: u32) -> [i32; 3] {
    let i = (y * frame.width() + x) as usize * 3;
    let p = &frame.pixels()[i..i + 3];
    [p[0].into(), p[1].into(), p[2].into()]
}

/// Every 16th pixel of `small` is within `tolerance` of the same place in `full`.
fn same_picture(full: &Frame, small: &Frame, tolerance: i32) {
    let scale = full.width() as f32 / small.width() as f32;
    for y in (2..small.height() - 2).step_by(16) {
        for x in (2..small.width() - 2).step_by(16) {
            let at = |v: u32| ((v as f32 + 0.5) * scale) as u32;
            let (a, b) = (rgb(small, x, y), rgb(full, at(x), at(y)));
            let worst = (0..3).map(|c| (a[c] - b[c]).abs()).max().unwrap();
            assert!(worst <= tolerance, "({x}, {y}): {a:?} vs {b:?}");
        }
    }
}

#[test]
fn a_large_jpeg_decodes_shrunk_to_the_working_size_with_the_same_picture() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.jpg");
    std::fs::write(&path, jpeg(&gradient(2000, 1250))).unwrap();
    let small = Frame::open_within(&path, 640).unwrap();
    assert_eq!((small.width(), small.height()), (640, 400));
    same_picture(&Frame::open(&path).unwrap(), &small, 6);
    let fits = Frame::open_within(&path, 4000).unwrap();
    assert_eq!((fits.width(), fits.height()), (2000, 1250), "no upscaling");
}

#[test]
fn exif_orientation_is_honoured_as_in_a_full_decode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("turned.jpg");
    std::fs::write(&path, with_orientation_6(&jpeg(&gradient(1600, 1000)))).unwrap();
    let full = Frame::open(&path).unwrap();
    assert_eq!((full.width(), full.height()), (1000, 1600), "upright portrait");
    let small = Frame::open_within(&path, 640).unwrap();
    assert_eq!((small.width(), small.height()), (400, 640));
    same_picture(&full, &small, 6);
}

#[test]
fn grey_and_png_photos_decode_to_rgb() {
    let dir = tempfile::tempdir().unwrap();
    let grey = image::GrayImage::from_fn(900, 700, |x, _| image::Luma([(x / 4) as u8]));
    let path = dir.path().join("grey.jpg");
    grey.save(&path).unwrap();
    let frame = Frame::open_within(&path, 640).unwrap();
    assert_eq!((frame.width(), frame.height()), (640, 498));
    let [r, g, b] = rgb(&frame, 320, 200);
    assert!(r == g && g == b && (100..125).contains(&r), "{r} {g} {b}");
    let png = dir.path().join("photo.png");
    gradient(1280, 960).save(&png).unwrap();
    let frame = Frame::open_within(&png, 640).unwrap();
    assert_eq!((frame.width(), frame.height()), (640, 480));
}

#[test]
fn truncated_empty_and_foreign_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let whole = jpeg(&gradient(1200, 900));
    let cases: [(&str, &[u8]); 4] = [
        ("truncated.jpg", &whole[..whole.len() / 3]),
        ("header-only.jpg", &whole[..40]),
        ("empty.jpg", b""),
        ("notes.jpg", b"this is a text file named like a photo"),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = Frame::open_within(&path, 640).err().unwrap_or_else(|| panic!("{name} decoded"));
        assert!(matches!(err, VisionError::ImageDecode { .. }), "{name}: {err}");
        assert!(err.to_string().contains(name), "the error names the file: {err}");
    }
    let missing = Frame::open_within(&dir.path().join("gone.jpg"), 640).err().unwrap();
    assert!(matches!(missing, VisionError::ImageRead { .. }), "{missing}");
}
