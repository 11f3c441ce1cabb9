//! A recovering subscription's replay, paged into the client's queue.
//!
//! A replay may be far larger than the connection's bounded queue (the
//! defaults allow 300 publications of 64 KiB against 1 MiB). Queued at once
//! it would close the client as slow, the very client it serves. So it is
//! queued a page at a time: as much as leaves half the queue free, then the
//! next page once the connection task wrote the queue. The hub holds the
//! channel's live publications meanwhile and releases them the same way
//! after the replay, so every missed publication arrives once, in order,
//! before the live ones.

use std::collections::VecDeque;
use std::sync::Arc;

use parley_core::{ChannelName, Frame, FrameEncoder, Publication, Push, StreamPosition};

use super::push::NativeEncoder;
use super::session::NativeSession;

/// What one recovering subscription still has to send.
pub(super) struct Replay {
    channel: ChannelName,
    /// The missed publications not queued yet, in order. They are encoded
    /// only when queued: an in-memory stream's are shared with its kept
    /// history, so a waiting replay costs no copy of them.
    publications: VecDeque<Arc<Publication>>,
    /// The next one, encoded already, that did not fit in the last page.
    next: Option<Frame>,
    /// The position the replay reaches: held publications at or below it
    /// were in the replay.
    up_to: StreamPosition,
}

impl NativeSession {
    /// Starts paging a replay for `channel` into the queue, after the
    /// replays already under way.
    pub(super) fn start_replay(
        &mut self,
        channel: ChannelName,
        publications: Vec<Arc<Publication>>,
        up_to: StreamPosition,
    ) {
        self.replays.push_back(Replay {
            channel,
            publications: publications.into(),
            next: None,
            up_to,
        });
        self.feed_replays();
    }

    /// Queues what the queue accepts of the replays under way: the oldest
    /// replay's frames, then its channel's held publications; the next
    /// replay starts only when that hold ended.
    pub(super) fn feed_replays(&mut self) {
        let hub = &self.app.app.hub;
        let queue = self.client.queue();
        while let Some(replay) = self.replays.front_mut() {
            // A subscription that ended (unsubscribed, banned, removed from
            // a room) needs the rest of its replay no more.
            if hub.is_subscribed(self.client.id, &replay.channel) {
                while let Some(frame) = replay.next.take().or_else(|| {
                    let publication = replay.publications.pop_front()?;
                    Some(NativeEncoder.encode(&Push::Publication(&publication)))
                }) {
                    if !queue.accepts_page(frame.len()) {
                        if queue.closed().is_some() {
                            self.replays.clear();
                        } else {
                            replay.next = Some(frame);
                        }
                        return;
                    }
                    if self.client.send(frame).is_err() {
                        // The connection is closing.
                        self.replays.clear();
                        return;
                    }
                }
                let ended = self.server.node.finish_recovery(
                    &self.app.app,
                    &self.client,
                    &replay.channel,
                    &replay.up_to,
                );
                if !ended {
                    return;
                }
            }
            self.replays.pop_front();
        }
    }

    /// Forgets a replay of `channel` still under way.
    pub(super) fn drop_replay(&mut self, channel: &ChannelName) {
        self.replays.retain(|replay| replay.channel != *channel);
    }
}
