//! Uploads: files users send with their messages.
//!
//! A file comes in over `POST /api/v1/uploads` (see `http_api/uploads.rs`),
//! bounded by `uploads.max_bytes` while it streams in, and by the user's
//! upload rate ([`Uploads::check_rate`]). [`Uploads::accept`] then decides
//! what it is by its content ([`sniff`]; text, which has no signature, by
//! its name's extension and bytes that must be text), refuses types outside
//! `uploads.allowed_types`, decodes and re-encodes images ([`picture`]:
//! metadata dropped, resized, a thumbnail made), writes the bytes to the
//! [`UploadStorage`] and finally the metadata to the store within the
//! user's quota, so a stored upload always has its bytes.
//! [`Uploads::remove`] takes an upload away again, metadata first.
//!
//! - [`storage`]: the `UploadStorage` trait; [`filesystem`]: `FsStorage`,
//!   files under `<data_dir>/uploads`.
//! - [`sniff`]: content sniffing with `infer`.
//! - [`picture`]: decoding, resizing and encoding with `image`.

pub mod filesystem;
pub mod picture;
pub mod sniff;
pub mod storage;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use parley_store::{
    NewUpload, Store, StoreError, Thumbnail, Upload, UploadCreation, UploadId, UploadRemoval,
};
use tokio::sync::Semaphore;

pub use filesystem::FsStorage;
pub use storage::UploadStorage;

use crate::config::UploadsConfig;
use crate::rate_clock;

