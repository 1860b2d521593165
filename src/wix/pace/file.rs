//! Sharing the pace across processes.
