//! Replays the domain fuzz targets' corpora (`fuzz/corpus/<target>/`) and committed crashers
//! (`fuzz/regressions/<target>/`) on every test run. Fuzzing itself: see `fuzz/README.md`.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
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

fn replay(target: &str, check: fn(&[u8])) {
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

#[test]
fn rate_card_corpus() {
    replay("rate_card", domain::fuzz::rate_card);
}

#[test]
fn keywords_corpus() {
    replay("keywords", domain::fuzz::keywords);
}
