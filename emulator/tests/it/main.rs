//! The emulator's integration tests, one binary with a module per subject. They speak HTTP to
//! it by hand (`wix_media_testkit::emulator::Api`), never through the SDK: the emulator is
//! written from Wix's documentation, so a misunderstanding in the client is not shared here.

mod body_limit;
mod bulk;
mod files;
mod folders;
mod listing;
mod rate;
mod restart;
mod routes;
mod support;
mod tus;
