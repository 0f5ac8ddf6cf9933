//! `guichet guard test` and `guichet guard eval`: the scope guard of a flow, explained on one
//! message or measured on a labelled file — with the tier, model and calibration the bots use.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use domain::flow::Flow;
use domain::guard::Decision;
use hub::bots::Guard;
use hub::config::{GuardSettings, GuardTier};

#[derive(Debug, clap::Subcommand)]
pub enum GuardCommand {
    /// Classify one message and explain the decision.
    ///
    ///   guichet guard test "where is my parcel?" --flow examples/flows/shop.toml
    #[command(verbatim_doc_comment)]
    Test {
        message: String,
        #[command(flatten)]
        with: With,
    },
    /// Measure the guard on a labelled CSV file with a header `text,label`, where `label` is an
    /// intent's name or `out_of_scope`: in-scope accuracy, out-of-scope recall and the
    /// confusion (which labels went where).
    ///
    ///   guichet guard eval labelled.csv --flow examples/flows/shop.toml --json
    #[command(verbatim_doc_comment)]
    Eval {
        file: PathBuf,
        #[command(flatten)]
        with: With,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// The guard to build. It needs no configuration file (no Meta app, no database): the options
/// read the same environment variables as the `[guard]` settings.
#[derive(Debug, clap::Args)]
pub struct With {
    /// The flow whose intents the guard knows.
    #[arg(long)]
    flow: PathBuf,
    /// The tier: `embedding` (all-MiniLM-L6-v2 from --model-dir) or `fast`.
    #[arg(long, env = "GUICHET_GUARD__TIER", default_value = "embedding", value_parser = ["fast", "embedding"])]
    tier: String,
    /// The embedding model's folder.
    #[arg(long, env = embed::DIR_VAR, default_value = embed::DEFAULT_DIR)]
    model_dir: PathBuf,
    /// The out-of-scope recall the threshold is calibrated for, on guichet's generic requests.
    #[arg(long, env = "GUICHET_GUARD__RECALL", default_value_t = 0.95)]
    recall: f32,
}

fn guard_of(with: &With) -> anyhow::Result<(Flow, Guard)> {
    let flow = read_flow(&with.flow)?;
    let settings = GuardSettings {
        model_dir: with.model_dir.clone(),
        tier: if with.tier == "fast" {
            GuardTier::Fast
        } else {
            GuardTier::Embedding
        },
        recall: with.recall,
    };
    let model = match settings.tier {
        GuardTier::Embedding => Some(hub::bots::guard::load_model(&settings)?),
        GuardTier::Fast => None,
    };
    let guard = Guard::build(&flow.guard_intents(), &settings, model.as_ref())?;
    Ok((flow, guard))
}

fn read_flow(path: &Path) -> anyhow::Result<Flow> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the flow {}", path.display()))?;
    Flow::parse(&text).map_err(|e| anyhow::anyhow!("{}:\n{e}", path.display()))
}

pub fn run(command: GuardCommand) -> anyhow::Result<()> {
    match command {
        GuardCommand::Test { message, with } => {
            let (flow, guard) = guard_of(&with)?;
            let d = guard.classify(&message)?;
            crate::write_stdout(&explain(&flow, &guard, &d));
            Ok(())
        }
        GuardCommand::Eval { file, with, json } => {
            let (_, guard) = guard_of(&with)?;
            let rows = read_labelled(&file)?;
            let report = evaluate(&guard, &rows)?;
            if json {
                crate::write_stdout(&format!("{}\n", serde_json::to_string_pretty(&report)?));
            } else {
                crate::write_stdout(&table(&report));
            }
            Ok(())
        }
    }
}

fn explain(flow: &Flow, guard: &Guard, d: &Decision) -> String {
    let head = format!(
        "flow {} · tier {} · threshold {:.3}\n",
        flow.name,
        guard.tier().as_str(),
        guard.threshold()
    );
    let body = match d {
        Decision::InScope { intent, score } => format!(
            "IN SCOPE: intent `{intent}` (similarity {score:.3} ≥ threshold {:.3}, and nearer than any general request)\n",
            guard.threshold()
        ),
        Decision::OutOfScope {
            score,
            nearest,
            general_request,
        } => {
            let nearest = nearest.as_deref().unwrap_or("none");
            let why = if *general_request {
                "a generic general-assistant request is nearer than any intent".to_owned()
            } else {
                format!(
                    "the nearest intent's similarity {score:.3} is below the threshold {:.3}",
                    guard.threshold()
                )
            };
            format!(
                "OUT OF SCOPE: {why}; nearest intent `{nearest}`.\nThe bot would answer with its deflection and offer a person.\n"
            )
        }
    };
    head + &body
}

/// The label of out-of-scope rows.
const OUT: &str = "out_of_scope";

fn read_labelled(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| {
                format!(
                    "{}: no `{name}` column; the header must be `text,label`",
                    path.display()
                )
            })
    };
    let (text, label) = (col("text")?, col("label")?);
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: row {}", path.display(), n + 2))?;
        rows.push((
            record.get(text).unwrap_or_default().to_owned(),
            record.get(label).unwrap_or_default().trim().to_owned(),
        ));
    }
    anyhow::ensure!(!rows.is_empty(), "{}: no rows", path.display());
    Ok(rows)
}

#[derive(Debug, serde::Serialize)]
struct Report {
    rows: usize,
    in_scope_rows: usize,
    out_of_scope_rows: usize,
    /// Share of in-scope rows sent to their own intent.
    in_scope_accuracy: Option<f64>,
    /// Share of out-of-scope rows kept out.
    out_of_scope_recall: Option<f64>,
    /// true label → predicted label → count.
    confusion: std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>>,
}

#[expect(clippy::cast_precision_loss, reason = "counts of rows")]
fn evaluate(guard: &Guard, rows: &[(String, String)]) -> anyhow::Result<Report> {
    let mut confusion: std::collections::BTreeMap<_, std::collections::BTreeMap<_, usize>> =
        Default::default();
    let (mut ins, mut ins_ok, mut outs, mut outs_ok) = (0, 0, 0, 0);
    for (text, label) in rows {
        let predicted = guard
            .classify(text)?
            .intent()
            .map_or_else(|| OUT.to_owned(), str::to_owned);
        if label == OUT {
            outs += 1;
            outs_ok += usize::from(predicted == OUT);
        } else {
            ins += 1;
            ins_ok += usize::from(&predicted == label);
        }
        *confusion
            .entry(label.clone())
            .or_default()
            .entry(predicted)
            .or_default() += 1;
    }
    let share = |ok: usize, all: usize| (all > 0).then(|| ok as f64 / all as f64);
    Ok(Report {
        rows: rows.len(),
        in_scope_rows: ins,
        out_of_scope_rows: outs,
        in_scope_accuracy: share(ins_ok, ins),
        out_of_scope_recall: share(outs_ok, outs),
        confusion,
    })
}

fn table(r: &Report) -> String {
    let pct =
        |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{:.1} %", v * 100.0));
    let mut out = format!(
        "{} rows: {} in scope, {} out of scope\nin-scope accuracy    {}\nout-of-scope recall  {}\n\nconfusion (label → predicted: count)\n",
        r.rows,
        r.in_scope_rows,
        r.out_of_scope_rows,
        pct(r.in_scope_accuracy),
        pct(r.out_of_scope_recall)
    );
    for (label, predicted) in &r.confusion {
        let cells: Vec<String> = predicted.iter().map(|(p, n)| format!("{p}: {n}")).collect();
        out.push_str(&format!("  {label} → {}\n", cells.join(", ")));
    }
    out
}
