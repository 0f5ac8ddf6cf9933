//! Replays the fuzz targets' corpora on every test run, so a property once found broken stays
//! fixed even where no fuzzer runs. Fuzzing itself: see `fuzz/README.md`.

#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::replay;

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

#[test]
fn send_request_corpus() {
    replay("send_request", wa::fuzz::send_request);
}

/// The hand-written seeds mean what their names say: `seed-*` bodies are accepted, `bad-*` ones
/// refused (files a fuzzer adds have other names and are not checked here).
#[test]
fn send_request_seeds_are_what_they_say() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/send_request");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let body = std::fs::read(entry.path()).expect("read seed");
        let parsed = wa::send::parse_send_request(&body);
        if name.starts_with("seed-") {
            assert!(parsed.is_ok(), "{name}: {:?}", parsed.err());
            seen += 1;
        } else if name.starts_with("bad-") {
            assert!(parsed.is_err(), "{name} was accepted");
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} seeds");
}
