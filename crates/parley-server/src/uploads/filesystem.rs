//! `FsStorage`: uploads as files under the data directory.

use std::io;
use std::path::PathBuf;

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::UploadStorage;

/// Keeps each upload as one file, `<root>/<first two characters of the
/// key>/<key>`, so that no directory grows past a few thousand entries.
#[derive(Debug, Clone)]
pub struct FsStorage {
    root: PathBuf,
}

impl FsStorage {
    /// Storage under `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The file of a key. Keys come from the server (hex ids and a fixed
    /// suffix); anything else is refused rather than used as a path.
    fn path(&self, key: &str) -> io::Result<PathBuf> {
        let valid = key.len() >= 2
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
            && !key.starts_with('.');
        if !valid {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid upload key {key:?}"),
            ));
        }
        Ok(self.root.join(&key[..2]).join(key))
    }
}

impl UploadStorage for FsStorage {
    /// Writes a temporary file, syncs it and renames it into place, so a
    /// reader never sees half a file and a crash leaves no partial upload
    /// under the key.
    fn put<'a>(&'a self, key: &'a str, bytes: Bytes) -> BoxFuture<'a, io::Result<()>> {
        async move {
            let path = self.path(key)?;
            let directory = path.parent().expect("upload paths have a directory");
            tokio::fs::create_dir_all(directory).await?;
            let temporary = path.with_extension(format!("tmp-{:016x}", rand::random::<u64>()));
            let written = async {
                let mut file = tokio::fs::File::create(&temporary).await?;
                tokio::io::AsyncWriteExt::write_all(&mut file, &bytes).await?;
                file.sync_all().await?;
                tokio::fs::rename(&temporary, &path).await
            }
            .await;
            if written.is_err() {
                let _ = tokio::fs::remove_file(&temporary).await;
            }
            written
        }
        .boxed()
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<Bytes>>> {
        async move {
            match tokio::fs::read(self.path(key)?).await {
                Ok(bytes) => Ok(Some(Bytes::from(bytes))),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(error),
            }
        }
        .boxed()
    }

    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>> {
        async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
                _ => Ok(()),
            }
        }
        .boxed()
    }
}
