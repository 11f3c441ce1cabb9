//! A channel's stream as its readers see it: the slice a recovering client
//! replays, and the pages of its history. The same types whatever keeps
//! the stream (the broker, in memory or in Redis, or the durable store);
//! [`Node`](crate::Node) picks the source from the channel's namespace.

use std::sync::Arc;
use std::time::SystemTime;

use crate::{Publication, StreamPosition};

/// Publications after a position, for a client that recovers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSlice {
    /// The publications, oldest first.
    pub publications: Vec<Arc<Publication>>,
    /// The stream's position when read. Anything newer reaches the client
    /// live.
    pub position: StreamPosition,
    /// Whether `publications` holds everything after the asked offset (no
    /// publication expired or was pushed out, and none past the limit). The
    /// client is recovered only when this holds and its epoch is
    /// `position.epoch`.
    pub complete: bool,
}

impl StreamSlice {
    /// The slice cut at `position`, an earlier position of the same stream:
    /// what it holds up to there, and whether that is everything after
    /// `after`. A position of another epoch, or a later one, changes
    /// nothing. (A node of a cluster replays only what it has delivered:
    /// the rest reaches the client live.)
    pub fn cut_at(mut self, after: u64, position: &StreamPosition) -> Self {
        if position.epoch != self.position.epoch || position.offset >= self.position.offset {
            return self;
        }
        self.publications
            .retain(|publication| publication.position.offset <= position.offset);
        self.complete =
            after <= position.offset && self.publications.len() as u64 == position.offset - after;
        self.position = position.clone();
        self
    }
}

/// Where a page of a channel's history starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryCursor {
    /// The newest publications.
    Newest,
    /// The oldest publications still kept.
    Oldest,
    /// The publications just before this offset.
    Before(u64),
    /// The publications just after this offset.
    After(u64),
}

/// A request for one page of a channel's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Where the page starts.
    pub cursor: HistoryCursor,
    /// How many publications at most. The store caps it to its largest
    /// page; callers check it against what they accept.
    pub limit: usize,
}

/// One publication of a history page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The publication, as subscribers received it.
    pub publication: Arc<Publication>,
    /// When the store kept it; `None` in a broker's stream, which keeps no
    /// wall-clock time.
    pub created_at: Option<SystemTime>,
}

/// One page of a channel's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The publications, oldest first.
    pub entries: Vec<HistoryEntry>,
    /// The stream's epoch and last offset.
    pub position: StreamPosition,
    /// Whether older publications are still kept.
    pub has_older: bool,
    /// Whether newer publications exist.
    pub has_newer: bool,
}

impl HistoryPage {
    /// Whether there is more in the direction the page was read: newer
    /// publications for a page read forwards (after an offset, or from the
    /// oldest), older ones for a page read backwards.
    pub fn has_more(&self, cursor: HistoryCursor) -> bool {
        match cursor {
            HistoryCursor::After(_) | HistoryCursor::Oldest => self.has_newer,
            HistoryCursor::Before(_) | HistoryCursor::Newest => self.has_older,
        }
    }

    /// The page of `kept`, the publications a stream keeps (oldest first),
    /// that `query` asks for.
    pub(crate) fn of_kept(kept: StreamSlice, query: HistoryQuery) -> Self {
        let all = kept.publications;
        let (start, end) = match query.cursor {
            HistoryCursor::After(after) => {
                let start = all.partition_point(|p| p.position.offset <= after);
                (start, start.saturating_add(query.limit).min(all.len()))
            }
            HistoryCursor::Oldest => (0, query.limit.min(all.len())),
            HistoryCursor::Before(before) => {
                let end = all.partition_point(|p| p.position.offset < before);
                (end.saturating_sub(query.limit), end)
            }
            HistoryCursor::Newest => (all.len().saturating_sub(query.limit), all.len()),
        };
        let (has_older, has_newer) = (start > 0, end < all.len());
        Self {
            entries: all
                .into_iter()
                .skip(start)
                .take(end - start)
                .map(|publication| HistoryEntry {
                    publication,
                    created_at: None,
                })
                .collect(),
            position: kept.position,
            has_older,
            has_newer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChannelName, PublicationKind};

    fn slice(offsets: std::ops::RangeInclusive<u64>, last: u64) -> StreamSlice {
        let epoch: Arc<str> = Arc::from("e");
        StreamSlice {
            publications: offsets
                .map(|offset| {
                    Arc::new(Publication {
                        channel: ChannelName::new("c").unwrap(),
                        kind: PublicationKind::Publication,
                        data: bytes::Bytes::new(),
                        position: StreamPosition {
                            offset,
                            epoch: epoch.clone(),
                        },
                        info: None,
                        author: None,
                        audience: None,
                    })
                })
                .collect(),
            position: StreamPosition {
                offset: last,
                epoch,
            },
            complete: true,
        }
    }

    fn at(offset: u64, epoch: &str) -> StreamPosition {
        StreamPosition {
            offset,
            epoch: Arc::from(epoch),
        }
    }

    #[test]
    fn a_slice_cut_at_an_earlier_position_ends_there() {
        let cut = slice(3..=6, 6).cut_at(2, &at(4, "e"));
        assert_eq!(cut.position, at(4, "e"));
        assert_eq!(cut.publications.len(), 2);
        assert!(cut.complete);
        // A cut behind the client's offset recovers nothing.
        assert!(!slice(3..=6, 6).cut_at(5, &at(4, "e")).complete);
        // Another epoch, or a later position, leaves the slice as it is.
        assert_eq!(slice(3..=6, 6).cut_at(2, &at(4, "x")), slice(3..=6, 6));
        assert_eq!(slice(3..=6, 6).cut_at(2, &at(9, "e")), slice(3..=6, 6));
        // An incomplete slice (offset 3 was trimmed) is complete up to a
        // position it fully holds.
        let mut trimmed = slice(4..=6, 6);
        trimmed.complete = false;
        assert!(trimmed.cut_at(3, &at(5, "e")).complete);
    }

    #[test]
    fn a_page_of_kept_publications_reads_from_its_cursor() {
        let page = |cursor, limit| {
            let page = HistoryPage::of_kept(slice(3..=10, 10), HistoryQuery { cursor, limit });
            let offsets: Vec<u64> = page
                .entries
                .iter()
                .map(|entry| entry.publication.position.offset)
                .collect();
            (offsets, page.has_more(cursor))
        };
        assert_eq!(page(HistoryCursor::Newest, 3), (vec![8, 9, 10], true));
        assert_eq!(page(HistoryCursor::Before(8), 3), (vec![5, 6, 7], true));
        assert_eq!(page(HistoryCursor::Before(5), 3), (vec![3, 4], false));
        assert_eq!(page(HistoryCursor::After(7), 2), (vec![8, 9], true));
        assert_eq!(page(HistoryCursor::After(8), 2), (vec![9, 10], false));
        assert_eq!(page(HistoryCursor::Oldest, 2), (vec![3, 4], true));
        assert_eq!(page(HistoryCursor::Newest, 500).0.len(), 8);
    }
}
