//! The Wix client and the Wix routes.

mod bulk;
mod client;
mod finalize;
mod lost;
mod read;
mod read_requests;
mod requests;