/// Why an upload was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The file is larger than `uploads.max_bytes`.
    #[error("the file is larger than {0} bytes")]
    TooLarge(usize),
    /// The content is of a type that is not accepted, or of no known type,
    /// or a file named as text is not text.
    #[error("{0}")]
    Unsupported(String),
    /// Kept, the file would take its uploader past `uploads.quota_bytes`.
    #[error("the upload would take you past your quota of {quota} bytes ({used} bytes used)")]
    OverQuota {
        /// The bytes the uploader keeps already.
        used: u64,
        /// The quota.
        quota: u64,
    },
    /// The uploader went past `uploads.rate`; they may upload again after
    /// this wait.
    #[error("too many uploads")]
    RateLimited(Duration),
    /// A message that is not deleted still carries the upload.
    #[error("a message still carries this upload: delete the message first")]
    Attached,
    /// The content looks like an image but does not decode as one.
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
    /// The image declares more pixels than `uploads.max_source_pixels`, a
    /// side longer than `uploads.max_source_side`, or needs more memory to
    /// decode than those allow.
    #[error("{0}")]
    ImageTooLarge(String),
    /// The upload storage failed.
    #[error("upload storage failed: {0}")]
    Storage(#[from] io::Error),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The server's uploads: where their bytes go, and the rules they follow.
/// Cloning is cheap: every clone shares the storage, the rules and the
/// processing permits.
#[derive(Clone)]
pub struct Uploads {
    storage: Arc<dyn UploadStorage>,
    config: Arc<UploadsConfig>,
    /// One permit per CPU: images decode one per core at most, so a burst of
    /// uploads queues instead of holding many decoded images in memory and
    /// starving the blocking pool. The permit goes with the blocking task,
    /// so a cancelled upload still holds it until its decode ends.
    processing: Arc<Semaphore>,
    /// A token bucket per (app, user), when `uploads.rate` is set.
    rate: Option<Arc<DefaultKeyedRateLimiter<Uploader>>>,
}

/// Whose uploads a rate counts: an app id and a user id.
type Uploader = (Arc<str>, Arc<str>);

impl Uploads {
    /// Uploads kept in `storage`.
    pub fn new(storage: Arc<dyn UploadStorage>, config: UploadsConfig) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let rate = config
            .rate
            .map(|rate| Arc::new(RateLimiter::keyed(rate.quota())));
        Self {
            storage,
            config: Arc::new(config),
            processing: Arc::new(Semaphore::new(cores)),
            rate,
        }
    }

    /// Uploads kept as files under `<data_dir>/uploads`.
    pub fn on_filesystem(data_dir: &Path, config: UploadsConfig) -> Self {
        Self::new(Arc::new(FsStorage::new(data_dir.join("uploads"))), config)
    }

    /// The largest file accepted, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.config.max_bytes
    }

    /// Takes one upload of `user` in `app` from their rate, or says how
    /// long to wait. Checked before the body is read, so a refused upload
    /// costs no processing.
    pub fn check_rate(&self, app: &Arc<str>, user: &Arc<str>) -> Result<(), UploadError> {
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        rate.check_key(&(app.clone(), user.clone()))
            .map_err(|not_until| {
                UploadError::RateLimited(not_until.wait_time_from(rate_clock::now()))
            })
    }

    /// Forgets users idle long enough that their upload rate is full again.
    pub fn forget_idle(&self) {
        if let Some(rate) = &self.rate {
            rate.retain_recent();
        }
    }

    /// Checks, processes and keeps a file `owner` uploaded to `app`, named
    /// `file_name` by the client (only a text type's extension counts).
    pub async fn accept(
        &self,
        store: &Store,
        app: Arc<str>,
        owner: &str,
        file_name: Option<&str>,
        bytes: Bytes,
    ) -> Result<Upload, UploadError> {
        if bytes.len() > self.config.max_bytes {
            return Err(UploadError::TooLarge(self.config.max_bytes));
        }
        let sniffed = identify(file_name, &bytes)?;
        if !self
            .config
            .allowed_types
            .iter()
            .any(|allowed| allowed == sniffed.content_type)
        {
            return Err(UploadError::Unsupported(format!(
                "{} files are not accepted",
                sniffed.content_type
            )));
        }
        let id = UploadId::random();
        let mut new = NewUpload {
            quota: self.config.quota_bytes,
            id: id.clone(),
            app,
            owner: owner.to_owned(),
            content_type: sniffed.content_type.to_owned(),
            size: bytes.len() as u64,
            dimensions: None,
            thumbnail: None,
        };
        let stored = match sniffed.image {
            None => bytes,
            Some(format) => {
                let sizes = picture::Sizes {
                    max_source_pixels: self.config.max_source_pixels,
                    max_source_side: self.config.max_source_side,
                    max_side: self.config.max_image_side,
                    thumbnail_side: self.config.thumbnail_side,
                };
                let permit = self
                    .processing
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let processed = tokio::task::spawn_blocking(move || {
                    let processed = picture::process(&bytes, format, sizes);
                    drop(permit);
                    processed
                })
                .await
                .map_err(|error| UploadError::Undecodable(error.to_string()))?
                .map_err(|error| match error {
                    picture::PictureError::TooLarge(message) => UploadError::ImageTooLarge(message),
                    picture::PictureError::Image(error) => {
                        UploadError::Undecodable(error.to_string())
                    }
                })?;
                let thumbnail = processed.thumbnail;
                new.thumbnail = Some(Thumbnail {
                    content_type: thumbnail.content_type.to_owned(),
                    size: thumbnail.bytes.len() as u64,
                    dimensions: thumbnail.dimensions,
                });
                self.storage
                    .put(&thumbnail_key(&id), thumbnail.bytes)
                    .await?;
                let image = processed.image;
                new.content_type = image.content_type.to_owned();
                new.size = image.bytes.len() as u64;
                new.dimensions = Some(image.dimensions);
                image.bytes
            }
        };
        self.storage.put(id.as_str(), stored).await?;
        // Only a refusal over quota is sure to have written nothing; after
        // another failure (the writer stopping) the metadata may have been
        // committed, so the bytes stay.
        match store.create_upload(new).await? {
            UploadCreation::Created(upload) => Ok(upload),
            UploadCreation::OverQuota { used, quota } => {
                self.remove_bytes(&id).await;
                Err(UploadError::OverQuota { used, quota })
            }
        }
    }

    /// Removes `owner`'s upload `id` in `app`, unless a message carries
    /// it: its metadata first, so it is gone for every reader at once, then
    /// its bytes.
    pub async fn remove(
        &self,
        store: &Store,
        app: Arc<str>,
        owner: &str,
        id: UploadId,
    ) -> Result<Upload, UploadError> {
        match store.remove_upload(app, owner, id).await? {
            UploadRemoval::Removed(upload) => {
                self.remove_bytes(&upload.id).await;
                Ok(upload)
            }
            UploadRemoval::Attached => Err(UploadError::Attached),
        }
    }

    /// Removes the bytes of an upload the store does not keep (any more).
    /// A failure leaves unreachable bytes behind, not a broken upload, so it
    /// is logged rather than answered.
    async fn remove_bytes(&self, id: &UploadId) {
        for key in [id.as_str().to_owned(), thumbnail_key(id)] {
            if let Err(error) = self.storage.remove(&key).await {
                tracing::warn!(%error, key, "could not remove an upload's bytes");
            }
        }
    }

    /// The stored bytes of an upload, or of its thumbnail.
    pub async fn read(&self, id: &UploadId, thumbnail: bool) -> io::Result<Option<Bytes>> {
        if thumbnail {
            self.storage.get(&thumbnail_key(id)).await
        } else {
            self.storage.get(id.as_str()).await
        }
    }
}

/// What a file is: a text type when its name says so and its bytes are
/// text (a binary named `.md` is refused rather than sniffed), otherwise
/// what its content's signature says.
fn identify(file_name: Option<&str>, bytes: &[u8]) -> Result<sniff::Sniffed, UploadError> {
    if let Some(content_type) = file_name.and_then(sniff::text_type) {
        if !sniff::is_text(bytes) {
            return Err(UploadError::Unsupported(format!(
                "the file is named as {content_type} but its content is not UTF-8 text"
            )));
        }
        return Ok(sniff::Sniffed {
            content_type,
            image: None,
        });
    }
    sniff::sniff(bytes)
        .ok_or_else(|| UploadError::Unsupported("the file's type is not recognised".into()))
}

fn thumbnail_key(id: &UploadId) -> String {
    format!("{id}.thumbnail")
}
