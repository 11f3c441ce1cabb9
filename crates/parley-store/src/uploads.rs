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
    /// The most bytes (files and thumbnails) the owner may keep in the app
    /// with this upload counted; `None` for no limit. The store checks it in
    /// the writer's transaction, so concurrent uploads cannot overshoot it.
    pub quota: Option<u64>,
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

impl NewUpload {
    /// The bytes this upload takes: its file and its thumbnail.
    pub fn stored_bytes(&self) -> u64 {
        self.size
            .saturating_add(self.thumbnail.as_ref().map_or(0, |t| t.size))
    }
}

/// What keeping an upload's metadata came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadCreation {
    /// The upload is kept.
    Created(Upload),
    /// Kept, it would take its owner past [`NewUpload::quota`]; nothing was
    /// written.
    OverQuota {
        /// The bytes the owner keeps already.
        used: u64,
        /// The quota.
        quota: u64,
    },
}

/// What removing an upload came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadRemoval {
    /// The upload's metadata is gone; its bytes are the caller's to remove.
    Removed(Upload),
    /// A message that is not deleted still carries the upload; nothing was
    /// removed.
    Attached,
}

/// One page of a user's uploads, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadPage {
    /// The uploads on this page.
    pub uploads: Vec<Upload>,
    /// Where the next page starts, when there is one.
    pub next: Option<UploadCursor>,
}

/// Where a page of uploads starts: after the upload made at `created_at`
/// with this id, in the order newest first (ids break ties in time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadCursor {
    /// The time of the last upload of the previous page.
    pub created_at: Timestamp,
    /// Its id.
    pub id: UploadId,
}

impl UploadCursor {
    /// Parses a cursor as [`fmt::Display`] writes it (`<millis>-<id>`);
    /// anything else is invalid input.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let invalid = || StoreError::InvalidInput(format!("{text:?} is not an uploads cursor"));
        let (millis, id) = text.split_once('-').ok_or_else(invalid)?;
        Ok(Self {
            created_at: Timestamp::from_millis(millis.parse().map_err(|_| invalid())?),
            id: UploadId::parse(id).map_err(|_| invalid())?,
        })
    }
}

impl fmt::Display for UploadCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.created_at.as_millis(), self.id)
    }
}

impl Store {
    /// Keeps an upload's metadata, once its bytes are in the upload storage
    /// under its id, unless it takes its owner past the upload's quota.
    pub async fn create_upload(&self, upload: NewUpload) -> Result<UploadCreation, StoreError> {
        self.submit(|reply| Command::CreateUpload { upload, reply })
            .await
    }

    /// Removes the metadata of `owner`'s upload `id` in `app`, unless a
    /// message still carries it. `NotFound` when the app has no such
    /// upload, `Forbidden` when another user uploaded it. The removal goes
    /// through the writer, so it cannot interleave with a message attaching
    /// the upload.
    pub async fn remove_upload(
        &self,
        app: Arc<str>,
        owner: &str,
        id: UploadId,
    ) -> Result<UploadRemoval, StoreError> {
        let owner = owner.to_owned();
        self.submit(|reply| Command::RemoveUpload {
            app,
            owner,
            id,
            reply,
        })
        .await
    }

    /// A page of `owner`'s uploads in `app`, newest first, starting after
    /// `after`; at most `limit` (at least one).
    pub async fn uploads_of(
        &self,
        app: &str,
        owner: &str,
        after: Option<&UploadCursor>,
        limit: usize,
    ) -> Result<UploadPage, StoreError> {
        let mut connection = self.pool().acquire().await?;
        uploads::page(&mut connection, app, owner, after, limit.max(1)).await
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
