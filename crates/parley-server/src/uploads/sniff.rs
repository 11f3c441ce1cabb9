//! Content sniffing: what a file is, from its bytes alone.

use image::ImageFormat;

/// What the content of a file says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// The media type its magic bytes belong to.
    pub content_type: &'static str,
    /// The image format, for the images the server re-encodes.
    pub image: Option<ImageFormat>,
}

/// Looks at the leading bytes of `bytes` (never at a file name or a declared
/// type); `None` when no known signature matches.
pub fn sniff(bytes: &[u8]) -> Option<Sniffed> {
    let kind = infer::get(bytes)?;
    let content_type = kind.mime_type();
    let image = match content_type {
        "image/png" => Some(ImageFormat::Png),
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/gif" => Some(ImageFormat::Gif),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    };
    Some(Sniffed {
        content_type,
        image,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_and_images_are_told_apart_by_content() {
        let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0".to_vec();
        elf.resize(128, 0);
        assert_eq!(
            sniff(&elf).map(|s| s.content_type),
            Some("application/x-executable")
        );
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff(png).and_then(|s| s.image), Some(ImageFormat::Png));
        assert_eq!(sniff(b"just some text"), None);
    }
}
