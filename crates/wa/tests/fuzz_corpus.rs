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
