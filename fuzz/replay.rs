//! Replays a fuzz target's corpus (`fuzz/corpus/<target>/`) and committed crashers
//! (`fuzz/regressions/<target>/`): shared by the `fuzz_corpus` tests of the crates that hold
//! fuzzed properties (`#[path]`-included, so that it runs on every test run without cargo-fuzz).

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    // Every including crate lives at crates/<name>.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
    }
    files.sort();
    files
}

/// Runs `check` on every input of `target`; fails on the first that breaks a property.
pub fn replay(target: &str, check: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no corpus for {target}");
    for file in files {
        let data = std::fs::read(&file).expect("read corpus file");
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(
            result.is_ok(),
            "{target}: {} breaks a property",
            file.display()
        );
    }
}
