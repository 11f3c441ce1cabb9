//! The writer's commands for rooms, read markers and pins, and what sending
//! a message adds to them (counts, mentions, the author's read marker, the
//! thread of its parent). Each runs inside the writer's transaction, like
//! the commands of `commands.rs`.

use std::sync::Arc;

use bytes::Bytes;
use parley_core::{ChannelName, PublicationKind, StreamPosition};
use sqlx::AnyConnection;

use crate::commands::{Context, Reply, message_event};
use crate::sql::reads::Marker;
use crate::sql::{messages, pins, reads, rooms, streams};
use crate::{
    Changed, MembersChange, MembersChanged, MembersEvent, Message, NewMessage, NewRoom, PinChange,
    Pinned, ReadChange, ReadDirection, ReadMark, ReadMarker, Room, RoomCreated, RoomKind,
    RoomMember, StoreError, StoredPublication,
};

/// A write about rooms, read markers or pins.
pub(crate) enum RoomCommand {
    /// Create a room, or find the pair's direct room.
    Create {
        new: NewRoom,
        reply: Reply<RoomCreated>,
    },
    /// Add or remove members.
    Members {
        change: MembersChange,
        reply: Reply<MembersChanged>,
    },
    /// Move a read marker.
    Read {
        mark: ReadMark,
        reply: Reply<ReadChange>,
    },
    /// Pin or unpin a message.
    Pin {
        change: PinChange,
        reply: Reply<Pinned>,
    },
    /// Append an event the server encoded (a notice in a user's inbox).
    Notice {
        app: Arc<str>,
        channel: ChannelName,
        kind: PublicationKind,
        data: Bytes,
        reply: Reply<StoredPublication>,
    },
}

impl RoomCommand {
    /// The app and channel whose stream the command may lock.
    pub(crate) fn lock_order(&self) -> (&str, &str) {
        match self {
            Self::Create { new, .. } => (&new.app, new.channel.as_str()),
            Self::Members { change, .. } => (&change.app, change.channel.as_str()),
            Self::Read { mark, .. } => (&mark.app, mark.channel.as_str()),
            Self::Pin { change, .. } => (&change.app, change.channel.as_str()),
            Self::Notice { app, channel, .. } => (app, channel.as_str()),
        }
    }

    /// Runs the command and keeps its outcome.
    pub(crate) async fn execute(
        &mut self,
        connection: &mut AnyConnection,
        context: &Context<'_>,
    ) -> Result<(), StoreError> {
        match self {
            Self::Create { new, reply } => reply.keep(create(connection, context, new).await),
            Self::Members { change, reply } => {
                reply.keep(change_members(connection, context, change).await)
            }
            Self::Read { mark, reply } => reply.keep(read(connection, context, mark).await),
            Self::Pin { change, reply } => reply.keep(pin(connection, context, change).await),
            Self::Notice {
                app,
                channel,
                kind,
                data,
                reply,
            } => reply
                .keep(append_event(connection, context, app, channel, *kind, data.clone()).await),
        }
    }

    /// The app and the publication the committed command appended.
    pub(crate) fn appended(&self) -> Option<(&str, &StoredPublication)> {
        let (app, publication) = match self {
            Self::Create { new, reply } => (&new.app, reply.kept()?.publication.as_ref()),
            Self::Members { change, reply } => (&change.app, reply.kept()?.publication.as_ref()),
            Self::Read { mark, reply } => (&mark.app, reply.kept()?.publication.as_ref()),
            Self::Pin { change, reply } => (&change.app, reply.kept()?.publication.as_ref()),
            Self::Notice { app, reply, .. } => (app, reply.kept()),
        };
        Some((&**app, publication?))
    }

    /// Answers the caller.
    pub(crate) fn answer(self, failure: Option<&StoreError>) {
        match self {
            Self::Create { reply, .. } => reply.answer(failure),
            Self::Members { reply, .. } => reply.answer(failure),
            Self::Read { reply, .. } => reply.answer(failure),
            Self::Pin { reply, .. } => reply.answer(failure),
            Self::Notice { reply, .. } => reply.answer(failure),
        }
    }
}

/// Appends an event whose payload is not a message's.
async fn append_event(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    app: &str,
    channel: &ChannelName,
    kind: PublicationKind,
    data: Bytes,
) -> Result<StoredPublication, StoreError> {
    let position: StreamPosition = streams::advance(connection, app, channel, context.now).await?;
    let publication = StoredPublication {
        channel: channel.clone(),
        position,
        kind,
        data,
        message_id: None,
        created_at: context.now,
        // Room, read and pin events are the room's, from no author a block
        // list would filter, and for everyone who reads the channel.
        author: None,
        audience: None,
    };
    streams::append(connection, app, &publication).await?;
    Ok(publication)
}

