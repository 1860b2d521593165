//! The fuzz target's kept inputs (fuzz/regressions/: each once made it fail) replayed through
//! its body ([`responses::run`], the file the target includes), without libFuzzer.

use std::path::Path;

mod responses;

#[test]
fn the_fuzz_regression_inputs_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs in {}", dir.display());
    for input in &inputs {
        let data = std::fs::read(input).unwrap();
        let name = input.display().to_string();
        std::panic::catch_unwind(|| responses::run(&data))
            .unwrap_or_else(|_| panic!("{name} fails again (its panic is above)"));
    }
}
