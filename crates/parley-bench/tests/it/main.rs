//! The load generator's integration tests, one binary: a module per
//! former test file, each running scenarios against a Parley server
//! started in-process on 127.0.0.1:0 (`common`). Nothing here asserts
//! speed.
//!
//! The tests run as threads of one process and set no process-wide state:
//! each starts its own server, and `processes` runs the `parley-bench`
//! program as children. `the_library_inside_another_program_refuses_to_start_workers`
//! relies on this binary not being the generator, which holds for any test
//! binary.

#[path = "../common/mod.rs"]
mod common;

mod against_parley;
mod cluster;
mod processes;
mod reconnect_storm;
