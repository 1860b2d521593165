//! Blocking, resumable (tus 1.0) uploads to the Wix Media Manager.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod wix;

#[cfg(feature = "emulator")]
pub mod emulator;
