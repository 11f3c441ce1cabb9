//! A small tmpfs a test mounts, fills and empties: a disk that really runs
//! out of space, for the store's behaviour on a full disk.
//!
//! Mounting needs root, as the tests and CI run. A test that cannot mount
//! fails with the reason: passing without its filesystem would prove
//! nothing.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs, unmounted when dropped, also when the test panics.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` reads it, say `16m`).
    pub fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match output {
            Ok(output) if output.status.success() => Self { dir },
            Ok(output) => panic!(
                "this test needs a tmpfs and could not mount one (it must run as root): {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(error) => panic!("this test needs a tmpfs and could not run mount: {error}"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes one file until the filesystem has no byte left, and returns
    /// its path: deleting it frees the space again.
    pub fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        // Big writes first, then ever smaller ones for the last pages.
        for chunk in [1 << 20, 4096, 1] {
            let bytes = vec![0u8; chunk];
            loop {
                match file.write_all(&bytes) {
                    Ok(()) => {}
                    Err(error) if error.raw_os_error() == Some(28) => break,
                    Err(error) if error.kind() == ErrorKind::StorageFull => break,
                    Err(error) => panic!("filling the tmpfs failed: {error}"),
                }
            }
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|status| status.success());
        if !unmounted {
            // Something still holds a file open there: detach it now and let
            // the kernel finish when it is let go.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}
