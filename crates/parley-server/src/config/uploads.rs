//! The `[uploads]` section: how large uploads may be, which types are
//! accepted, how images are resized, and how much a user may upload.

use serde::{Deserialize, Serialize};

use super::Rate;
use crate::uploads::sniff::TEXT_TYPES;

/// Upload options, as written in `[uploads]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct UploadsConfig {
    /// The largest file accepted, in bytes; past it the upload is refused
    /// with 413 while it streams in.
    pub max_bytes: usize,
    /// The media types accepted, as found by looking at the content (never
    /// the file name or the declared type). Each must be a type the sniffer
    /// recognises.
    pub allowed_types: Vec<String>,
    /// Images are resized to at most this many pixels on their long side.
    pub max_image_side: u32,
    /// Thumbnails are at most this many pixels on their long side.
    pub thumbnail_side: u32,
    /// The most pixels (width × height) an uploaded image may declare.
    /// The declared size is read from the image's header before anything
    /// is decoded, so a small file declaring a huge image (a decompression
    /// bomb) is refused with 422 before its pixels are allocated.
    pub max_source_pixels: u64,
    /// The widest or tallest image decoded at all, checked the same way.
    pub max_source_side: u32,
    /// The most bytes (files and thumbnails) one user may keep in an app;
    /// an upload past it is refused with 413. `None`: no quota.
    pub quota_bytes: Option<u64>,
    /// How many uploads one user may make in an app, such as `20/min`;
    /// past it an upload is refused with 429. `None`: no limit.
    pub rate: Option<Rate>,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            allowed_types: [
                "image/png",
                "image/jpeg",
                "image/gif",
                "image/webp",
                "application/pdf",
                "text/plain",
                "text/markdown",
                "text/csv",
            ]
            .map(String::from)
            .to_vec(),
            max_image_side: 2000,
            thumbnail_side: 300,
            max_source_pixels: 40_000_000,
            max_source_side: 16_384,
            quota_bytes: None,
            rate: None,
        }
    }
}

impl UploadsConfig {
    /// What is wrong with the options, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.max_bytes == 0 {
            return Some("uploads.max_bytes must be above zero".into());
        }
        if self.max_image_side == 0 || self.thumbnail_side == 0 {
            return Some("uploads.max_image_side and thumbnail_side must be above zero".into());
        }
        if self.max_source_pixels == 0 || self.max_source_side == 0 {
            return Some("uploads.max_source_pixels and max_source_side must be above zero".into());
        }
        if self.thumbnail_side > self.max_image_side {
            return Some("uploads.thumbnail_side must not exceed max_image_side".into());
        }
        if self.quota_bytes == Some(0) {
            return Some(
                "uploads.quota_bytes must be above zero (leave it out for no quota)".into(),
            );
        }
        let text = |kind: &str| TEXT_TYPES.iter().any(|(text, _)| *text == kind);
        self.allowed_types
            .iter()
            .find(|kind| !infer::is_mime_supported(kind) && !text(kind))
            .map(|kind| {
                format!(
                    "uploads.allowed_types: {kind:?} is neither a type content sniffing \
                     recognises nor one of the text types text/plain, text/markdown, text/csv"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_options_are_named() {
        assert_eq!(UploadsConfig::default().problem(), None);
        let cases = [
            (
                UploadsConfig {
                    max_bytes: 0,
                    ..UploadsConfig::default()
                },
                "max_bytes",
            ),
            (
                UploadsConfig {
                    thumbnail_side: 3000,
                    ..UploadsConfig::default()
                },
                "thumbnail_side",
            ),
            (
                UploadsConfig {
                    max_source_pixels: 0,
                    ..UploadsConfig::default()
                },
                "max_source_pixels",
            ),
            (
                UploadsConfig {
                    allowed_types: vec!["text/x-unknown".into()],
                    ..UploadsConfig::default()
                },
                "text/x-unknown",
            ),
            (
                UploadsConfig {
                    quota_bytes: Some(0),
                    ..UploadsConfig::default()
                },
                "quota_bytes",
            ),
        ];
        for (config, named) in cases {
            let problem = config.problem().expect("a problem");
            assert!(problem.contains(named), "{problem}");
        }
    }
}