async fn create(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    new: &NewRoom,
) -> Result<RoomCreated, StoreError> {
    let app = &*new.app;
    if let Some(key) = &new.direct_key
        && let Some(room) = rooms::find_direct(connection, app, key).await?
    {
        let members = rooms::members(connection, app, &room.channel, usize::MAX).await?;
        return Ok(RoomCreated {
            room,
            members,
            created: false,
            publication: None,
        });
    }
    if rooms::find(connection, app, &new.channel).await?.is_some() {
        return Err(StoreError::InvalidInput(format!(
            "the room {} exists already",
            new.channel
        )));
    }
    let room = Room {
        channel: new.channel.clone(),
        kind: new.kind,
        created_by: new.creator.clone(),
        created_at: context.now,
        last_activity: context.now,
    };
    rooms::insert(connection, app, &room, new.direct_key.as_deref()).await?;
    let mut members = Vec::with_capacity(new.members.len());
    for (user, role) in &new.members {
        let member = RoomMember {
            user: user.clone(),
            role: *role,
            joined_at: context.now,
        };
        if rooms::add_member(connection, app, &room.channel, &member).await? {
            members.push(member);
        }
    }
    let event = MembersEvent {
        room: room.clone(),
        members,
        by: new.creator.clone(),
    };
    let data = (new.encode)(&event);
    let publication = append_event(
        connection,
        context,
        app,
        &room.channel,
        PublicationKind::MemberAdded,
        data,
    )
    .await?;
    let seen = reads::message_count(connection, app, &room.channel).await?;
    for member in &event.members {
        let marker = Marker {
            seen,
            last_read_offset: publication.position.offset,
        };
        reads::set_marker(
            connection,
            app,
            &room.channel,
            &member.user,
            marker,
            context.now,
        )
        .await?;
    }
    Ok(RoomCreated {
        room,
        members: event.members,
        created: true,
        publication: Some(publication),
    })
}

async fn change_members(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    change: &MembersChange,
) -> Result<MembersChanged, StoreError> {
    let app = &*change.app;
    let channel = &change.channel;
    // The stream lock first, so membership changes of one room take turns.
    let position = streams::advance(connection, app, channel, context.now).await?;
    let room = rooms::find(connection, app, channel)
        .await?
        .ok_or(StoreError::NotFound("room"))?;
    if room.kind == RoomKind::Direct {
        return Err(StoreError::Forbidden("a direct room keeps its two members"));
    }
    let seen = reads::message_count(connection, app, channel).await?;
    let mut members = Vec::new();
    for (user, role) in &change.members {
        if change.add {
            let member = RoomMember {
                user: user.clone(),
                role: *role,
                joined_at: context.now,
            };
            if rooms::add_member(connection, app, channel, &member).await? {
                let marker = Marker {
                    seen,
                    last_read_offset: position.offset,
                };
                reads::set_marker(connection, app, channel, user, marker, context.now).await?;
                members.push(member);
            }
        } else if let Some(member) = rooms::remove_member(connection, app, channel, user).await? {
            reads::remove_marker(connection, app, channel, user).await?;
            members.push(member);
        }
    }
    if members.is_empty() {
        // Nothing changed: the writer rolls the refused command back, and
        // with it the offset taken above.
        return Err(StoreError::InvalidInput(if change.add {
            "every user named is a member already".into()
        } else {
            "no user named is a member".into()
        }));
    }
    let event = MembersEvent {
        room: room.clone(),
        members,
        by: change.by.clone(),
    };
    let kind = if change.add {
        PublicationKind::MemberAdded
    } else {
        PublicationKind::MemberRemoved
    };
    let publication = StoredPublication {
        channel: channel.clone(),
        position,
        kind,
        data: (change.encode)(&event),
        message_id: None,
        created_at: context.now,
        author: None,
        audience: None,
    };
    streams::append(connection, app, &publication).await?;
    Ok(MembersChanged {
        room,
        members: event.members,
        publication: Some(publication),
    })
}

