//! Uploads: files users send with their messages.
//!
//! A file comes in over `POST /api/v1/uploads` (see `http_api/uploads.rs`),
//! bounded by `uploads.max_bytes` while it streams in. [`Uploads::accept`]
//! then decides what it is by its content alone ([`sniff`]), refuses types
//! outside `uploads.allowed_types`, decodes and re-encodes images
//! ([`picture`]: metadata dropped, resized, a thumbnail made), writes the
//! bytes to the [`UploadStorage`] and finally the metadata to the store, so
//! a stored upload always has its bytes.
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

use bytes::Bytes;
use parley_store::{NewUpload, Store, StoreError, Thumbnail, Upload, UploadId};
use tokio::sync::Semaphore;

pub use filesystem::FsStorage;
pub use storage::UploadStorage;

use crate::config::UploadsConfig;

/// Why an upload was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The file is larger than `uploads.max_bytes`.
    #[error("the file is larger than {0} bytes")]
    TooLarge(usize),
    /// The content is of a type that is not accepted, or of no known type.
    #[error("{0}")]
    Unsupported(String),
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
}

impl Uploads {
    /// Uploads kept in `storage`.
    pub fn new(storage: Arc<dyn UploadStorage>, config: UploadsConfig) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            storage,
            config: Arc::new(config),
            processing: Arc::new(Semaphore::new(cores)),
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

    /// Checks, processes and keeps a file `owner` uploaded to `app`.
    pub async fn accept(
        &self,
        store: &Store,
        app: Arc<str>,
        owner: &str,
        bytes: Bytes,
    ) -> Result<Upload, UploadError> {
        if bytes.len() > self.config.max_bytes {
            return Err(UploadError::TooLarge(self.config.max_bytes));
        }
        let sniffed = sniff::sniff(&bytes)
            .ok_or_else(|| UploadError::Unsupported("the file's type is not recognised".into()))?;
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
        Ok(store.create_upload(new).await?)
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

fn thumbnail_key(id: &UploadId) -> String {
    format!("{id}.thumbnail")
}
