//! Interop with the two reference tus servers through the crate's public API.

mod node;
mod python;
