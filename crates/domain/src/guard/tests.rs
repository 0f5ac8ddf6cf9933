use proptest::prelude::*;

use super::*;

fn shop() -> Vec<Intent> {
    let intent = |name: &str, examples: &[&str]| Intent {
        name: name.into(),
        examples: examples.iter().map(|e| (*e).to_owned()).collect(),
    };
    vec![
        intent(
            "order_status",
            &[
                "where is my order",
                "has my package shipped",
                "when will my order arrive",
                "track my parcel",
                "où est ma commande",
            ],
        ),
        intent(
            "return_item",
            &[
                "i want to return an item",
                "how do i send this back",
                "can i get a refund",
                "the shoes don't fit, return them",
                "je veux retourner un article",
            ],
        ),
        intent(
            "human",
            &[
                "talk to a person",
                "i want a human agent",
                "can someone call me",
                "parler à un conseiller",
                "speak to customer service",
            ],
        ),
    ]
}

fn guard() -> FastGuard {
    FastGuard::new(&shop(), &requests_of(GENERAL_REQUESTS))
}

#[test]
fn the_shipped_general_requests_read() {
    let requests = requests_of(GENERAL_REQUESTS);
    assert!(requests.len() >= 80, "{}", requests.len());
    assert!(requests.iter().all(|r| !r.starts_with('#')));
}

#[test]
fn a_request_like_an_example_is_that_intent() {
    let g = guard();
    assert_eq!(
        g.classify("where is my order?").intent(),
        Some("order_status")
    );
    assert_eq!(
        g.classify("Où est ma commande ?").intent(),
        Some("order_status")
    );
    assert_eq!(
        g.classify("I'd like a refund for these shoes").intent(),
        Some("return_item")
    );
    assert_eq!(g.classify("let me talk to a human").intent(), Some("human"));
}

#[test]
fn general_assistant_requests_are_out_of_scope() {
    let g = guard();
    for text in [
        "write me a poem about autumn",
        "tell me a joke please",
        "what is the capital of peru",
        "écris-moi un poème",
    ] {
        let d = g.classify(text);
        assert!(
            matches!(
                d,
                Decision::OutOfScope {
                    general_request: true,
                    ..
                }
            ),
            "{text}: {d:?}"
        );
    }
}

#[test]
fn unrelated_text_is_out_of_scope_without_a_general_request() {
    let d = guard().classify("zzz qqq");
    assert!(matches!(d, Decision::OutOfScope { .. }), "{d:?}");
}

#[test]
fn calibration_reaches_the_target_recall_on_its_set() {
    let oos = [
        "what's the score of the game",
        "how tall is the eiffel tower",
        "recommend a book",
        "order a pizza for me",
        "where is the nearest pharmacy",
        "is it going to rain",
    ];
    let g = guard().calibrate(&oos, 1.0);
    let kept_out = oos
        .iter()
        .filter(|t| g.classify(t).intent().is_none())
        .count();
    assert_eq!(kept_out, oos.len(), "threshold {}", g.threshold());
    // The business's own phrasing still passes.
    assert_eq!(
        g.classify("where is my order").intent(),
        Some("order_status")
    );
}

#[test]
fn a_higher_threshold_never_lets_more_in() {
    let low = guard().with_threshold(0.1);
    let high = guard().with_threshold(0.6);
    for text in ["where's my parcel", "poem please", "refund", "hello there"] {
        if high.classify(text).intent().is_some() {
            assert!(low.classify(text).intent().is_some(), "{text}");
        }
    }
}

#[test]
fn a_name_reads_as_words_when_it_has_letters() {
    assert_eq!(
        name_as_example("order_status").as_deref(),
        Some("order status")
    );
    assert_eq!(
        name_as_example(" late-delivery  claim ").as_deref(),
        Some("late delivery claim")
    );
    assert_eq!(name_as_example("faq_2").as_deref(), Some("faq 2"));
    assert_eq!(name_as_example("42"), None);
    assert_eq!(name_as_example("__"), None);
}

#[test]
fn the_fast_tier_reads_an_intents_name_as_an_example() {
    let intents = |name: &str| {
        vec![
            Intent {
                name: name.into(),
                examples: vec!["how many stars do i have".into()],
            },
            Intent {
                name: "order_status".into(),
                examples: vec!["where is my order".into()],
            },
        ]
    };
    let general = requests_of(GENERAL_REQUESTS);
    let named = FastGuard::new(&intents("loyalty_points"), &general).with_threshold(0.2);
    assert_eq!(
        named.classify("my loyalty points").intent(),
        Some("loyalty_points")
    );
    let unnamed = FastGuard::new(&intents("7"), &general).with_threshold(0.2);
    assert_eq!(unnamed.classify("my loyalty points").intent(), None);
}

#[test]
fn calibrating_on_the_general_requests_holds_each_out_of_its_own_guard() {
    let general = requests_of(GENERAL_REQUESTS);
    // Each generic request is its own nearest in the guard that holds it: calibrated there,
    // the threshold falls to nothing, even to keep them all out. (Most of them also have a
    // sibling among the others, which keeps them out held out too: hence all of them here.)
    let in_sample = guard().calibrate(&general, 1.0);
    let held_out = guard().calibrate_general(1.0);
    assert!(
        held_out.threshold() > in_sample.threshold(),
        "{} <= {}",
        held_out.threshold(),
        in_sample.threshold()
    );
    assert_eq!(
        held_out.classify("where is my order").intent(),
        Some("order_status")
    );
    // A lower recall never raises the threshold.
    assert!(guard().calibrate_general(0.9).threshold() <= held_out.threshold());
}

proptest! {
    #[test]
    fn classifying_never_panics_and_scores_are_similarities(text in ".{0,200}") {
        match guard().classify(&text) {
            Decision::InScope { score, .. } => prop_assert!((0.0..=1.0001).contains(&score)),
            Decision::OutOfScope { score, .. } => prop_assert!((0.0..=1.0001).contains(&score)),
        }
    }

    #[test]
    fn an_example_is_always_its_own_intent(i in 0usize..3, j in 0usize..5) {
        let intents = shop();
        let example = &intents[i].examples[j];
        let decision = guard().classify(example);
        prop_assert_eq!(decision.intent(), Some(intents[i].name.as_str()));
    }
}
