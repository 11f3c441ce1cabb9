//! The store's integration tests, one binary: a module per part of the
//! store, each run on SQLite and on PostgreSQL (`store_tests!`).
//!
//! They share a process: every test opens its own database (a SQLite file
//! in its own folder, a PostgreSQL database of its own) and sets no
//! process-wide state, so the test threads cannot disturb one another.
//! `durability` runs this same binary again as the child it kills; it
//! names its test by its full path for that.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod batched_sends;
mod connect_profile;
mod documents;
mod durability;
mod messages;
mod moderation;
mod rooms;
mod streams;
mod webhooks;
