//! Uploads: the metadata of files users uploaded, and the attachments that
//! tie them to messages. The files' bytes live in the server's upload
//! storage; the store keeps what describes them.

use std::fmt;
use std::sync::Arc;

use crate::commands::Command;
use crate::sql::uploads;
use crate::{Store, StoreError, Timestamp};

/// The most uploads one message carries.
pub const MAX_ATTACHMENTS: usize = 10;

/// An upload's id: 32 lowercase hex digits (128 random bits), unique in the
/// whole store. Being unguessable, it is also the right to read the file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UploadId(Arc<str>);

impl UploadId {
    /// A fresh random id.
    pub fn random() -> Self {
        Self(Arc::from(hex::encode(rand::random::<[u8; 16]>())))
    }

    /// Parses an id as written on the wire; anything but 32 lowercase hex
    /// digits is invalid input.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        if text.len() == 32
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(Arc::from(text)))
        } else {
            Err(StoreError::InvalidInput(format!(
                "{text:?} is not an upload id"
            )))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The pixel size of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimensions {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// A smaller copy of an uploaded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its pixel size.
    pub dimensions: Dimensions,
}

/// An uploaded file as the store describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The id.
    pub id: UploadId,
    /// The app it was uploaded to.
    pub app: Arc<str>,
    /// The user who uploaded it: the only one who may attach it.
    pub owner: String,
    /// The media type found by looking at its content (for images, the type
    /// it was re-encoded to).
    pub content_type: String,
    /// The size of the stored file in bytes.
    pub size: u64,
    /// The pixel size, for images.
    pub dimensions: Option<Dimensions>,
    /// The thumbnail, for images.
    pub thumbnail: Option<Thumbnail>,
    /// When it was uploaded.
    pub created_at: Timestamp,
}

/// An upload that is not in the store yet; the store sets its time.
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// The id, chosen by the caller (who stored the file under it first).
    pub id: UploadId,
    /// The app.
    pub app: Arc<str>,
    /// The uploading user.
    pub owner: String,
    /// The media type.
    pub content_type: String,
    /// The file's size in bytes.
    pub size: u64,
    /// The pixel size, for images.
    pub dimensions: Option<Dimensions>,
    /// The thumbnail, for images.
    pub thumbnail: Option<Thumbnail>,
}

impl Store {
    /// Keeps an upload's metadata, once its bytes are in the upload storage
    /// under its id.
    pub async fn create_upload(&self, upload: NewUpload) -> Result<Upload, StoreError> {
        self.submit(|reply| Command::CreateUpload { upload, reply })
            .await
    }

    /// The upload with this id. Upload ids are unguessable and unique in
    /// the whole store, so this is the one read not scoped by app: the id is
    /// the right to read the upload, and the upload names its app.
    pub async fn upload(&self, id: &UploadId) -> Result<Upload, StoreError> {
        let mut connection = self.pool().acquire().await?;
        uploads::find(&mut connection, id)
            .await?
            .ok_or(StoreError::NotFound("upload"))
    }
}
