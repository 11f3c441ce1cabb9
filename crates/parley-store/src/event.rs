//! Durable events: every change the store records in a channel's stream is
//! one typed event, appended by [`append`] in the same transaction as the
//! projection rows it updates (messages, reaction counts, read markers,
//! pins, room members).
//!
//! A write takes its [`Turn`] at the channel's stream first: that locks the
//! stream row and reserves the next offset, so the checks the write makes
//! next see what the previous writer of the channel committed. It then
//! updates its projection rows and spends the turn on [`append`], which
//! builds the event's [`StoredPublication`] and stores it. A write the
//! writer rolls back (a refusal, a failed batch) undoes all three together.
//!
//! Each event type knows its kind, the name its publications, native pushes
//! and Pusher events carry (`Message::CREATED`, `Pin::PINNED`, …), and how
//! its data is made: by the server's encoders, so the store never learns the
//! wire format. The core carries the kind as an opaque
//! [`EventKind`] and knows no event but the plain
//! publication.
//!
//! # Adding a durable feature
//!
//! Pins are the worked example. In this crate: one file for the feature
//! (`pins.rs`: its request; its event's type, `Pin`, with its kinds; the
//! write as a [`Change`] that updates the projection and records the event
//! as [`Encoded`] with the caller's encoder; its `impl Store` methods), its SQL (`sql/pins.rs`) and table (a migration for
//! each backend), and a line each in `lib.rs` and `sql/mod.rs`. The writer,
//! the commands and the core do not change. In the server: the rules and
//! the payload (`chat/pins.rs`), the native method, the HTTP route, and the
//! docs (`docs/protocol.md`, `docs/http-api.md`).

use std::sync::Arc;

use bytes::Bytes;
use parley_core::{ChannelName, EventKind, PublicationKind, StreamPosition};
use sqlx::AnyConnection;

use crate::commands::{Change, Context};
use crate::sql::streams::{self, Advance};
use crate::{MessageId, Store, StoreError, StoredPublication};

/// Turns an event into the payload its publication carries; called inside
/// the write transaction (possibly more than once, if it is retried).
pub type EventEncoder<T> = Arc<dyn Fn(&T) -> Bytes + Send + Sync>;

/// A durable change, recorded as one publication of a channel's stream.
pub(crate) trait Event {
    /// The kind: the name of the publication, of its native push and of
    /// its Pusher event.
    fn kind(&self) -> PublicationKind;

    /// The payload subscribers receive, stored as it is.
    fn data(&self, context: &Context<'_>) -> Bytes;

    /// The message the event is about, for a message event (deleting or
    /// hiding the message redacts its events by it).
    fn message_id(&self) -> Option<MessageId> {
        None
    }

    /// The user the content is from, whom block lists filter on; `None`
    /// for the room's own events.
    fn author(&self) -> Option<Arc<str>> {
        None
    }

    /// The one user who may see the event; `None` for everyone who may
    /// read the channel.
    fn audience(&self) -> Option<Arc<str>> {
        None
    }
}

/// One write's turn at a channel's stream: the stream row locked until the
/// transaction ends, and the offset the write's event takes. Spent by
/// [`append`]; a write that takes a turn appends its event or fails (and
/// is rolled back), or the stream would have a gap.
#[must_use = "a turn taken and not appended leaves a gap in the stream"]
pub(crate) struct Turn<'a> {
    app: &'a str,
    channel: &'a ChannelName,
    position: StreamPosition,
}

impl<'a> Turn<'a> {
    /// Takes the next offset of the channel's stream, creating the stream
    /// on its first event.
    pub(crate) async fn take(
        connection: &mut AnyConnection,
        context: &Context<'_>,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> Result<Self, StoreError> {
        let position = streams::advance(connection, app, channel, context.now).await?;
        Ok(Self {
            app,
            channel,
            position,
        })
    }

    /// [`Turn::take`] for a message sent: also counts the message in the
    /// channel's message count when `counted`, and returns the count after
    /// it, the message's `seq`.
    pub(crate) async fn take_counting(
        connection: &mut AnyConnection,
        context: &Context<'_>,
        app: &'a str,
        channel: &'a ChannelName,
        counted: bool,
    ) -> Result<(Self, u64), StoreError> {
        let (position, seq) =
            streams::advance_counting(connection, app, channel, context.now, counted).await?;
        let turn = Self {
            app,
            channel,
            position,
        };
        Ok((turn, seq))
    }

    /// [`Turn::take_counting`] for a batch's writes to many streams at
    /// once, in one statement: each [`Advance`] takes `events` turns at its
    /// stream and adds `counted` messages to its count. Returns, in the
    /// order of `advances`, each stream's turns in offset order and its
    /// message count before them. Every turn must be spent by
    /// [`append_many`].
    pub(crate) async fn take_many(
        connection: &mut AnyConnection,
        context: &Context<'_>,
        advances: &[Advance<'a>],
    ) -> Result<Vec<Taken<'a>>, StoreError> {
        let advanced = streams::advance_many(connection, advances, context.now).await?;
        advances
            .iter()
            .zip(advanced)
            .map(|(advance, advanced)| {
                let last = advanced.position.offset;
                let first = (last + 1)
                    .checked_sub(advance.events)
                    .ok_or_else(|| StoreError::corrupt("a stream advanced below zero"))?;
                let count_before = advanced
                    .message_count
                    .checked_sub(advance.counted)
                    .ok_or_else(|| StoreError::corrupt("a message count below zero"))?;
                let turns = (first..=last)
                    .map(|offset| Turn {
                        app: advance.app,
                        channel: advance.channel,
                        position: StreamPosition {
                            offset,
                            epoch: advanced.position.epoch.clone(),
                        },
                    })
                    .collect();
                Ok(Taken {
                    turns,
                    count_before,
                })
            })
            .collect()
    }

