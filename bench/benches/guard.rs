//! Latency of the scope guard on one message, per tier: the business setting of guard-eval
//! (CLINC150's banking domain, 15 intents with 5 examples each, guichet's general requests).
//!
//! One core, as a busy server gives a message:
//!
//! ```sh
//! RAYON_NUM_THREADS=1 taskset -c 0 cargo bench -p guichet-bench --bench guard
//! ```
//!
//! The embedding tier needs the model files (see crates/embed): it fails, saying how to install
//! them, when they are missing.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark: a missing input should stop it loudly"
)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use domain::guard::{EmbeddingGuard, FastGuard, GENERAL_REQUESTS, Intent, Scoring, requests_of};
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/clinc150");
const MESSAGE: &str = "i think someone used my card, can you freeze my account please";

fn banking() -> Vec<Intent> {
    let data: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{DATA}/clinc150_train_val.json")).unwrap(),
    )
    .unwrap();
    let domains: BTreeMap<String, Vec<String>> =
        serde_json::from_str(&std::fs::read_to_string(format!("{DATA}/domains.json")).unwrap())
            .unwrap();
    let train = data["train"].as_array().unwrap();
    domains["banking"]
        .iter()
        .map(|name| Intent {
            name: name.clone(),
            examples: train
                .iter()
                .filter(|r| r[1].as_str() == Some(name))
                .take(5)
                .filter_map(|r| r[0].as_str().map(str::to_owned))
                .collect(),
        })
        .collect()
}

fn model_dir() -> std::path::PathBuf {
    let dir = embed::configured_dir();
    if dir.is_absolute() {
        dir
    } else {
        // cargo runs benchmarks in the package's folder; the setting is relative to the
        // workspace's.
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(dir)
    }
}

fn guard(c: &mut Criterion) {
    let intents = banking();
    let general = requests_of(GENERAL_REQUESTS);

    let fast = FastGuard::new(&intents, &general);
    c.bench_function("fast tier: one message", |b| {
        b.iter(|| fast.classify(black_box(MESSAGE)));
    });

    let model = match embed::MiniLm::load(&model_dir()) {
        Ok(model) => model,
        Err(e) => panic!("{e}"),
    };
    let embedding = EmbeddingGuard::new(&model, &intents, &general, Scoring::default()).unwrap();
    c.bench_function("embedding tier: one message", |b| {
        b.iter(|| embedding.classify(&model, black_box(MESSAGE)).unwrap());
    });
    let vector = model.embed(&[MESSAGE]).unwrap().remove(0);
    c.bench_function("embedding tier: decision from the vector", |b| {
        b.iter(|| embedding.classify_vector(black_box(&vector)));
    });
}

criterion_group!(benches, guard);
criterion_main!(benches);
