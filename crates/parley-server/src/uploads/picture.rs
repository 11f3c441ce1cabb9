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

/// The most bytes one pixel takes once decoded, in any format accepted
/// (16-bit RGBA PNG): with the pixel budget, it bounds what a decode may
/// allocate.
const MAX_BYTES_PER_PIXEL: u64 = 8;
/// The quality of re-encoded JPEG images.
const JPEG_QUALITY: u8 = 85;

/// How large images are: the bound on what is decoded at all, and the sizes
/// the server makes.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// The most pixels (width × height) an image may declare.
    pub max_source_pixels: u64,
    /// The longest side an image may declare.
    pub max_source_side: u32,
    /// The stored image is at most this many pixels on its long side.
    pub max_side: u32,
    /// The thumbnail is at most this many pixels on its long side.
    pub thumbnail_side: u32,
}

/// Why an image was not processed.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    /// The image declares more pixels, or a longer side, than is decoded.
    #[error("{0}")]
    TooLarge(String),
    /// The image does not decode, or did not encode.
    #[error(transparent)]
    Image(image::ImageError),
}

impl From<image::ImageError> for PictureError {
    fn from(error: image::ImageError) -> Self {
        match error {
            // A decoder that finds out only while decoding that the image
            // needs more memory than allowed says so with a limit error.
            image::ImageError::Limits(limit) => {
                Self::TooLarge(format!("the image needs more memory than allowed: {limit}"))
            }
            error => Self::Image(error),
        }
    }
}

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
/// name), shrinks it to fit `sizes.max_side` and a thumbnail to fit
/// `sizes.thumbnail_side` (smaller images are not enlarged), and encodes
/// both: JPEG stays JPEG, every other format (PNG, GIF's first frame, WebP)
/// becomes PNG. CPU-bound: call it off the async runtime.
///
/// The dimensions the image declares in its header are checked against
/// `sizes.max_source_pixels` and `sizes.max_source_side` before any pixel
/// is decoded, and the decoder itself is limited to the same sides and to
/// the memory of that many pixels, so a few kilobytes declaring a huge
/// image are refused instead of allocating it.
pub fn process(bytes: &[u8], format: ImageFormat, sizes: Sizes) -> Result<Processed, PictureError> {
    // The header is read with the memory limit alone, so an image past a
    // side gets the message naming the option; the decode has every limit.
    let max_alloc = sizes.max_source_pixels.saturating_mul(MAX_BYTES_PER_PIXEL);
    let reader = |max_side: Option<u32>| {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = Limits::default();
        limits.max_image_width = max_side;
        limits.max_image_height = max_side;
        limits.max_alloc = Some(max_alloc);
        reader.limits(limits);
        reader
    };
    let (width, height) = reader(None).into_dimensions()?;
    check_declared(width, height, sizes)?;
    let decoded = reader(Some(sizes.max_source_side)).decode()?;
    let jpeg = format == ImageFormat::Jpeg;
    let image = fit(decoded, sizes.max_side);
    let thumbnail = fit(image.clone(), sizes.thumbnail_side);
    Ok(Processed {
        image: encode(&image, jpeg)?,
        thumbnail: encode(&thumbnail, jpeg)?,
    })
}

/// Refuses an image whose declared size is past the limits, naming the
/// limit it passes.
fn check_declared(width: u32, height: u32, sizes: Sizes) -> Result<(), PictureError> {
    let side = width.max(height);
    if side > sizes.max_source_side {
        return Err(PictureError::TooLarge(format!(
            "the image is {width}×{height} pixels, its side is above uploads.max_source_side = {}",
            sizes.max_source_side
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > sizes.max_source_pixels {
        return Err(PictureError::TooLarge(format!(
            "the image is {width}×{height} = {pixels} pixels, above uploads.max_source_pixels = {}",
            sizes.max_source_pixels
        )));
    }
    Ok(())
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
