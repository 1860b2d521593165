//! The `wix-media` binary.

mod batch;
mod commands;
mod common;
mod resume;
