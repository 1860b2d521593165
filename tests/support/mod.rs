//! The SDK's own test helpers (those that name its types); the rest are in the workspace's
//! `wix_media_testkit`, re-exported here so that tests write `support::...` for both. Used by
//! the `it` test binary alone (tests/it/main.rs); tests/secrets_in_logs.rs and examples/bench
//! use the testkit directly.
//!
//! - [`mock`]: tus answers for `mockito` servers; [`clock`]: a clock that records waits.
//! - [`fixtures`]: Wix answers from the docs; [`state`]: records and their keys.
//! - [`upload`]: uploads as the tests make them (to the end, or stopped at a point).
//! - [`wix`]: SDK credentials for an emulator.

pub mod clock;
pub mod fixtures;
pub mod mock;
pub mod state;
pub mod upload;
pub mod wix;

pub use wix::EmuExt;
pub use wix_media_testkit::*;
