//! The scope guard's fast tier on CLINC150 (bench/data/clinc150: train and validation splits; the
//! test splits are kept aside):
//!
//! - (a) the full 150 intents, every training example, the threshold calibrated on `oos_train`
//!   for `--recall`, evaluated on `val` and `oos_val`;
//! - (b) the business setting, once per domain: its 15 intents with `--examples` training
//!   examples each, guichet's general requests as the generic set, the threshold calibrated for
//!   `--recall` on `oos_train` and the other nine domains' training examples, evaluated on the
//!   domain's `val` (in scope) and on `oos_val` plus the other domains' `val` (out of scope).
//!
//! Prints one JSON object: in-scope accuracy and out-of-scope recall, per domain and averaged,
//! and the time per message.

#![allow(clippy::print_stdout, reason = "the benchmark's report")]

use std::collections::BTreeMap;
use std::time::Instant;

use clap::Parser;
use domain::guard::{FastGuard, GENERAL_REQUESTS, Intent, requests_of};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// The CLINC150 folder.
    #[arg(long, default_value = "bench/data/clinc150")]
    data: String,
    /// Training examples per intent in the business setting.
    #[arg(long, default_value_t = 5)]
    examples: usize,
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

/// In-scope accuracy, out-of-scope recall, messages classified.
fn score(guard: &FastGuard, in_scope: &[&(String, String)], oos: &[&str]) -> (f64, f64, usize) {
    let correct = in_scope
        .iter()
        .filter(|(t, i)| guard.classify(t).intent() == Some(i.as_str()))
        .count();
    let kept_out = oos
        .iter()
        .filter(|t| guard.classify(t).intent().is_none())
        .count();
    #[expect(clippy::cast_precision_loss, reason = "counts")]
    let r = (
        correct as f64 / in_scope.len().max(1) as f64,
        kept_out as f64 / oos.len().max(1) as f64,
        in_scope.len() + oos.len(),
    );
    r
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

    // (a) Every intent, every example.
    let all: Vec<String> = domains.values().flatten().cloned().collect();
    let guard = FastGuard::new(&intents_of(&train, &all, usize::MAX), &general).calibrate(
        &oos_train
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>(),
        args.recall,
    );
    let started = Instant::now();
    let in_scope: Vec<&(String, String)> = val.iter().collect();
    let oos: Vec<&str> = oos_val.iter().map(|(t, _)| t.as_str()).collect();
    let (acc_a, rec_a, n_a) = score(&guard, &in_scope, &oos);
    #[expect(clippy::cast_precision_loss, reason = "counts")]
    let us_a = started.elapsed().as_secs_f64() * 1e6 / n_a as f64;

    // (b) One domain at a time.
    let mut per_domain = serde_json::Map::new();
    let (mut acc_sum, mut rec_sum, mut us_sum) = (0.0, 0.0, 0.0);
    for (domain, names) in &domains {
        let guard = FastGuard::new(&intents_of(&train, names, args.examples), &general);
        let calibration: Vec<&str> = oos_train
            .iter()
            .chain(train.iter().filter(|(_, i)| !names.contains(i)))
            .map(|(t, _)| t.as_str())
            .collect();
        let guard = guard.calibrate(&calibration, args.recall);
        let in_scope: Vec<&(String, String)> =
            val.iter().filter(|(_, i)| names.contains(i)).collect();
        let oos: Vec<&str> = oos_val
            .iter()
            .chain(val.iter().filter(|(_, i)| !names.contains(i)))
            .map(|(t, _)| t.as_str())
            .collect();
        let started = Instant::now();
        let (acc, rec, n) = score(&guard, &in_scope, &oos);
        #[expect(clippy::cast_precision_loss, reason = "counts")]
        let us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
        acc_sum += acc;
        rec_sum += rec;
        us_sum += us;
        per_domain.insert(
            domain.clone(),
            json!({"in_scope_accuracy": acc, "out_of_scope_recall": rec, "threshold": guard.threshold()}),
        );
    }
    #[expect(clippy::cast_precision_loss, reason = "ten domains")]
    let n = domains.len() as f64;
    println!(
        "{:#}",
        json!({
            "tier": "fast",
            "target_recall": args.recall,
            "full_150": {"in_scope_accuracy": acc_a, "out_of_scope_recall": rec_a, "us_per_message": us_a},
            "business": {
                "examples_per_intent": args.examples,
                "in_scope_accuracy": acc_sum / n,
                "out_of_scope_recall": rec_sum / n,
                "us_per_message": us_sum / n,
                "domains": per_domain,
            },
        })
    );
    Ok(())
}
