//! `Viewer`: who reads a channel's stream, and the one rule that decides
//! what they see of it.
//!
//! The rule serves every path a publication takes to a reader: the hub's
//! live fan-out ([`Viewer::allows`], per subscriber, without building a
//! viewer), the replay of a recovering subscription and the pages of a
//! channel's history ([`Viewer::sees`]), and pages of chat messages
//! ([`Viewer::sees_from`]).

use std::sync::Arc;

use crate::{BlockBook, BlockList, Publication};

/// Who reads a channel's stream or messages, and so what they may see:
/// content meant for one user (a shadow-muted author's messages) only by
/// that user, nothing from users they blocked, and hidden messages' text
/// only as moderators.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    /// The reading user; `None` for the server API, which sees everything.
    pub user: Option<Arc<str>>,
    /// Whether hidden messages are shown with their text.
    pub moderator: bool,
    /// The users the reader blocked.
    pub blocked: BlockList,
}

impl Viewer {
    /// The server API: sees everything, hidden messages revealed.
    pub fn server() -> Self {
        Self {
            user: None,
            moderator: true,
            blocked: BlockList::new(),
        }
    }

    /// `user` as the app's hub filters what they receive live: with the
    /// block list the hub holds for them. A replay filtered with it leaves
    /// out exactly what the live fan-out would have.
    pub fn of_hub(user: Arc<str>, blocks: &BlockBook) -> Self {
        let blocked = blocks.list(&user);
        Self {
            user: Some(user),
            moderator: false,
            blocked,
        }
    }

    /// The visibility rule: whether `reader`, who blocked `blocked`, sees
    /// content from `author` meant for `audience` (`None`: everyone who
    /// may read the channel). Content meant for someone else is never
    /// seen, nor content from a blocked author.
    pub fn allows(
        reader: &str,
        blocked: Option<&BlockList>,
        author: Option<&str>,
        audience: Option<&str>,
    ) -> bool {
        audience.is_none_or(|audience| audience == reader)
            && author
                .zip(blocked)
                .is_none_or(|(author, blocked)| !blocked.contains(author))
    }

    /// Whether the viewer sees content from `author` meant for `audience`.
    pub fn sees_from(&self, author: Option<&str>, audience: Option<&str>) -> bool {
        self.user
            .as_deref()
            .is_none_or(|user| Self::allows(user, Some(&self.blocked), author, audience))
    }

    /// Whether the viewer sees a publication.
    pub fn sees(&self, publication: &Publication) -> bool {
        self.sees_from(
            publication.author.as_deref(),
            publication.audience.as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewer_sees_neither_others_audiences_nor_blocked_authors() {
        let viewer = Viewer {
            user: Some("b".into()),
            moderator: false,
            blocked: BlockList::from(["a".into()]),
        };
        assert!(viewer.sees_from(Some("c"), None));
        assert!(viewer.sees_from(None, None));
        assert!(viewer.sees_from(Some("b"), Some("b")));
        assert!(!viewer.sees_from(Some("c"), Some("c")), "meant for c alone");
        assert!(!viewer.sees_from(Some("a"), None), "b blocked a");
        assert!(Viewer::server().sees_from(Some("a"), Some("a")));
        assert!(Viewer::allows("b", None, Some("a"), None));
    }
}
