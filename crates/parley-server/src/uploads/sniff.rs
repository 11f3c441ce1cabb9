//! Content sniffing: what a file is, from its bytes, and for the text types
//! that have no signature, from its name's extension checked against its
//! bytes.

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

/// The text types accepted by extension, with their extensions. Text has no
/// magic bytes, so these are the one case where the file name counts; the
/// bytes must then be text ([`is_text`]).
pub const TEXT_TYPES: [(&str, &[&str]); 3] = [
    ("text/plain", &["txt", "text", "log"]),
    ("text/markdown", &["md", "markdown"]),
    ("text/csv", &["csv"]),
];

/// The text type a file name's extension claims (case does not matter), if
/// any.
pub fn text_type(file_name: &str) -> Option<&'static str> {
    let (_, extension) = file_name.rsplit_once('.')?;
    TEXT_TYPES
        .iter()
        .find(|(_, extensions)| {
            extensions
                .iter()
                .any(|known| known.eq_ignore_ascii_case(extension))
        })
        .map(|(content_type, _)| *content_type)
}

/// Whether `bytes` are text: valid UTF-8 without NUL or other control
/// characters than tab, line feed, form feed and carriage return. Every
/// binary format the server knows of fails this on its first bytes.
pub fn is_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| {
        !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\x0c' | '\r'))
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

    #[test]
    fn text_is_named_by_extension_and_checked_by_content() {
        assert_eq!(text_type("notes.MD"), Some("text/markdown"));
        assert_eq!(text_type("table.csv"), Some("text/csv"));
        assert_eq!(text_type("readme.txt"), Some("text/plain"));
        assert_eq!(text_type("picture.png"), None);
        assert_eq!(text_type("md"), None);
        assert!(is_text(
            "# Title\n\nSome *text*, ünïcode\r\n\ttab".as_bytes()
        ));
        assert!(!is_text(b"\x89PNG\r\n\x1a\n"));
        assert!(!is_text(b"\x7fELF\x02\x01"));
        assert!(!is_text(b"text with a \0 inside"));
    }
}
