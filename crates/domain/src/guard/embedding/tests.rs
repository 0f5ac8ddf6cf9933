use super::*;
use crate::guard::{GENERAL_REQUESTS, requests_of};

/// A stand-in for a sentence model: each word that names a topic pulls the vector towards that
/// topic's axis; other words towards a shared "filler" axis. Enough geometry to drive the guard.
#[derive(Debug)]
struct Topics;

const AXES: [&[&str]; 6] = [
    &[
        "order", "package", "parcel", "shipped", "track", "delivery", "commande",
    ],
    &["refund", "return", "back", "retourner", "money"],
    &["human", "person", "agent", "someone", "conseiller"],
    &[
        "poem",
        "joke",
        "story",
        "song",
        "capital",
        "homework",
        "translate",
        "code",
    ],
    &["pizza", "weather", "rain", "book", "pharmacy"],
    &[],
];

impl Embed for Topics {
    type Error = String;

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        texts
            .iter()
            .map(|t| {
                if t.contains("FAIL") {
                    return Err(format!("cannot embed {t}"));
                }
                let mut v = vec![0.0_f32; AXES.len()];
                for word in t.to_lowercase().split(|c: char| !c.is_alphanumeric()) {
                    if word.is_empty() {
                        continue;
                    }
                    let axis = AXES.iter().position(|a| a.contains(&word));
                    v[axis.unwrap_or(AXES.len() - 1)] += if axis.is_some() { 1.0 } else { 0.2 };
                }
                Ok(v)
            })
            .collect()
    }
}

fn intent(name: &str, examples: &[&str]) -> Intent {
    Intent {
        name: name.into(),
        examples: examples.iter().map(|e| (*e).to_owned()).collect(),
    }
}

fn shop() -> Vec<Intent> {
    vec![
        intent("order_status", &["where is my order", "track my parcel"]),
        intent(
            "return_item",
            &["i want a refund", "how do i send this back"],
        ),
        intent("human", &["talk to a person", "parler à un conseiller"]),
    ]
}

fn guard(scoring: Scoring) -> EmbeddingGuard {
    EmbeddingGuard::new(&Topics, &shop(), &requests_of(GENERAL_REQUESTS), scoring)
        .expect("the fake embeds")
}

const SCORINGS: [Scoring; 3] = [Scoring::Nearest, Scoring::Centroid, Scoring::Classifier];

#[test]
fn the_classifier_is_the_default() {
    assert_eq!(Scoring::default(), Scoring::Classifier);
}

#[test]
fn a_message_goes_to_the_intent_of_its_nearest_example() {
    for scoring in SCORINGS {
        let g = guard(scoring);
        let d = g
            .classify(&Topics, "has my package shipped?")
            .expect("embeds");
        assert_eq!(d.intent(), Some("order_status"), "{scoring:?}: {d:?}");
        let d = g.classify(&Topics, "I want my money back").expect("embeds");
        assert_eq!(d.intent(), Some("return_item"), "{scoring:?}: {d:?}");
        let d = g.classify(&Topics, "an agent please").expect("embeds");
        assert_eq!(d.intent(), Some("human"), "{scoring:?}: {d:?}");
    }
}

