//! The scope guard on CLINC150 (bench/data/clinc150: train and validation splits; the test splits
//! are kept aside), for either tier (`--tier fast|embedding`):
//!
//! - (a) the full 150 intents, every training example, the threshold calibrated on `oos_train`
//!   for `--recall`, evaluated on `val` and `oos_val`;
//! - (b) the business setting, once per domain: its 15 intents with `--examples` training
//!   examples each (and the intent's name, as guichet adds it), guichet's general requests as
//!   the generic set, evaluated on the domain's `val` (in scope) and on `oos_val` plus the other
//!   domains' `val` (out of scope), with the threshold calibrated for `--recall` three ways:
//!   on guichet's own generic requests (what any business has), on `oos_train` (CLINC's general
//!   requests), and on `oos_train` with the other nine domains' training examples.
//!
//! The embedding tier embeds every distinct text once (all-MiniLM-L6-v2 from `--model-dir`;
//! `--cache FILE` keeps the vectors between runs) and then works on the vectors. Prints one JSON
//! object: in-scope accuracy and out-of-scope recall (also apart for `oos_val`, CLINC's general
//! requests, and for the other domains), per domain and averaged, and the time per message.

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
    Classifier,
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
    #[arg(long, value_enum, value_delimiter = ',', default_value = "classifier")]
    scoring: Vec<ScoringArg>,
    /// Whether an intent's name, read as words, is one of its examples (as guichet's guards
    /// make it); `false` to measure what that brings.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    names: bool,
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
    /// A file of embeddings to reuse (embedding tier): texts found there are not embedded again,
    /// and the file is rewritten with any that were missing. Delete it when the model changes.
    #[arg(long)]
    cache: Option<PathBuf>,
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

/// The intents named `names` with their first `per` training examples; with `named`, each
/// intent's name is its name (which the guards read as one more example), else only an index.
fn intents_of(train: &Split, names: &[String], per: usize, named: bool) -> Vec<Intent> {
    names
        .iter()
        .enumerate()
        .map(|(n, name)| Intent {
            // A name without letters is not read as an example.
            name: if named { name.clone() } else { n.to_string() },
            examples: train
                .iter()
                .filter(|(_, i)| i == name)
                .take(per)
                .map(|(t, _)| t.clone())
                .collect(),
        })
        .collect()
}

/// The in-scope messages of `val` whose intent is among `names`, each with the name the guard
/// gives its intent (see [`intents_of`]).
fn in_scope_of<'a>(val: &'a Split, names: &[String], named: bool) -> Vec<(&'a str, String)> {
    val.iter()
        .filter_map(|(t, i)| {
            let n = names.iter().position(|name| name == i)?;
            Some((t.as_str(), if named { i.clone() } else { n.to_string() }))
        })
        .collect()
}

/// One tier's guard, and what it needs to classify text.
#[derive(Clone)]
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

/// What the threshold is calibrated on.
#[derive(Clone, Copy)]
enum Calibration<'a> {
    /// The guard's own generic requests.
    General,
    /// These out-of-scope texts.
    Texts(&'a [&'a str]),
}

