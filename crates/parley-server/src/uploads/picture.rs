//! Image processing: every uploaded image is decoded and encoded again,
//! which drops its metadata (EXIF, text chunks, anything appended after the
//! image data), resized to the configured bound, and given a thumbnail.

use std::io::Cursor;

use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use parley_store::Dimensions;

/// The widest or tallest image decoded at all; larger ones are refused
/// before their pixels are allocated.
const MAX_SOURCE_SIDE: u32 = 16_384;
/// The most memory one decode may allocate.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// The quality of re-encoded JPEG images.
const JPEG_QUALITY: u8 = 85;

/// An image encoded by the server.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Its media type.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: Bytes,
    /// Its pixel size.
    pub dimensions: Dimensions,
}

/// An uploaded image after processing.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The image, at most `max_side` pixels on its long side.
    pub image: Encoded,
    /// The thumbnail, at most `thumbnail_side` pixels on its long side.
    pub thumbnail: Encoded,
}

/// Decodes `bytes` as `format` (the sniffed format, never a guess from the
/// name), shrinks it to fit `max_side` and a thumbnail to fit
/// `thumbnail_side` (smaller images are not enlarged), and encodes both:
/// JPEG stays JPEG, every other format (PNG, GIF's first frame, WebP)
/// becomes PNG. CPU-bound: call it off the async runtime.
pub fn process(
    bytes: &[u8],
    format: ImageFormat,
    max_side: u32,
    thumbnail_side: u32,
) -> Result<Processed, image::ImageError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let decoded = reader.decode()?;
    let jpeg = format == ImageFormat::Jpeg;
    let image = fit(decoded, max_side);
    let thumbnail = fit(image.clone(), thumbnail_side);
    Ok(Processed {
        image: encode(&image, jpeg)?,
        thumbnail: encode(&thumbnail, jpeg)?,
    })
}

/// The image shrunk to fit a square of `side` pixels, keeping its aspect
/// ratio; an image that fits already is returned as it is.
fn fit(image: DynamicImage, side: u32) -> DynamicImage {
    if image.width() <= side && image.height() <= side {
        image
    } else {
        image.resize(side, side, FilterType::Triangle)
    }
}

fn encode(image: &DynamicImage, jpeg: bool) -> Result<Encoded, image::ImageError> {
    let mut out = Vec::new();
    let content_type = if jpeg {
        DynamicImage::ImageRgb8(image.to_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY))?;
        "image/jpeg"
    } else {
        image.write_with_encoder(PngEncoder::new(&mut out))?;
        "image/png"
    };
    Ok(Encoded {
        content_type,
        bytes: Bytes::from(out),
        dimensions: Dimensions {
            width: image.width(),
            height: image.height(),
        },
    })
}
