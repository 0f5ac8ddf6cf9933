//! The scope guard on CLINC150 (bench/data/clinc150: train and validation splits; the test splits
//! are kept aside), for either tier (`--tier fast|embedding`):
//!
//! - (a) the full 150 intents, every training example, the threshold calibrated on `oos_train`
//!   for `--recall`, evaluated on `val` and `oos_val`;
//! - (b) the business setting, once per domain: its 15 intents with `--examples` training
//!   examples each, guichet's general requests as the generic set, the threshold calibrated for
//!   `--recall` on `oos_train` and the other nine domains' training examples, evaluated on the
//!   domain's `val` (in scope) and on `oos_val` plus the other domains' `val` (out of scope);
//!   and again with the threshold calibrated on `oos_train` alone (general requests only).
//!
//! The embedding tier embeds every distinct text once (all-MiniLM-L6-v2 from `--model-dir`) and
//! then works on the vectors. Prints one JSON object: in-scope accuracy and out-of-scope recall
//! (also apart for `oos_val`, CLINC's general requests, and for the other domains), per domain
//! and averaged, and the time per message.

#![allow(clippy::print_stdout, reason = "the benchmark's report")]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use domain::guard::{
    Decision, EmbeddingGuard, FastGuard, GENERAL_REQUESTS, Intent, Scoring, requests_of,
};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Tier {
    Fast,
    Embedding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScoringArg {
    Nearest,
    Centroid,
}

#[derive(Debug, Parser)]
struct Args {
    /// The CLINC150 folder.
    #[arg(long, default_value = "bench/data/clinc150")]
    data: String,
    /// Which tier of the guard to evaluate.
    #[arg(long, value_enum, default_value = "fast")]
    tier: Tier,
    /// How the embedding tier scores an intent from its examples; several, comma-separated,
    /// are evaluated on the same embeddings.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "centroid")]
    scoring: Vec<ScoringArg>,
    /// The embedding model's folder (the `[guard].model_dir` setting; see crates/embed).
    #[arg(long, env = embed::DIR_VAR, default_value = embed::DEFAULT_DIR)]
    model_dir: PathBuf,
    /// Training examples per intent in the business setting; several, comma-separated, are
    /// evaluated in one run.
    #[arg(long, value_delimiter = ',', default_value = "5")]
    examples: Vec<usize>,
    /// Target out-of-scope recall of the calibration.
    #[arg(long, default_value_t = 0.95)]
    recall: f32,
}

type Split = Vec<(String, String)>;

fn split(data: &Value, name: &str) -> anyhow::Result<Split> {
    let rows = data[name]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no `{name}` split"))?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((r[0].as_str()?.to_owned(), r[1].as_str()?.to_owned())))
        .collect())
}

fn intents_of(train: &Split, names: &[String], per: usize) -> Vec<Intent> {
    names
        .iter()
        .map(|n| Intent {
            name: n.clone(),
            examples: train
                .iter()
                .filter(|(_, i)| i == n)
                .take(per)
                .map(|(t, _)| t.clone())
                .collect(),
        })
        .collect()
}

/// One tier's guard, and what it needs to classify text.
enum Guard<'a> {
    Fast(FastGuard),
    Embedding(EmbeddingGuard, &'a Vectors),
}

/// Every text of the evaluation, embedded once.
struct Vectors(HashMap<String, Vec<f32>>);

impl Vectors {
    fn of(&self, text: &str) -> Vec<f32> {
        self.0.get(text).cloned().unwrap_or_default()
    }
}

impl Guard<'_> {
    fn build<'v>(
        tier: &Setup<'v>,
        intents: &[Intent],
        general: &[&str],
        calibration: &[&str],
        recall: f32,
    ) -> Guard<'v> {
        match tier {
            Setup::Fast => {
                Guard::Fast(FastGuard::new(intents, general).calibrate(calibration, recall))
            }
            Setup::Embedding(vectors, scoring) => {
                let guard = EmbeddingGuard::from_vectors(
                    intents
                        .iter()
                        .map(|i| {
                            let v = i.examples.iter().map(|e| vectors.of(e)).collect();
                            (i.name.clone(), v)
                        })
                        .collect(),
                    general.iter().map(|g| vectors.of(g)).collect(),
                    *scoring,
                );
                let oos: Vec<Vec<f32>> = calibration.iter().map(|t| vectors.of(t)).collect();
                Guard::Embedding(guard.calibrate(&oos, recall), vectors)
            }
        }
    }

    fn classify(&self, text: &str) -> Decision {
        match self {
            Self::Fast(g) => g.classify(text),
            Self::Embedding(g, vectors) => g.classify_vector(&vectors.of(text)),
        }
    }

    fn threshold(&self) -> f32 {
        match self {
            Self::Fast(g) => g.threshold(),
            Self::Embedding(g, _) => g.threshold(),
        }
    }
}

