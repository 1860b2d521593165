//! The Wix client and the Wix routes.

mod client;
mod finalize;
mod lost;
mod requests;
