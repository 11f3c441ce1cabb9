//! `UploadStorage`: where the bytes of uploads are kept.

use std::io;

use bytes::Bytes;
use futures_util::future::BoxFuture;

/// Keeps the bytes of uploaded files (and their thumbnails) by key.
///
/// Keys are made by the server from upload ids (32 hex digits, with an
/// optional `.thumbnail` suffix), so implementations may use them as file or
/// object names. A `put` returns once the bytes are durable; a key is
/// written once and never changed, until its upload is removed. The filesystem implementation is
/// [`super::FsStorage`]; object storage can implement the same trait.
pub trait UploadStorage: Send + Sync + 'static {
    /// Stores `bytes` under `key`.
    fn put<'a>(&'a self, key: &'a str, bytes: Bytes) -> BoxFuture<'a, io::Result<()>>;

    /// The bytes under `key`, or `None` when there are none.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<Bytes>>>;

    /// Removes the bytes under `key`; a key with none is not an error.
    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>>;
}