enum Setup<'v> {
    Fast,
    Embedding(&'v Vectors, Scoring),
}

#[expect(clippy::cast_precision_loss, reason = "counts")]
fn share(n: usize, of: usize) -> f64 {
    n as f64 / of.max(1) as f64
}

/// In-scope accuracy; out-of-scope recall over `oos` then `other`, over `oos` alone and over
/// `other` alone; messages classified.
fn score(
    guard: &Guard<'_>,
    in_scope: &[&(String, String)],
    oos: &[&str],
    other: &[&str],
) -> (f64, [f64; 3], usize) {
    let correct = in_scope
        .iter()
        .filter(|(t, i)| guard.classify(t).intent() == Some(i.as_str()))
        .count();
    let out = |texts: &[&str]| {
        texts
            .iter()
            .filter(|t| guard.classify(t).intent().is_none())
            .count()
    };
    let (kept_oos, kept_other) = (out(oos), out(other));
    (
        share(correct, in_scope.len()),
        [
            share(kept_oos + kept_other, oos.len() + other.len()),
            share(kept_oos, oos.len()),
            share(kept_other, other.len()),
        ],
        in_scope.len() + oos.len() + other.len(),
    )
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let data: Value = serde_json::from_str(&std::fs::read_to_string(format!(
        "{}/clinc150_train_val.json",
        args.data
    ))?)?;
    let domains: BTreeMap<String, Vec<String>> = serde_json::from_str(&std::fs::read_to_string(
        format!("{}/domains.json", args.data),
    )?)?;
    let (train, val) = (split(&data, "train")?, split(&data, "val")?);
    let (oos_train, oos_val) = (split(&data, "oos_train")?, split(&data, "oos_val")?);
    let general = requests_of(GENERAL_REQUESTS);

    let mut embedding_report = Value::Null;
    let mut vectors = Vectors(HashMap::new());
    if args.tier == Tier::Embedding {
        let model = embed::MiniLm::load(&args.model_dir)?;
        let mut texts: Vec<&str> = [&train, &val, &oos_train, &oos_val]
            .into_iter()
            .flatten()
            .map(|(t, _)| t.as_str())
            .chain(general.iter().copied())
            .collect();
        texts.sort_unstable();
        texts.dedup();
        let started = Instant::now();
        let embedded = model.embed(&texts)?;
        let seconds = started.elapsed().as_secs_f64();
        #[expect(clippy::cast_precision_loss, reason = "counts")]
        let per = seconds * 1e3 / texts.len() as f64;
        embedding_report = json!({
            "texts": texts.len(),
            "seconds": seconds,
            "ms_per_text_batched": per,
            "threads": std::thread::available_parallelism().map_or(1, usize::from),
        });
        vectors = Vectors(texts.into_iter().map(str::to_owned).zip(embedded).collect());
    }
    let setups: Vec<(&str, Setup<'_>)> = match args.tier {
        Tier::Fast => vec![("nearest", Setup::Fast)],
        Tier::Embedding => args
            .scoring
            .iter()
            .map(|s| match s {
                ScoringArg::Nearest => ("nearest", Setup::Embedding(&vectors, Scoring::Nearest)),
                ScoringArg::Centroid => ("centroid", Setup::Embedding(&vectors, Scoring::Centroid)),
            })
            .collect(),
    };
    let data = Data {
        domains: &domains,
        train: &train,
        val: &val,
        oos_train: &oos_train,
        oos_val: &oos_val,
        general: &general,
    };
    let mut runs = Vec::new();
    for (name, setup) in &setups {
        runs.push(evaluate(&data, setup, name, &args.examples, args.recall));
    }
    println!(
        "{:#}",
        json!({
            "tier": match args.tier { Tier::Fast => "fast", Tier::Embedding => "embedding" },
            "target_recall": args.recall,
            "embedding": embedding_report,
            "runs": runs,
        })
    );
    Ok(())
}

/// The splits and sets one evaluation reads.
struct Data<'a> {
    domains: &'a BTreeMap<String, Vec<String>>,
    train: &'a Split,
    val: &'a Split,
    oos_train: &'a Split,
    oos_val: &'a Split,
    general: &'a [&'a str],
}

