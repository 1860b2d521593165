//! Feeds arbitrary server responses to the pure tus machine and the Wix parsers. The body (and
//! the invariants it checks) is tests/it/fuzz/responses.rs, which `cargo test` also runs on every
//! input kept in fuzz/regressions/.
#![no_main]

#[path = "../../tests/it/fuzz/responses.rs"]
mod responses;

libfuzzer_sys::fuzz_target!(|data: &[u8]| responses::run(data));
