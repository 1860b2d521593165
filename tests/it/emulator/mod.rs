//! The emulator: the local, offline stand-in for the Wix upload endpoints.

mod body_limit;
mod restart;
mod routes;
mod tus;
