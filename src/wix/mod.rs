//! Wix REST types and calls.

pub mod error_body;
pub mod types;
