//! The integration tests, one binary with a module per subject (`cargo test --test it`;
//! `cargo test --test it -- hostile::` runs one subject). Shared helpers are in tests/support/
//! (also used by tests/secrets_in_logs.rs and examples/bench.rs).
//!
//! Tests that need the emulator or the CLI are compiled only with the `emulator` or `cli`
//! feature (`cargo test --all-features` runs everything). The one test file outside this
//! binary is `tests/secrets_in_logs.rs`: it installs a process-wide logger at trace level and
//! checks every line logged in its process.

#[path = "../support/mod.rs"]
mod support;

mod body_caps;
mod harness;
mod hostile;
mod interop;
mod protocol;
mod regressions;
mod resume;
mod retry;
mod state_files;
mod wix;
mod writers;

#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "cli")]
mod crash;
#[cfg(feature = "emulator")]
mod emulator;
#[cfg(feature = "emulator")]
mod extensions;
#[cfg(feature = "emulator")]
mod faults;
#[cfg(feature = "emulator")]
mod security;
