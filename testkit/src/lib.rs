//! The workspace's shared test helpers, by concern. Used by the SDK's, the emulator's and the
//! command's integration tests and by the SDK's benchmark; it names nothing of the SDK (the
//! emulator's tests use it too, and the emulator uses nothing of the SDK).
//!
//! - [`files`]: temp files and dirs, deterministic data, digests.
//! - [`tus_server`], [`py_server`]: the two reference tus servers (Node.js and Python) as child
//!   processes; [`server_process`] is what they share, [`install`] installs their packages.
//! - [`proxy`]: relays that inject faults, cap request bodies or hold the client's bytes.
//! - [`raw_server`]: a scripted HTTP server on a raw socket (hostile answers, tiny sources).
//! - [`http`]: requests the tests make themselves (an agent that returns every status, whole
//!   responses, raw exchanges).
//! - [`emulator`]: an emulator on a temp dir, and the calls tests make to it by hand.
//! - [`state`]: what a state directory holds (records as JSON).
//! - [`logs`]: a binary's log capture; [`child`]: child processes; [`clock`]: a manual clock.
//!
//! The Node and Python servers are required: when they cannot be run the tests PANIC instead
//! of being skipped, so that a CI run without them fails loudly.

pub mod child;
pub mod clock;
pub mod emulator;
pub mod files;
pub mod http;
pub mod install;
pub mod logs;
pub mod proxy;
pub mod py_server;
pub mod raw_server;
pub mod server_process;
pub mod state;
pub mod tus_server;

pub use child::test_path;
pub use files::{
    TempDir, TempFile, XorShift, big_temp_file_with, digest, file_digest, pseudo_random_bytes,
    temp_file_with, write_tree,
};
pub use server_process::upload_id;
pub use state::unfinished_records;
pub use tus_server::{TusServer, TusServerOptions};
