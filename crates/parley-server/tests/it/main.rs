//! The server's integration tests, one binary: a module per feature, each
//! starting its own servers on 127.0.0.1:0 and speaking to them over the
//! real wire (`common` holds the servers, clients and helpers they share).
//!
//! The tests run as threads of one process, so none of them may set
//! process-wide state another could see: no environment variables, no
//! current directory, no resource limits, no global subscriber. What the
//! process does share is safe to share: every server has its own store,
//! Redis prefix and port; the metrics recorder and the log writer are
//! process-wide by design, and the tests only read names from the first
//! and never from the second in process (the log tests run `parley serve`
//! as a child). A test that needs its process to itself is a binary of its
//! own beside this one, saying why: `join_storm.rs` (it raises the
//! open-file limit and holds 4,000 sockets), `js/` (Node.js and Chromium
//! suites, one at a time), `fuzz/` (bolero targets).

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod chat;
mod chat_authors;
mod chat_moderation;
mod chat_moderation_reactions;
mod chat_reactions;
mod chat_reads;
mod chat_room_moderation;
mod chat_rooms;
mod chat_search;
mod chat_threads;
mod chat_visibility;
mod cluster;
mod cluster_control;
mod cluster_limits;
mod cluster_occupancy;
mod cluster_ops;
mod cluster_persisted;
mod cluster_presence;
mod cluster_pusher;
mod config_check;
mod dev_mode;
mod documents;
mod durability;
mod heartbeat_limits;
mod http_api;
mod http_chat;
mod http_chat_threads;
mod lifecycle;
mod limits;
mod live_counts;
mod openapi;
mod presence;
mod pubsub;
mod pusher;
mod pusher_channels;
mod pusher_codes;
mod pusher_http_api;
mod pusher_users;
mod pusher_webhooks;
mod uploads;
mod web;
