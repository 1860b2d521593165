//! The `wix-media` command's integration tests: the binary Cargo builds for them
//! (`CARGO_BIN_EXE_wix-media`), run against the emulator and the reference tus server.

mod batch;
mod commands;
mod common;
mod crash;
mod habits;
mod lost;
mod quota;
mod resume;
mod state_v1;
mod sync;
mod trust;

/// The `wix-media` binary under test.
pub fn wix_media() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_wix-media"))
}
