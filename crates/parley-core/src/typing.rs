//! Typing indicators: who is typing in a channel, expiring on the server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::ChannelName;

/// How often one user's typing event is accepted per channel; the rest in
/// between are throttled (Stream throttles keystrokes to one per 2 s).
pub const TYPING_THROTTLE: Duration = Duration::from_secs(2);

/// A user typing in a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typer {
    /// The user id.
    pub user: Arc<str>,
    /// Their display name, from their token.
    pub name: Option<String>,
}

/// What a typing event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypingChange {
    /// The list of typers changed; here is the full new list.
    Changed(Vec<Typer>),
    /// The typer's timeout was renewed; the list is the same.
    Renewed,
    /// The event came within [`TYPING_THROTTLE`] of the last accepted one
    /// and was ignored.
    Throttled,
}

/// Typers of a channel who stopped without saying so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypersExpired {
    /// The channel.
    pub channel: ChannelName,
    /// Who types there still.
    pub typers: Vec<Typer>,
    /// Who dropped out.
    pub gone: Vec<Typer>,
}

/// The typers of every channel of one app.
#[derive(Debug, Default)]
pub struct TypingBook {
    channels: Mutex<HashMap<ChannelName, Vec<TypingEntry>>>,
}

#[derive(Debug)]
struct TypingEntry {
    typer: Typer,
    accepted: Instant,
    expires: Instant,
}

impl TypingBook {
    /// Records that `typer` started (`active`) or stopped typing.
    pub fn set(
        &self,
        channel: &ChannelName,
        typer: Typer,
        active: bool,
        timeout: Duration,
    ) -> TypingChange {
        let now = Instant::now();
        let mut channels = self.channels.lock();
        let typers = channels.entry(channel.clone()).or_default();
        let position = typers
            .iter()
            .position(|entry| entry.typer.user == typer.user);
        let change = match (position, active) {
            (Some(index), true) => {
                let entry = &mut typers[index];
                if now.duration_since(entry.accepted) < TYPING_THROTTLE {
                    // Ignored, but it proves the user still types: a typer
                    // who keeps typing never drops out of the list.
                    entry.expires = now + timeout;
                    return TypingChange::Throttled;
                }
                entry.accepted = now;
                entry.expires = now + timeout;
                TypingChange::Renewed
            }
            (None, true) => {
                typers.push(TypingEntry {
                    typer,
                    accepted: now,
                    expires: now + timeout,
                });
                TypingChange::Changed(list(typers))
            }
            (Some(index), false) => {
                typers.remove(index);
                TypingChange::Changed(list(typers))
            }
            (None, false) => TypingChange::Renewed,
        };
        if typers.is_empty() {
            channels.remove(channel);
        }
        change
    }

    /// Drops typers whose timeout passed; returns each changed channel with
    /// its new list and who dropped out.
    pub fn expire(&self) -> Vec<TypersExpired> {
        let now = Instant::now();
        let mut changed = Vec::new();
        self.channels.lock().retain(|channel, typers| {
            let (kept, gone): (Vec<TypingEntry>, Vec<TypingEntry>) = std::mem::take(typers)
                .into_iter()
                .partition(|entry| entry.expires > now);
            *typers = kept;
            if !gone.is_empty() {
                changed.push(TypersExpired {
                    channel: channel.clone(),
                    typers: list(typers),
                    gone: list(&gone),
                });
            }
            !typers.is_empty()
        });
        changed
    }
}

fn list(entries: &[TypingEntry]) -> Vec<Typer> {
    entries.iter().map(|entry| entry.typer.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typer(user: &str) -> Typer {
        Typer {
            user: user.into(),
            name: None,
        }
    }

    #[test]
    fn start_throttle_stop_and_expire() {
        let book = TypingBook::default();
        let room = ChannelName::new("room").unwrap();
        let long = Duration::from_secs(60);
        assert_eq!(
            book.set(&room, typer("a"), true, long),
            TypingChange::Changed(vec![typer("a")])
        );
        assert_eq!(
            book.set(&room, typer("a"), true, long),
            TypingChange::Throttled
        );
        assert_eq!(
            book.set(&room, typer("b"), true, Duration::ZERO),
            TypingChange::Changed(vec![typer("a"), typer("b")])
        );
        assert_eq!(
            book.expire(),
            vec![TypersExpired {
                channel: room.clone(),
                typers: vec![typer("a")],
                gone: vec![typer("b")],
            }]
        );
        assert_eq!(
            book.set(&room, typer("a"), false, long),
            TypingChange::Changed(vec![])
        );
        assert!(book.expire().is_empty());
    }
}
