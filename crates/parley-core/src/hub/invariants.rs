//! The hub's invariants, checked on demand by tests.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Hub, MAX_HELD_BACK};
use crate::{ClientHandle, ClientId, Encoder, MAX_ENCODERS};

/// Which of the hub's invariants [`Hub::check_invariants`] found broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hub invariant broken: {0}")]
pub struct BrokenInvariant(pub String);

impl Hub {
    /// Checks what the hub maintains between its maps and counters, and
    /// says which rule is broken:
    ///
    /// - every channel and user sits in the shard its key hashes to;
    /// - no channel is left without subscribers, and no user without
    ///   connections;
    /// - a subscriber is filed under its own client id, and a named
    ///   subscriber is a connection registered under its user (anonymous
    ///   connections are counted but not indexed);
    /// - a user's connections are named connections of that user, each
    ///   once, and all connections are of one app;
    /// - subscribers whose encoders have the same id have the same encoder
    ///   (one registry handed them out), so a broadcast's frame cache,
    ///   keyed by that id, never gives one protocol another's frame;
    /// - a recovering subscriber holds at most the bound of publications,
    ///   all of its channel; a replay's end is past the stream's start;
    /// - the subscription and channel counters match the maps, and the
    ///   connection counter covers every indexed connection;
    /// - the block book counts exactly its non-empty lists.
    ///
    /// It locks each shard in turn, so it is meant for a quiet hub: tests
    /// call it after subscribe, unsubscribe and disconnect sequences.
    pub fn check_invariants(&self) -> Result<(), BrokenInvariant> {
        let broken = |rule: String| Err(BrokenInvariant(rule));
        let mut app: Option<Arc<str>> = None;
        let mut same_app = |client: &ClientHandle| match &app {
            Some(app) => *app == client.app,
            None => {
                app = Some(client.app.clone());
                true
            }
        };
        let mut registered: HashMap<ClientId, Arc<str>> = HashMap::new();
        for (index, shard) in self.users.iter().enumerate() {
            for (user, clients) in shard.lock().iter() {
                if self.shard(&**user) != index {
                    return broken(format!("user {user:?} is in the wrong shard"));
                }
                if clients.is_empty() {
                    return broken(format!("user {user:?} is indexed without connections"));
                }
                for client in clients {
                    if client.user() != &**user {
                        return broken(format!(
                            "connection {} of user {:?} is indexed under {user:?}",
                            client.id,
                            client.user()
                        ));
                    }
                    if !same_app(client) {
                        return broken(format!("connection {} is of another app", client.id));
                    }
                    if registered.insert(client.id, user.clone()).is_some() {
                        return broken(format!("connection {} is indexed twice", client.id));
                    }
                }
            }
        }
        let connections = self.connection_count();
        if registered.len() > connections {
            return broken(format!(
                "{} named connections are indexed but {connections} are counted",
                registered.len()
            ));
        }
        let (mut channel_count, mut subscriptions) = (0, 0);
        let mut encoders: [Option<Encoder>; MAX_ENCODERS] = Default::default();
        for (index, shard) in self.channels.iter().enumerate() {
            for (channel, subscribers) in shard.read().iter() {
                if self.shard(channel.as_str()) != index {
                    return broken(format!("channel {channel} is in the wrong shard"));
                }
                if subscribers.is_empty() {
                    return broken(format!("channel {channel} is left without subscribers"));
                }
                channel_count += 1;
                subscriptions += subscribers.len();
                for (id, subscriber) in subscribers {
                    let client = &subscriber.client;
                    if client.id != *id {
                        return broken(format!(
                            "connection {} is filed as {id} in {channel}",
                            client.id
                        ));
                    }
                    if !same_app(client) {
                        return broken(format!("connection {id} in {channel} is of another app"));
                    }
                    let encoder = client.encoder();
                    let known =
                        encoders[encoder.id().index()].get_or_insert_with(|| encoder.clone());
                    if !known.is(encoder) {
                        return broken(format!(
                            "connection {id} in {channel} has another encoder with id {:?}",
                            encoder.id()
                        ));
                    }
                    if !client.is_anonymous() && !registered.contains_key(id) {
                        return broken(format!(
                            "connection {id} subscribes to {channel} but is not registered"
                        ));
                    }
                    if let Some(held) = &subscriber.recovering {
                        let held = held.lock();
                        if held.len() > MAX_HELD_BACK {
                            return broken(format!(
                                "connection {id} holds {} publications of {channel}",
                                held.len()
                            ));
                        }
                        if let Some(other) = held.iter().find(|held| held.channel != *channel) {
                            return broken(format!(
                                "connection {id} holds a publication of {} in {channel}",
                                other.channel
                            ));
                        }
                    }
                    if subscriber
                        .replayed
                        .as_ref()
                        .is_some_and(|replayed| replayed.offset == 0)
                    {
                        return broken(format!("connection {id} replayed {channel} to offset 0"));
                    }
                }
            }
        }
        if channel_count != self.channel_count() {
            return broken(format!(
                "{channel_count} channels are held but {} are counted",
                self.channel_count()
            ));
        }
        if subscriptions != self.subscription_count() {
            return broken(format!(
                "{subscriptions} subscriptions are held but {} are counted",
                self.subscription_count()
            ));
        }
        let lists = self.blocks.read();
        if lists.values().any(HashSet::is_empty) {
            return broken("an empty block list is kept".to_owned());
        }
        if self.blocks.is_active() == lists.is_empty() {
            return broken(format!(
                "the block book is {} with {} lists",
                if self.blocks.is_active() {
                    "active"
                } else {
                    "inactive"
                },
                lists.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Echo, at, client, client_of};
    use crate::{BlockList, ChannelName, EncoderRegistry, Hub, Push, StreamPosition};

    /// The hub's sequences as the node drives them: register, subscribe
    /// (one recovering), fan out, end the hold, block, unsubscribe, and
    /// disconnect (unsubscribe everything, then remove the connection).
    #[test]
    fn hold_through_subscribe_unsubscribe_and_disconnect() {
        let hub = Hub::new();
        let check = || hub.check_invariants().unwrap();
        let (a, b, anonymous) = (client(1, "a"), client(2, "b"), client(3, ""));
        let news = ChannelName::new("news").unwrap();
        let sport = ChannelName::new("sport").unwrap();
        for client in [&a, &b, &anonymous] {
            hub.add_client(client, 10).unwrap();
        }
        check();
        hub.subscribe(&a, &news, false).unwrap();
        hub.subscribe(&a, &sport, false).unwrap();
        hub.subscribe(&b, &news, true).unwrap();
        hub.subscribe(&anonymous, &sport, false).unwrap();
        check();
        hub.broadcast(&Push::Publication(&at(&news, 1, "e")));
        hub.broadcast(&Push::Publication(&at(&news, 2, "e")));
        check();
        let replayed = StreamPosition {
            offset: 1,
            epoch: "e".into(),
        };
        assert!(hub.finish_recovery(&b, &news, &replayed));
        check();
        hub.blocks().set("a".into(), BlockList::from(["b".into()]));
        check();
        hub.blocks().set("a".into(), BlockList::new());
        check();
        assert_eq!(hub.unsubscribe(a.id, &news), Some(false));
        check();
        for (client, channels) in [(&a, [&sport]), (&b, [&news]), (&anonymous, [&sport])] {
            for channel in channels {
                hub.unsubscribe(client.id, channel);
            }
            hub.remove_client(client);
            check();
        }
        assert_eq!(
            (
                hub.connection_count(),
                hub.channel_count(),
                hub.subscription_count()
            ),
            (0, 0, 0)
        );
    }

    /// A connection removed while still subscribed breaks a rule, and the
    /// check names it.
    #[test]
    fn a_broken_rule_is_named() {
        let hub = Hub::new();
        let a = client(1, "a");
        let news = ChannelName::new("news").unwrap();
        hub.add_client(&a, 10).unwrap();
        hub.subscribe(&a, &news, false).unwrap();
        hub.remove_client(&a);
        let broken = hub.check_invariants().unwrap_err();
        assert_eq!(
            broken.to_string(),
            "hub invariant broken: connection 1.1 subscribes to news but is not registered"
        );
    }

    /// Encoders from two registries can share an id; in one hub the frame
    /// cache would mix them up, and the check says so.
    #[test]
    fn one_id_one_encoder() {
        let hub = Hub::new();
        let news = ChannelName::new("news").unwrap();
        let (a, b) = (client(1, ""), client(2, ""));
        let stray = client_of(3, "", EncoderRegistry::default().register(Echo).unwrap());
        for client in [&a, &b, &stray] {
            hub.add_client(client, 10).unwrap();
            hub.subscribe(client, &news, false).unwrap();
        }
        let broken = hub.check_invariants().unwrap_err();
        assert!(broken.0.contains("has another encoder with id"), "{broken}");
    }
}
