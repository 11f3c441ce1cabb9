//! Join and leave pushes, batched during storms.
//!
//! A quiet channel gets each `join` and `leave` at once. When events come
//! faster than one per window (10,000 users reconnecting after a deploy),
//! the rest of the window's events wait and go out as one `presence_diff`,
//! so a storm of N joins into a channel of N subscribers costs
//! O(N × windows) frames instead of O(N²).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::{App, ChannelName, Member, Push};

/// Batches one node's join and leave pushes per channel.
#[derive(Default)]
pub struct PresenceFeed {
    channels: Mutex<HashMap<(Arc<str>, ChannelName), FeedState>>,
}

struct FeedState {
    /// When the last push (single or diff) went out.
    last_push: Instant,
    joins: Vec<Member>,
    leaves: Vec<Arc<str>>,
    flush_scheduled: bool,
}

enum Event {
    Join(Member),
    Leave(Arc<str>),
}

impl PresenceFeed {
    /// A feed with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// A user joined `channel`.
    pub fn join(
        self: &Arc<Self>,
        app: &Arc<App>,
        channel: &ChannelName,
        member: Member,
        window: Duration,
    ) {
        self.event(app, channel, Event::Join(member), window);
    }

    /// A user left `channel`.
    pub fn leave(
        self: &Arc<Self>,
        app: &Arc<App>,
        channel: &ChannelName,
        user: Arc<str>,
        window: Duration,
    ) {
        self.event(app, channel, Event::Leave(user), window);
    }

    fn event(
        self: &Arc<Self>,
        app: &Arc<App>,
        channel: &ChannelName,
        event: Event,
        window: Duration,
    ) {
        let now = Instant::now();
        let mut channels = self.channels.lock();
        let state = channels
            .entry((app.id.clone(), channel.clone()))
            .or_insert_with(|| FeedState {
                last_push: now.checked_sub(window).unwrap_or(now),
                joins: Vec::new(),
                leaves: Vec::new(),
                flush_scheduled: false,
            });
        let quiet = !state.flush_scheduled && now.duration_since(state.last_push) >= window;
        if quiet {
            state.last_push = now;
            drop(channels);
            match &event {
                Event::Join(member) => self.push(app, &Push::Join { channel, member }),
                Event::Leave(user) => self.push(app, &Push::Leave { channel, user }),
            }
            return;
        }
        // Each user is named once, with their last event: a join replaces
        // a pending leave and a leave a pending join. They do not cancel
        // out, because a subscriber may have seen the first one's effect
        // by reading `presence` within the window (as every client that
        // keeps a member list does after its subscribe): a user who came
        // and went within the window must still be reported gone.
        match event {
            Event::Join(member) => {
                state.leaves.retain(|user| *user != member.user);
                state.joins.retain(|pending| pending.user != member.user);
                state.joins.push(member);
            }
            Event::Leave(user) => {
                state.joins.retain(|member| member.user != user);
                if !state.leaves.contains(&user) {
                    state.leaves.push(user);
                }
            }
        }
        if !state.flush_scheduled {
            state.flush_scheduled = true;
            let at = state.last_push + window;
            let (feed, app, channel) = (self.clone(), app.clone(), channel.clone());
            tokio::spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                feed.flush(&app, &channel);
            });
        }
    }

    fn flush(&self, app: &App, channel: &ChannelName) {
        let mut channels = self.channels.lock();
        let Some(state) = channels.get_mut(&(app.id.clone(), channel.clone())) else {
            return;
        };
        state.flush_scheduled = false;
        state.last_push = Instant::now();
        let joins = std::mem::take(&mut state.joins);
        let leaves = std::mem::take(&mut state.leaves);
        drop(channels);
        // A window that gathered one event sends it as it would have been
        // sent in a quiet channel.
        match (joins.as_slice(), leaves.as_slice()) {
            ([], []) => {}
            ([member], []) => self.push(app, &Push::Join { channel, member }),
            ([], [user]) => self.push(app, &Push::Leave { channel, user }),
            _ => {
                metrics::counter!("parley_presence_diff_batches_total").increment(1);
                self.push(
                    app,
                    &Push::PresenceDiff {
                        channel,
                        joins: &joins,
                        leaves: &leaves,
                    },
                );
            }
        }
    }

    fn push(&self, app: &App, push: &Push<'_>) {
        app.hub.broadcast(push);
    }

    /// Forgets channels whose last push is older than `idle` and that have
    /// nothing pending.
    pub fn prune(&self, idle: Duration) {
        let now = Instant::now();
        self.channels
            .lock()
            .retain(|_, state| state.flush_scheduled || now.duration_since(state.last_push) < idle);
    }
}
