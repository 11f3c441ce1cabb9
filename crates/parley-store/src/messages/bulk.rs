//! Plain message sends in bulk: a run of sends in one batch written with a
//! handful of statements whatever its length (see `writer.rs`), giving
//! each what [`send`](super::send) would, one after the other.

use sqlx::AnyConnection;

use super::{Message, MessageEvent, NewMessage, Sent};
use crate::StoreError;
use crate::commands::Context;
use crate::event::{self, Turn};
use crate::sql::reads as read_rows;
use crate::sql::streams::Advance;
use crate::sql::{self, messages, rooms, uploads};

impl NewMessage {
    /// Whether the message can be sent with others in bulk
    /// ([`send_many`]): it has no parent to find and no uploads to claim,
    /// so nothing but its idempotency key is looked up before it is
    /// written, and only a failing statement can refuse it. Most messages
    /// are like that; replies and messages with attachments are sent one by
    /// one.
    pub(crate) fn is_plain(&self) -> bool {
        self.reply_to.is_none() && self.attachments.is_empty()
    }

    /// Whether `other` is the same send again: same app, channel, author
    /// and idempotency key.
    fn repeats(&self, other: &NewMessage) -> bool {
        self.client_msg_id.is_some()
            && self.client_msg_id == other.client_msg_id
            && self.author == other.author
            && self.channel == other.channel
            && self.app == other.app
    }
}

/// What [`send_many`] does with one message.
enum Plan {
    /// Its key was sent before: answer with that message, append nothing.
    Resent(Box<Message>),
    /// Its key is the one of the message written at this index of the
    /// messages written: answer with that one, append nothing.
    Repeats(usize),
    /// Write it, at this index of the messages written.
    Write(usize),
}

/// Sends many plain messages (see [`NewMessage::is_plain`]): what [`send`](super::send)
/// would give for each, one after the other, in the order given. A message
/// whose idempotency key was stored before, or comes earlier in `news`, is
/// answered with that message and appends nothing; the others are written
/// by [`write_many`]. The keys are looked up in one statement.
pub(crate) async fn send_many(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    news: &[&NewMessage],
) -> Result<Vec<Sent>, StoreError> {
    let keys: Vec<messages::SentKey<'_>> = news
        .iter()
        .filter_map(|new| {
            Some(messages::SentKey {
                app: &new.app,
                channel: &new.channel,
                author: &new.author,
                client_msg_id: new.client_msg_id.as_deref()?,
            })
        })
        .collect();
    let stored = messages::find_sent_many(connection, &keys).await?;
    let mut plans = Vec::with_capacity(news.len());
    let mut writes: Vec<&NewMessage> = Vec::with_capacity(news.len());
    let mut any_resent = false;
    for (index, new) in news.iter().enumerate() {
        let before = stored.iter().find(|(app, message)| {
            new.client_msg_id.is_some()
                && message.client_msg_id == new.client_msg_id
                && message.author == new.author
                && message.channel == new.channel
                && app.as_str() == &*new.app
        });
        let plan = if let Some((_, message)) = before {
            any_resent = true;
            Plan::Resent(Box::new(message.clone()))
        } else if let Some(first) = news[..index].iter().position(|other| other.repeats(new)) {
            // The first message with this key was not stored before, or
            // this one would have been found too: it is written here.
            match &plans[first] {
                Plan::Write(written) | Plan::Repeats(written) => Plan::Repeats(*written),
                Plan::Resent(message) => Plan::Resent(message.clone()),
            }
        } else {
            writes.push(new);
            Plan::Write(writes.len() - 1)
        };
        plans.push(plan);
    }
    if any_resent {
        let mut messages: Vec<Message> = plans
            .iter()
            .filter_map(|plan| match plan {
                Plan::Resent(message) => Some((**message).clone()),
                _ => None,
            })
            .collect();
        uploads::fill(connection, &mut messages).await?;
        // Back into the plans they came from, in the same order; only a
        // resent plan takes one.
        let mut filled = messages.into_iter();
        for plan in &mut plans {
            if let Plan::Resent(message) = plan
                && let Some(filled) = filled.next()
            {
                **message = filled;
            }
        }
    }
    let written = write_many(connection, context, &writes).await?;
    if writes.len() == news.len() {
        // Nothing was sent before: the answers are the messages written,
        // in order.
        return Ok(written);
    }
    Ok(plans
        .into_iter()
        .map(|plan| match plan {
            Plan::Resent(message) => Sent {
                message: *message,
                publication: None,
                parent: None,
            },
            Plan::Repeats(index) => Sent {
                message: written[index].message.clone(),
                publication: None,
                parent: None,
            },
            Plan::Write(index) => written[index].clone(),
        })
        .collect())
}

