//! The integration tests, one binary with a module per subject (`cargo test --test it`;
//! `cargo test --test it -- hostile::` runs one subject). Its helpers are in tests/support/ and
//! in the workspace's testkit/.
//!
//! The emulator's and the command's tests live in their crates (emulator/tests,
//! cli/tests). The one test file outside this binary is `tests/secrets_in_logs.rs`: it
//! installs a process-wide logger at trace level and checks every line logged in its process.

#[path = "../support/mod.rs"]
mod support;

mod body_caps;
mod extensions;
mod faults;
mod fuzz;
mod harness;
mod hostile;
mod interop;
mod mixed;
mod pacing;
mod protocol;
mod regressions;
mod resume;
mod retry;
mod security;
mod state_files;
mod state_format;
mod wix;
mod writers;
