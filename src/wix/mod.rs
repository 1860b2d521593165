//! Wix REST types and calls.
