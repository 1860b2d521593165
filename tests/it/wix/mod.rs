//! The Wix client and the Wix routes.

mod client;
mod finalize;
mod read_requests;
mod requests;