/// (a) and (b) for one tier and scoring, (b) once per number of examples.
fn evaluate(
    data: &Data<'_>,
    setup: &Setup<'_>,
    scoring: &str,
    examples: &[usize],
    recall: f32,
) -> Value {
    let Data {
        domains,
        train,
        val,
        oos_train,
        oos_val,
        general,
    } = *data;
    // (a) Every intent, every example.
    let all: Vec<String> = domains.values().flatten().cloned().collect();
    let calibration: Vec<&str> = oos_train.iter().map(|(t, _)| t.as_str()).collect();
    let guard = Guard::build(
        setup,
        &intents_of(train, &all, usize::MAX),
        general,
        &calibration,
        recall,
    );
    let started = Instant::now();
    let in_scope: Vec<&(String, String)> = val.iter().collect();
    let oos: Vec<&str> = oos_val.iter().map(|(t, _)| t.as_str()).collect();
    let (acc_a, rec_a, n_a) = score(&guard, &in_scope, &oos, &[]);
    #[expect(clippy::cast_precision_loss, reason = "counts")]
    let us_a = started.elapsed().as_secs_f64() * 1e6 / n_a as f64;

    let full = json!({
        "in_scope_accuracy": acc_a,
        "out_of_scope_recall": rec_a[0],
        "threshold": guard.threshold(),
        "us_per_message": us_a,
    });

    // (b) One domain at a time.
    let per_examples: Vec<Value> = examples
        .iter()
        .map(|&per| business(data, setup, per, recall))
        .collect();
    json!({"scoring": scoring, "full_150": full, "business": per_examples})
}

/// (b): each domain's intents with `per` examples each, averaged over the domains.
fn business(data: &Data<'_>, setup: &Setup<'_>, per: usize, recall: f32) -> Value {
    let Data {
        domains,
        train,
        val,
        oos_train,
        oos_val,
        general,
    } = *data;
    let oos: Vec<&str> = oos_val.iter().map(|(t, _)| t.as_str()).collect();
    let mut per_domain = serde_json::Map::new();
    let (mut acc_sum, mut rec_sum, mut us_sum) = (0.0, [0.0; 3], 0.0);
    let mut general_sum = [0.0; 3];
    for (domain, names) in domains {
        let calibration: Vec<&str> = oos_train
            .iter()
            .chain(train.iter().filter(|(_, i)| !names.contains(i)))
            .map(|(t, _)| t.as_str())
            .collect();
        let guard = Guard::build(
            setup,
            &intents_of(train, names, per),
            general,
            &calibration,
            recall,
        );
        let in_scope: Vec<&(String, String)> =
            val.iter().filter(|(_, i)| names.contains(i)).collect();
        let other: Vec<&str> = val
            .iter()
            .filter(|(_, i)| !names.contains(i))
            .map(|(t, _)| t.as_str())
            .collect();
        let started = Instant::now();
        let (acc, rec, n) = score(&guard, &in_scope, &oos, &other);
        #[expect(clippy::cast_precision_loss, reason = "counts")]
        let us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
        acc_sum += acc;
        for (s, r) in rec_sum.iter_mut().zip(rec) {
            *s += r;
        }
        us_sum += us;
        // The same guard calibrated on general requests only (`oos_train`), as a business that
        // gives no examples of neighbouring trades would calibrate it.
        let general_only = Guard::build(
            setup,
            &intents_of(train, names, per),
            general,
            &calibration[..oos_train.len()],
            recall,
        );
        let (acc_g, rec_g, _) = score(&general_only, &in_scope, &oos, &other);
        general_sum[0] += acc_g;
        general_sum[1] += rec_g[1];
        general_sum[2] += rec_g[2];
        per_domain.insert(
            domain.clone(),
            json!({
                "in_scope_accuracy": acc,
                "out_of_scope_recall": rec[0],
                "oos_val_recall": rec[1],
                "other_domains_recall": rec[2],
                "threshold": guard.threshold(),
                "calibrated_on_general_only": {
                    "in_scope_accuracy": acc_g,
                    "oos_val_recall": rec_g[1],
                    "other_domains_recall": rec_g[2],
                    "threshold": general_only.threshold(),
                },
            }),
        );
    }
    #[expect(clippy::cast_precision_loss, reason = "ten domains")]
    let n = domains.len() as f64;
    json!({
        "examples_per_intent": per,
        "in_scope_accuracy": acc_sum / n,
        "out_of_scope_recall": rec_sum[0] / n,
        "oos_val_recall": rec_sum[1] / n,
        "other_domains_recall": rec_sum[2] / n,
        "us_per_message": us_sum / n,
        "calibrated_on_general_only": {
            "in_scope_accuracy": general_sum[0] / n,
            "oos_val_recall": general_sum[1] / n,
            "other_domains_recall": general_sum[2] / n,
        },
        "domains": per_domain,
    })
}
