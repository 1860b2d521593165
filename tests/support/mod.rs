//! Shared helpers of the integration tests, by concern. Used by the `it` test binary
//! (tests/it/main.rs), by tests/secrets_in_logs.rs and by examples/bench.rs (all with
//! `#[path]`), so nothing here may name the test binary's own modules, and what needs a
//! feature is behind it.
//!
//! - [`files`]: temp files and dirs, deterministic data, digests.
//! - [`tus_server`], [`py_server`]: the two reference tus servers (Node.js and Python) as child
//!   processes; [`server_process`] is what they share, [`install`] installs their packages.
//! - [`proxy`]: relays that inject faults, cap request bodies or hold the client's bytes.
//! - [`raw_server`]: a scripted HTTP server on a raw socket (hostile answers, tiny sources);
//!   [`listen`]: what it and the relays do alike around their accept loops.
//! - [`http`]: requests the tests make themselves (an agent that returns every status, whole
//!   responses, raw exchanges).
//! - [`mock`]: tus answers for `mockito` servers; [`clock`]: a clock that records waits.
//! - [`fixtures`]: Wix answers from the docs; [`state`]: state dirs and records.
//! - [`emulator`] (feature `emulator`): an emulator with the calls its tests make.
//! - [`upload`]: uploads as the tests make them (to the end, or stopped at a point).
//! - [`logs`]: the binary's log capture; [`child`]: child processes; [`bins`]: the built
//!   binaries.
//!
//! The Node and Python servers are required: when they cannot be run the tests PANIC instead
//! of being skipped, so that a CI run without them fails loudly.
#![allow(dead_code)]

pub mod bins;
pub mod child;
pub mod clock;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod files;
pub mod fixtures;
pub mod http;
pub mod install;
pub mod listen;
pub mod logs;
pub mod mock;
pub mod proxy;
pub mod py_server;
pub mod raw_server;
pub mod server_process;
pub mod state;
pub mod tus_server;
pub mod upload;

#[allow(unused_imports)]
pub use child::test_path;
#[allow(unused_imports)]
pub use files::{
    Fnv64, TempDir, TempFile, XorShift, big_temp_file_with, digest, file_digest,
    pseudo_random_bytes, temp_file_with, write_tree,
};
#[allow(unused_imports)]
pub use server_process::upload_id;
#[allow(unused_imports)]
pub use state::unfinished_records;
#[allow(unused_imports)]
pub use tus_server::{TusServer, TusServerOptions};
