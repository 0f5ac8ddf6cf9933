//! Replays the domain fuzz targets' corpora on every test run. Fuzzing itself: see
//! `fuzz/README.md`.

#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::replay;

#[test]
fn rate_card_corpus() {
    replay("rate_card", domain::fuzz::rate_card);
}

#[test]
fn keywords_corpus() {
    replay("keywords", domain::fuzz::keywords);
}