    /// The offset the event will take.
    pub(crate) fn offset(&self) -> u64 {
        self.position.offset
    }
}

/// One stream's turns from [`Turn::take_many`].
pub(crate) struct Taken<'a> {
    /// The turns, in offset order.
    pub(crate) turns: Vec<Turn<'a>>,
    /// The channel's message count before the counted messages.
    pub(crate) count_before: u64,
}

/// Appends `event` at `turn`: the one place an event enters a stream.
pub(crate) async fn append(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    turn: Turn<'_>,
    event: &impl Event,
) -> Result<StoredPublication, StoreError> {
    let publication = publication(context, &turn, event);
    streams::append(connection, turn.app, &publication).await?;
    Ok(publication)
}

/// [`append`] for many events, each at its turn, in one statement per
/// chunk; returns their publications in the order given.
pub(crate) async fn append_many<'a, E: Event>(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    appends: impl IntoIterator<Item = (Turn<'a>, E)>,
) -> Result<Vec<StoredPublication>, StoreError> {
    let publications: Vec<(&str, StoredPublication)> = appends
        .into_iter()
        .map(|(turn, event)| (turn.app, publication(context, &turn, &event)))
        .collect();
    streams::append_many(connection, &publications).await?;
    Ok(publications
        .into_iter()
        .map(|(_, publication)| publication)
        .collect())
}

/// The publication of `event` at `turn`.
fn publication(context: &Context<'_>, turn: &Turn<'_>, event: &impl Event) -> StoredPublication {
    StoredPublication {
        channel: turn.channel.clone(),
        position: turn.position.clone(),
        kind: event.kind(),
        data: event.data(context),
        message_id: event.message_id(),
        created_at: context.now,
        author: event.author(),
        audience: event.audience(),
    }
}

/// Takes a turn and appends `event` at once, for a write whose checks need
/// no lock on the stream.
pub(crate) async fn record(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    app: &str,
    channel: &ChannelName,
    event: &impl Event,
) -> Result<StoredPublication, StoreError> {
    let turn = Turn::take(connection, context, app, channel).await?;
    append(connection, context, turn, event).await
}

/// An event whose data the caller's encoder makes from `value` (a pin, a
/// membership change, a read marker): the room's own event, from no author
/// a block list would filter, and for everyone who reads the channel.
pub(crate) struct Encoded<'a, T> {
    /// The kind, one of the constants of `T` (`Pin::PINNED`, …).
    pub(crate) kind: EventKind,
    /// What the event says.
    pub(crate) value: &'a T,
    /// The caller's encoder of `T`.
    pub(crate) encode: &'a EventEncoder<T>,
}

impl<T> Event for Encoded<'_, T> {
    fn kind(&self) -> PublicationKind {
        self.kind.clone().into()
    }

    fn data(&self, _: &Context<'_>) -> Bytes {
        (self.encode)(self.value)
    }
}

/// Data a client or backend published: opaque bytes, the core's plain
/// publication.
pub(crate) struct Published<'a> {
    /// The payload as published.
    pub(crate) data: &'a Bytes,
    /// The publishing user, if any.
    pub(crate) author: Option<Arc<str>>,
}

impl Event for Published<'_> {
    fn kind(&self) -> PublicationKind {
        PublicationKind::Publication
    }

    fn data(&self, _: &Context<'_>) -> Bytes {
        self.data.clone()
    }

    fn author(&self) -> Option<Arc<str>> {
        self.author.clone()
    }
}

impl Store {
    /// Appends an event whose payload the caller encoded (a room notice in
    /// a user's inbox channel, say) to the channel's stream.
    pub async fn append_event(
        &self,
        app: Arc<str>,
        channel: ChannelName,
        kind: PublicationKind,
        data: Bytes,
    ) -> Result<StoredPublication, StoreError> {
        self.change(Notice {
            app,
            channel,
            kind,
            data,
        })
        .await
    }
}

/// An event the server encoded itself (a room notice in a user's inbox),
/// and its write: the event is all it records.
struct Notice {
    app: Arc<str>,
    channel: ChannelName,
    kind: PublicationKind,
    data: Bytes,
}

impl Event for Notice {
    fn kind(&self) -> PublicationKind {
        self.kind.clone()
    }

    fn data(&self, _: &Context<'_>) -> Bytes {
        self.data.clone()
    }
}

impl Change for Notice {
    type Outcome = StoredPublication;

    fn scope(&self) -> (&str, &ChannelName) {
        (&self.app, &self.channel)
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        context: &Context<'_>,
    ) -> Result<StoredPublication, StoreError> {
        record(connection, context, &self.app, &self.channel, self).await
    }

    fn appended(outcome: &StoredPublication) -> Option<&StoredPublication> {
        Some(outcome)
    }
}
