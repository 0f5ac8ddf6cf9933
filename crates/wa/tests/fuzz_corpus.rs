//! Replays the fuzz targets' corpora (`fuzz/corpus/<target>/`) and committed crashers
//! (`fuzz/regressions/<target>/`) on every test run, so a property once found broken stays fixed
//! even where no fuzzer runs. Fuzzing itself: see `fuzz/README.md`.

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
fn webhook_corpus() {
    replay("webhook", wa::fuzz::webhook);
}

#[test]
fn signature_corpus() {
    replay("signature", wa::fuzz::signature);
}

#[test]
fn phone_corpus() {
    replay("phone", wa::fuzz::phone);
}