#[test]
fn a_request_nearer_a_generic_one_is_out_of_scope_and_says_so() {
    let d = guard(Scoring::Nearest)
        .classify(&Topics, "write me a poem")
        .expect("embeds");
    assert!(
        matches!(
            d,
            Decision::OutOfScope {
                general_request: true,
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn below_the_threshold_is_out_of_scope_with_its_nearest_intent() {
    // Mostly filler, a little "order": near order_status, but not near enough.
    let g = guard(Scoring::Nearest).with_threshold(0.9);
    let d = g
        .classify(&Topics, "hello there my good friend how are things order")
        .expect("embeds");
    match d {
        Decision::OutOfScope { nearest, score, .. } => {
            assert_eq!(nearest.as_deref(), Some("order_status"));
            assert!(score < 0.9, "{score}");
        }
        Decision::InScope { .. } => panic!("{d:?}"),
    }
}

#[test]
fn classifying_text_is_classifying_its_vector() {
    let g = guard(Scoring::Nearest);
    for text in ["where is my parcel", "tell me a joke", "nothing at all"] {
        let v = Topics.embed(&[text]).expect("embeds").remove(0);
        assert_eq!(
            g.classify(&Topics, text).expect("embeds"),
            g.classify_vector(&v)
        );
    }
}

#[test]
fn vectors_need_not_be_unit_length() {
    let g = guard(Scoring::Nearest);
    let v = Topics.embed(&["track my order"]).expect("embeds").remove(0);
    let long: Vec<f32> = v.iter().map(|x| x * 40.0).collect();
    match (g.classify_vector(&v), g.classify_vector(&long)) {
        (
            Decision::InScope { intent, score },
            Decision::InScope {
                intent: same,
                score: close,
            },
        ) => {
            assert_eq!(intent, same);
            assert!((score - close).abs() < 1e-5, "{score} {close}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn calibration_reaches_the_target_recall_on_its_set() {
    let oos = [
        "is it going to rain",
        "recommend a book",
        "order a pizza for me",
        "where is the nearest pharmacy",
    ];
    let g = guard(Scoring::Nearest)
        .calibrate_texts(&Topics, &oos, 1.0)
        .expect("embeds");
    for text in oos {
        let d = g.classify(&Topics, text).expect("embeds");
        assert_eq!(d.intent(), None, "{text}: {d:?} at {}", g.threshold());
    }
    let d = g.classify(&Topics, "where is my order").expect("embeds");
    assert_eq!(d.intent(), Some("order_status"), "{d:?}");
}

#[test]
fn calibration_is_the_fast_tiers_rule() {
    // Same rule, same numbers: half of four scores kept out puts the threshold just above the
    // second lowest.
    let g = EmbeddingGuard::from_vectors(
        vec![("a".into(), vec![vec![1.0, 0.0]])],
        Vec::new(),
        Scoring::Nearest,
    );
    let oos: Vec<Vec<f32>> = [0.1_f32, 0.4, 0.7, 0.9]
        .iter()
        .map(|c| vec![*c, (1.0 - c * c).sqrt()])
        .collect();
    let g = g.calibrate(&oos, 0.5);
    assert!(
        g.threshold() > 0.4 && g.threshold() < 0.4001,
        "{}",
        g.threshold()
    );
    assert_eq!(g.classify_vector(&oos[1]).intent(), None);
    assert_eq!(g.classify_vector(&oos[2]).intent(), Some("a"));
}

#[test]
fn centroid_scoring_keeps_one_target_per_intent() {
    let g = guard(Scoring::Centroid);
    assert_eq!(g.scoring(), Scoring::Centroid);
    assert_eq!(g.targets.len(), shop().len());
    // Two examples and the name, for each of the three intents.
    assert_eq!(guard(Scoring::Nearest).targets.len(), 9);
}

#[test]
fn an_intents_name_is_one_of_its_examples() {
    // No example says "refund"; the name does.
    let named = |name: &str| {
        EmbeddingGuard::new(
            &Topics,
            &[
                intent(name, &["i changed my mind about it"]),
                intent("order_status", &["where is my order"]),
            ],
            &[],
            Scoring::Centroid,
        )
        .expect("embeds")
        .with_threshold(0.3)
    };
    let d = named("refund_request")
        .classify(&Topics, "a refund")
        .expect("embeds");
    assert_eq!(d.intent(), Some("refund_request"), "{d:?}");
    // A name without letters says nothing: the message stays out.
    let d = named("17").classify(&Topics, "a refund").expect("embeds");
    assert_eq!(d.intent(), None, "{d:?}");
}

/// Two intents in a plane (and a third axis for the generic requests): `a` is mostly along x,
/// with one example leaning towards `b`, which is along y.
fn leaning() -> EmbeddingGuard {
    EmbeddingGuard::from_vectors(
        vec![
            (
                "a".into(),
                vec![
                    vec![1.0, 0.0, 0.0],
                    vec![1.0, 0.0, 0.0],
                    vec![0.6, 0.8, 0.0],
                ],
            ),
            ("b".into(), vec![vec![0.0, 1.0, 0.0], vec![0.2, 1.0, 0.0]]),
        ],
        vec![vec![0.0, 0.0, 1.0], vec![0.1, 0.0, 1.0]],
        Scoring::Classifier,
    )
    .with_threshold(0.1)
}

#[test]
fn the_classifier_learns_what_the_centroids_miss() {
    // `a`'s third example is nearer `b`'s centroid than `a`'s: the centroids send it to `b`,
    // the classifier, trained on it, to `a`.
    let example = [0.6, 0.8, 0.0];
    let g = leaning();
    let centroids = EmbeddingGuard {
        classifier: None,
        general: Vec::new(),
        ..g.clone()
    };
    assert_eq!(centroids.classify_vector(&example).intent(), Some("b"));
    assert_eq!(g.classify_vector(&example).intent(), Some("a"));
    // The score is the similarity to the chosen intent's centroid.
    match g.classify_vector(&example) {
        Decision::InScope { score, .. } => {
            let c = unit(vec![2.6, 0.8, 0.0]);
            assert!((score - dot(&c, &example)).abs() < 1e-5, "{score}");
        }
        d @ Decision::OutOfScope { .. } => panic!("{d:?}"),
    }
}

#[test]
fn the_classifiers_general_class_is_out_of_scope_at_any_threshold() {
    let g = leaning().with_threshold(-1.0);
    match g.classify_vector(&[0.05, 0.05, 1.0]) {
        Decision::OutOfScope {
            general_request,
            nearest,
            ..
        } => {
            assert!(general_request);
            assert!(nearest.is_some());
        }
        d @ Decision::InScope { .. } => panic!("{d:?}"),
    }
    // Without generic requests there is no such class.
    let alone = EmbeddingGuard::from_vectors(
        vec![("a".into(), vec![vec![1.0, 0.0]])],
        Vec::new(),
        Scoring::Classifier,
    )
    .with_threshold(-1.0);
    assert_eq!(alone.classify_vector(&[0.0, 1.0]).intent(), Some("a"));
}

#[test]
fn the_classifier_keeps_general_requests_out() {
    let g = guard(Scoring::Classifier);
    for text in ["write me a poem", "tell me a joke", "help with my homework"] {
        let d = g.classify(&Topics, text).expect("embeds");
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
fn the_same_examples_give_the_same_guard() {
    let (a, b) = (guard(Scoring::Classifier), guard(Scoring::Classifier));
    for text in [
        "where's my parcel",
        "poem please",
        "refund",
        "hello there order",
    ] {
        let v = Topics.embed(&[text]).expect("embeds").remove(0);
        assert_eq!(a.classify_vector(&v), b.classify_vector(&v), "{text}");
    }
}

#[test]
fn calibrating_on_the_general_requests_holds_each_out_of_its_own_guard() {
    let general = requests_of(GENERAL_REQUESTS);
    for scoring in SCORINGS {
        // Judged by the guard that holds them, every generic request is its own nearest (or in
        // its own class): the threshold would fall to nothing.
        let vectors = Topics.embed(&general).expect("embeds");
        let in_sample = guard(scoring).calibrate(&vectors, 0.95);
        let held_out = guard(scoring).calibrate_general(0.95);
        assert!(
            held_out.threshold() >= in_sample.threshold(),
            "{scoring:?}: {} < {}",
            held_out.threshold(),
            in_sample.threshold()
        );
        assert!(held_out.threshold() > 0.0, "{scoring:?}");
        // The business's own phrasing still passes.
        let d = held_out
            .classify(&Topics, "where is my order")
            .expect("embeds");
        assert_eq!(d.intent(), Some("order_status"), "{scoring:?}: {d:?}");
    }
}

#[test]
fn an_embedder_error_is_the_callers() {
    let err = EmbeddingGuard::new(
        &Topics,
        &[intent("broken", &["FAIL here"])],
        &[],
        Scoring::Nearest,
    )
    .expect_err("the fake fails");
    assert!(err.contains("FAIL"), "{err}");
    let g = guard(Scoring::Nearest);
    assert!(g.classify(&Topics, "FAIL").is_err());
}

#[test]
fn a_higher_threshold_never_lets_more_in() {
    let low = guard(Scoring::Nearest).with_threshold(0.1);
    let high = guard(Scoring::Nearest).with_threshold(0.8);
    for text in [
        "where's my parcel",
        "poem please",
        "refund",
        "hello there order",
    ] {
        if high
            .classify(&Topics, text)
            .expect("embeds")
            .intent()
            .is_some()
        {
            assert!(
                low.classify(&Topics, text)
                    .expect("embeds")
                    .intent()
                    .is_some(),
                "{text}"
            );
        }
    }
}