impl Guard<'_> {
    /// The guard for `intents`, not calibrated yet.
    fn build<'v>(tier: &Setup<'v>, intents: &[Intent], general: &[&str]) -> Guard<'v> {
        match tier {
            Setup::Fast => Guard::Fast(FastGuard::new(intents, general)),
            Setup::Embedding(vectors, scoring) => {
                let guard = EmbeddingGuard::from_vectors(
                    intents
                        .iter()
                        .map(|i| {
                            // As EmbeddingGuard::new does it: the name as one more example.
                            let name = i.name.replace(['_', '-'], " ");
                            let named = name.chars().any(char::is_alphabetic);
                            let v = i
                                .examples
                                .iter()
                                .map(|e| vectors.of(e))
                                .chain(named.then(|| vectors.of(&name)))
                                .collect();
                            (i.name.clone(), v)
                        })
                        .collect(),
                    general.iter().map(|g| vectors.of(g)).collect(),
                    *scoring,
                );
                Guard::Embedding(guard, vectors)
            }
        }
    }

    fn calibrated(&self, on: Calibration<'_>, recall: f32) -> Self {
        match (self.clone(), on) {
            (Self::Fast(g), Calibration::General) => Self::Fast(g.calibrate_general(recall)),
            (Self::Fast(g), Calibration::Texts(t)) => Self::Fast(g.calibrate(t, recall)),
            (Self::Embedding(g, v), Calibration::General) => {
                Self::Embedding(g.calibrate_general(recall), v)
            }
            (Self::Embedding(g, v), Calibration::Texts(t)) => {
                let oos: Vec<Vec<f32>> = t.iter().map(|t| v.of(t)).collect();
                Self::Embedding(g.calibrate(&oos, recall), v)
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
    in_scope: &[(&str, String)],
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

    let names: Vec<String> = domains
        .values()
        .flatten()
        .map(|n| n.replace(['_', '-'], " "))
        .collect();
    let mut embedding_report = Value::Null;
    let mut vectors = Vectors(HashMap::new());
    if args.tier == Tier::Embedding {
        let model = embed::MiniLm::load(&args.model_dir)?;
        let mut texts: Vec<&str> = [&train, &val, &oos_train, &oos_val]
            .into_iter()
            .flatten()
            .map(|(t, _)| t.as_str())
            .chain(general.iter().copied())
            .chain(names.iter().map(String::as_str))
            .collect();
        texts.sort_unstable();
        texts.dedup();
        let mut cached = match &args.cache {
            Some(path) if path.exists() => read_cache(path)?,
            _ => HashMap::new(),
        };
        let missing: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| !cached.contains_key(*t))
            .collect();
        let started = Instant::now();
        let embedded = model.embed(&missing)?;
        let seconds = started.elapsed().as_secs_f64();
        #[expect(clippy::cast_precision_loss, reason = "counts")]
        let per = seconds * 1e3 / missing.len().max(1) as f64;
        embedding_report = json!({
            "texts": texts.len(),
            "embedded_now": missing.len(),
            "seconds": seconds,
            "ms_per_text_batched": per,
            "threads": std::thread::available_parallelism().map_or(1, usize::from),
        });
        let fresh = !missing.is_empty();
        cached.extend(missing.into_iter().map(str::to_owned).zip(embedded));
        if let (Some(path), true) = (&args.cache, fresh) {
            write_cache(path, &cached)?;
        }
        vectors = Vectors(cached);
    }
    let setups: Vec<(&str, Setup<'_>)> = match args.tier {
        Tier::Fast => vec![("nearest", Setup::Fast)],
        Tier::Embedding => args
            .scoring
            .iter()
            .map(|s| match s {
                ScoringArg::Nearest => ("nearest", Setup::Embedding(&vectors, Scoring::Nearest)),
                ScoringArg::Centroid => ("centroid", Setup::Embedding(&vectors, Scoring::Centroid)),
                ScoringArg::Classifier => (
                    "classifier",
                    Setup::Embedding(&vectors, Scoring::Classifier),
                ),
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
        named: args.names,
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

/// The cache of `--cache`: for each text, its length in bytes (u32), its UTF-8 bytes, its
/// vector's length (u32) and the vector (f32), all little-endian.
fn read_cache(path: &std::path::Path) -> anyhow::Result<HashMap<String, Vec<f32>>> {
    let bytes = std::fs::read(path)?;
    let mut rest = bytes.as_slice();
    let mut take = |n: usize| -> anyhow::Result<&[u8]> {
        anyhow::ensure!(rest.len() >= n, "{} is cut short", path.display());
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let mut out = HashMap::new();
    loop {
        let Ok(len) = take(4) else { break };
        let len = u32::from_le_bytes(len.try_into()?) as usize;
        let text = String::from_utf8(take(len)?.to_vec())?;
        let dim = u32::from_le_bytes(take(4)?.try_into()?) as usize;
        let vector = take(dim * 4)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.insert(text, vector);
    }
    Ok(out)
}

fn write_cache(path: &std::path::Path, vectors: &HashMap<String, Vec<f32>>) -> anyhow::Result<()> {
    let mut sorted: Vec<_> = vectors.iter().collect();
    sorted.sort_unstable_by_key(|(t, _)| t.as_str());
    let mut out = Vec::new();
    for (text, vector) in sorted {
        out.extend(u32::try_from(text.len())?.to_le_bytes());
        out.extend(text.as_bytes());
        out.extend(u32::try_from(vector.len())?.to_le_bytes());
        for x in vector {
            out.extend(x.to_le_bytes());
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, out)?;
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
    /// Whether intents keep their names (`--names`).
    named: bool,
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
        named,
    } = *data;
    // (a) Every intent, every example.
    let all: Vec<String> = domains.values().flatten().cloned().collect();
    let calibration: Vec<&str> = oos_train.iter().map(|(t, _)| t.as_str()).collect();
    let started = Instant::now();
    let guard = Guard::build(setup, &intents_of(train, &all, usize::MAX, named), general)
        .calibrated(Calibration::Texts(&calibration), recall);
    let build_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let in_scope = in_scope_of(val, &all, named);
    let oos: Vec<&str> = oos_val.iter().map(|(t, _)| t.as_str()).collect();
    let (acc_a, rec_a, n_a) = score(&guard, &in_scope, &oos, &[]);
    #[expect(clippy::cast_precision_loss, reason = "counts")]
    let us_a = started.elapsed().as_secs_f64() * 1e6 / n_a as f64;

    let full = json!({
        "in_scope_accuracy": acc_a,
        "out_of_scope_recall": rec_a[0],
        "threshold": guard.threshold(),
        "us_per_message": us_a,
        "build_and_calibrate_seconds": build_seconds,
    });

    // (b) One domain at a time.
    let per_examples: Vec<Value> = examples
        .iter()
        .map(|&per| business(data, setup, per, recall))
        .collect();
    json!({"scoring": scoring, "full_150": full, "business": per_examples})
}

/// The calibrations of (b), by the set of out-of-scope texts each calibrates on.
const CALIBRATIONS: [&str; 3] = [
    "generic_requests",
    "oos_train",
    "oos_train_and_other_domains",
];

/// (b): each domain's intents with `per` examples each, averaged over the domains.
fn business(data: &Data<'_>, setup: &Setup<'_>, per: usize, recall: f32) -> Value {
    let Data {
        domains,
        train,
        val,
        oos_train,
        oos_val,
        general,
        named,
    } = *data;
    let oos: Vec<&str> = oos_val.iter().map(|(t, _)| t.as_str()).collect();
    let mut per_domain = serde_json::Map::new();
    // For each calibration: accuracy, recall on oos_val, on the other domains, on both.
    let mut sums = [[0.0; 4]; CALIBRATIONS.len()];
    let (mut us_sum, mut build_sum) = (0.0, 0.0);
    for (domain, names) in domains {
        let with_others: Vec<&str> = oos_train
            .iter()
            .chain(train.iter().filter(|(_, i)| !names.contains(i)))
            .map(|(t, _)| t.as_str())
            .collect();
        let started = Instant::now();
        let guard = Guard::build(setup, &intents_of(train, names, per, named), general);
        build_sum += started.elapsed().as_secs_f64();
        let in_scope = in_scope_of(val, names, named);
        let other: Vec<&str> = val
            .iter()
            .filter(|(_, i)| !names.contains(i))
            .map(|(t, _)| t.as_str())
            .collect();
        let mut report = serde_json::Map::new();
        for (c, name) in CALIBRATIONS.iter().enumerate() {
            let on = match c {
                0 => Calibration::General,
                1 => Calibration::Texts(&with_others[..oos_train.len()]),
                _ => Calibration::Texts(&with_others),
            };
            let calibrated = guard.calibrated(on, recall);
            let started = Instant::now();
            let (acc, rec, n) = score(&calibrated, &in_scope, &oos, &other);
            if c == 0 {
                #[expect(clippy::cast_precision_loss, reason = "counts")]
                let us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
                us_sum += us;
            }
            for (s, x) in sums[c].iter_mut().zip([acc, rec[1], rec[2], rec[0]]) {
                *s += x;
            }
            report.insert(
                (*name).to_owned(),
                json!({
                    "in_scope_accuracy": acc,
                    "oos_val_recall": rec[1],
                    "other_domains_recall": rec[2],
                    "out_of_scope_recall": rec[0],
                    "threshold": calibrated.threshold(),
                }),
            );
        }
        per_domain.insert(domain.clone(), Value::Object(report));
    }
    #[expect(clippy::cast_precision_loss, reason = "ten domains")]
    let n = domains.len() as f64;
    let mut out = serde_json::Map::new();
    out.insert("examples_per_intent".into(), json!(per));
    out.insert("us_per_message".into(), json!(us_sum / n));
    out.insert("build_seconds".into(), json!(build_sum / n));
    for (name, s) in CALIBRATIONS.iter().zip(sums) {
        out.insert(
            format!("calibrated_on_{name}"),
            json!({
                "in_scope_accuracy": s[0] / n,
                "oos_val_recall": s[1] / n,
                "other_domains_recall": s[2] / n,
                "out_of_scope_recall": s[3] / n,
            }),
        );
    }
    out.insert("domains".into(), Value::Object(per_domain));
    Value::Object(out)
}