async fn read(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    mark: &ReadMark,
) -> Result<ReadChange, StoreError> {
    let app = &*mark.app;
    let channel = &mark.channel;
    let message = messages::find(connection, app, mark.message)
        .await?
        .filter(|message| message.channel == *channel)
        .ok_or(StoreError::NotFound("message"))?;
    let seq = message_seq(connection, &message).await?;
    let current = reads::marker(connection, app, channel, &mark.user).await?;
    let target = match mark.direction {
        ReadDirection::Forward => Marker {
            seen: seq,
            last_read_offset: message.offset,
        },
        ReadDirection::Back => Marker {
            seen: seq.saturating_sub(1),
            last_read_offset: message.offset.saturating_sub(1),
        },
    };
    let moves = match (current, mark.direction) {
        (None, _) => true,
        (Some(current), ReadDirection::Forward) => target.seen > current.seen,
        (Some(current), ReadDirection::Back) => target.seen < current.seen,
    };
    let marker = if moves {
        reads::set_marker(connection, app, channel, &mark.user, target, context.now).await?;
        target
    } else {
        current.unwrap_or(target)
    };
    let count = reads::message_count(connection, app, channel).await?;
    let marker = ReadMarker {
        channel: channel.clone(),
        user: mark.user.clone(),
        last_read_offset: marker.last_read_offset,
        unread: count.saturating_sub(marker.seen),
        updated_at: context.now,
    };
    let publication = match (&mark.encode, moves) {
        (Some(encode), true) => Some(
            append_event(
                connection,
                context,
                app,
                channel,
                PublicationKind::ReadUpdated,
                encode(&marker),
            )
            .await?,
        ),
        _ => None,
    };
    Ok(ReadChange {
        marker,
        moved: moves,
        publication,
    })
}

/// A message's `seq`: its place among the channel's messages.
async fn message_seq(connection: &mut AnyConnection, message: &Message) -> Result<u64, StoreError> {
    use sqlx::Row;
    let row = sqlx::query("SELECT seq FROM messages WHERE id = $1")
        .bind(message.id.get())
        .fetch_one(&mut *connection)
        .await?;
    Ok(u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0))
}

async fn pin(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    change: &PinChange,
) -> Result<Pinned, StoreError> {
    let app = &*change.app;
    let channel = &change.channel;
    let message = messages::find(connection, app, change.message)
        .await?
        // A hidden or shadow message is not everyone's to see, and a pin
        // event carries the message to everyone: it is neither pinned nor
        // unpinned (the pins list shows each reader what they may see).
        .filter(|message| {
            message.channel == *channel
                && !message.is_deleted()
                && !message.hidden
                && !message.shadow
        })
        .ok_or(StoreError::NotFound("message"))?;
    let changed = if change.pin {
        pins::pin(
            connection,
            app,
            channel,
            message.id,
            &change.by,
            context.now,
        )
        .await?
    } else {
        pins::unpin(connection, app, channel, message.id).await?
    };
    let pin = crate::Pin {
        message,
        by: change.by.clone(),
        at: context.now,
        pinned: change.pin,
    };
    let publication = if changed {
        let kind = if change.pin {
            PublicationKind::MessagePinned
        } else {
            PublicationKind::MessageUnpinned
        };
        let data = (change.encode)(&pin);
        Some(append_event(connection, context, app, channel, kind, data).await?)
    } else {
        None
    };
    Ok(Pinned { pin, publication })
}

/// What sending a message adds besides its row and its event: the author's
/// read marker (their own message is read, up to its `seq`, which
/// [`streams::advance_counting`] took with the offset) and, in a room, the
/// room's activity. A shadow message (for its author's eyes only) does not
/// touch the room; it was not counted either, so no one else's unread
/// count moves.
pub(crate) async fn mark_sent(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    new: &NewMessage,
    seq: u64,
    offset: u64,
) -> Result<(), StoreError> {
    let marker = Marker {
        seen: seq,
        last_read_offset: offset,
    };
    reads::set_marker(
        connection,
        &new.app,
        &new.channel,
        &new.author,
        marker,
        context.now,
    )
    .await?;
    if new.room && !new.shadow {
        rooms::touch(connection, &new.app, &new.channel, context.now).await?;
    }
    Ok(())
}

/// Records the mentions of a message just inserted with `seq`.
pub(crate) async fn record_mentions(
    connection: &mut AnyConnection,
    message: &Message,
    app: &str,
    seq: u64,
) -> Result<(), StoreError> {
    reads::add_mentions(
        connection,
        app,
        &message.channel,
        message.id,
        seq,
        &message.mentions,
    )
    .await
}

/// Counts a new reply on its parent and appends the parent's
/// `message_updated`, so subscribers see the thread's count move.
pub(crate) async fn update_thread(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    app: &str,
    reply: &Message,
) -> Result<Option<Box<Changed>>, StoreError> {
    let Some(parent_id) = reply.reply_to else {
        return Ok(None);
    };
    let Some(parent) = messages::find(connection, app, parent_id).await? else {
        return Ok(None);
    };
    let parent = pins::count_reply(connection, parent, &reply.author).await?;
    let position = streams::advance(connection, app, &reply.channel, context.now).await?;
    let publication = message_event(context, PublicationKind::MessageUpdated, &parent, position);
    streams::append(connection, app, &publication).await?;
    Ok(Some(Box::new(Changed {
        message: parent,
        publication,
    })))
}
