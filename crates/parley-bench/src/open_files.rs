//! Raising the open-file limit: every connection is a file descriptor.

use std::io;

/// The soft open-file limit before and after [`raise_open_files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit found at start.
    pub before: u64,
    /// The soft limit now (the hard limit, when raising it worked).
    pub after: u64,
}

/// Raises the soft `RLIMIT_NOFILE` of this process to its hard limit.
pub fn raise_open_files() -> io::Result<OpenFiles> {
    let (soft, hard) = ::rlimit::Resource::NOFILE.get()?;
    if soft < hard {
        ::rlimit::Resource::NOFILE.set(hard, hard)?;
    }
    Ok(OpenFiles {
        before: soft,
        after: soft.max(hard),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_reaches_the_hard_limit() {
        let limits = raise_open_files().unwrap();
        assert!(limits.after >= limits.before);
        // A second call finds nothing left to raise.
        let again = raise_open_files().unwrap();
        assert_eq!(again.before, again.after);
        assert_eq!(again.after, limits.after);
    }
}
