//! The Wix client and the Wix routes.

#[cfg(feature = "emulator")]
mod client;
mod finalize;
mod requests;