/// Writes many plain messages, none sent before, in a handful of
/// statements whatever their number: one to take every channel's turns, one
/// each (per chunk of rows) for the senders' read markers, the messages,
/// their mentions and their events, and one per room moved. The result is
/// what [`send`](super::send) would give for each, one after the other, in the order
/// given, which must keep the messages of a channel in their queue order
/// and the channels in the writer's lock order.
async fn write_many(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    news: &[&NewMessage],
) -> Result<Vec<Sent>, StoreError> {
    if news.is_empty() {
        return Ok(Vec::new());
    }
    // The channels, each once, in the order given (the lock order), with
    // how many messages each takes and counts (a shadow message counts
    // none: see `send`).
    let mut advances: Vec<Advance<'_>> = Vec::new();
    let mut stream_of = Vec::with_capacity(news.len());
    for new in news {
        let index = match advances
            .iter()
            .rposition(|advance| advance.app == &*new.app && advance.channel == &new.channel)
        {
            Some(index) => index,
            None => {
                advances.push(Advance {
                    app: &new.app,
                    channel: &new.channel,
                    events: 0,
                    counted: 0,
                });
                advances.len() - 1
            }
        };
        advances[index].events += 1;
        advances[index].counted += u64::from(!new.shadow);
        stream_of.push(index);
    }
    let mut taken = Turn::take_many(connection, context, &advances).await?;
    // Each message's turn and seq, in the order given.
    let mut counts: Vec<u64> = taken.iter().map(|taken| taken.count_before).collect();
    let mut turns: Vec<std::vec::IntoIter<Turn<'_>>> = taken
        .iter_mut()
        .map(|taken| std::mem::take(&mut taken.turns).into_iter())
        .collect();
    let mut inserts = Vec::with_capacity(news.len());
    let mut message_turns = Vec::with_capacity(news.len());
    for (new, &stream) in news.iter().zip(&stream_of) {
        let turn = turns[stream]
            .next()
            .ok_or_else(|| StoreError::corrupt("a stream gave fewer turns than asked"))?;
        counts[stream] += u64::from(!new.shadow);
        inserts.push(messages::Insert {
            new,
            offset: turn.offset(),
            seq: counts[stream],
        });
        message_turns.push(turn);
    }
    // The sender's read marker covers what they sent; with several
    // messages of one sender in a channel, the last one's.
    let mut markers: Vec<read_rows::MarkerRow<'_>> = Vec::new();
    for insert in inserts.iter().rev() {
        let new = insert.new;
        let known = markers.iter().any(|row| {
            row.user == new.author && row.channel == &new.channel && row.app == &*new.app
        });
        if !known {
            markers.push(read_rows::MarkerRow {
                app: &new.app,
                channel: &new.channel,
                user: &new.author,
                marker: read_rows::Marker {
                    seen: insert.seq,
                    last_read_offset: insert.offset,
                },
            });
        }
    }
    markers.reverse();
    read_rows::set_markers(connection, &markers, context.now).await?;
    for (index, advance) in advances.iter().enumerate() {
        let moves_room = news
            .iter()
            .zip(&stream_of)
            .any(|(new, &stream)| stream == index && new.room && !new.shadow);
        if moves_room {
            // `sql::rooms` does not count its statements; see `reads`.
            sql::counted();
            rooms::touch(connection, advance.app, advance.channel, context.now).await?;
        }
    }
    let messages = messages::insert_many(connection, &inserts, context.now).await?;
    let mentions: Vec<read_rows::MentionRow<'_>> = inserts
        .iter()
        .zip(&messages)
        .filter(|(insert, _)| !insert.new.shadow)
        .flat_map(|(insert, message)| {
            insert
                .new
                .mentions
                .iter()
                .map(move |user| read_rows::MentionRow {
                    app: &insert.new.app,
                    channel: &insert.new.channel,
                    user,
                    message: message.id,
                    seq: insert.seq,
                })
        })
        .collect();
    read_rows::add_mentions_many(connection, &mentions).await?;
    let events = message_turns
        .into_iter()
        .zip(&messages)
        .map(|(turn, message)| {
            let event = MessageEvent {
                kind: Message::CREATED,
                message,
            };
            (turn, event)
        });
    let publications = event::append_many(connection, context, events).await?;
    Ok(messages
        .into_iter()
        .zip(publications)
        .map(|(message, publication)| Sent {
            message,
            publication: Some(publication),
            parent: None,
        })
        .collect())
}
