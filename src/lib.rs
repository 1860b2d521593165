//! Blocking, resumable (tus 1.0) uploads to the Wix Media Manager.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod secret;
pub mod wix;

pub use secret::Secret;
