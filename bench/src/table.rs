//! What the table tools share: their arguments, reading the reports, writing the table and the
//! combined JSON, `KEY=VALUE` arguments, numbers with thousands separators, and the description
//! of the run under the table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The arguments of every table tool.
#[derive(Debug, clap::Args)]
pub struct TableArgs {
    /// Reports, in the order of the table.
    pub reports: Vec<PathBuf>,
    /// Facts about the run, `KEY=VALUE` (machine, versions, command), kept in order.
    #[arg(long = "meta", value_parser = key_value)]
    pub meta: Vec<(String, String)>,
    /// A remark about a target, `LABEL=TEXT`, added to its details.
    #[arg(long = "note", value_parser = key_value)]
    pub note: Vec<(String, String)>,
    /// A target that did not run, `LABEL=REASON`; shown as a row of the table.
    #[arg(long = "failed", value_parser = key_value)]
    pub failed: Vec<(String, String)>,
    /// Label of the ceiling reference.
    #[arg(long, default_value = "plain")]
    pub plain_label: String,
    /// Write the markdown here (it is printed on stdout as well).
    #[arg(long)]
    pub markdown_out: Option<PathBuf>,
    /// Write the combined JSON here.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Combined<'a, R> {
    meta: BTreeMap<String, String>,
    meta_order: Vec<String>,
    targets: &'a [R],
    failed: BTreeMap<String, String>,
}

impl TableArgs {
    /// The reports named on the command line, in order.
    pub fn read_reports<T: DeserializeOwned>(&self) -> anyhow::Result<Vec<T>> {
        self.reports
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
            })
            .collect()
    }

    /// The remarks given for a target with `--note`, in order.
    pub fn notes_for(&self, label: &str) -> Vec<String> {
        self.note
            .iter()
            .filter(|(l, _)| l == label)
            .map(|(_, note)| note.clone())
            .collect()
    }

    /// A row for each target that did not run, followed by `empty_cells` empty cells.
    pub fn push_failed(&self, md: &mut String, empty_cells: usize) {
        for (label, reason) in &self.failed {
            let _ = writeln!(
                md,
                "| {label} | did not run: {reason} |{}",
                " |".repeat(empty_cells)
            );
        }
    }

    /// Prints the table, and writes it and the combined JSON where asked.
    #[expect(
        clippy::print_stdout,
        reason = "a benchmark CLI prints its table on stdout"
    )]
    pub fn finish<R: Serialize>(&self, markdown: &str, rows: &[R]) -> anyhow::Result<()> {
        println!("{markdown}");
        if let Some(path) = &self.markdown_out {
            std::fs::write(path, markdown)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        if let Some(path) = &self.json_out {
            let combined = Combined {
                meta: self.meta.iter().cloned().collect(),
                meta_order: self.meta.iter().map(|(k, _)| k.clone()).collect(),
                targets: rows,
                failed: self.failed.iter().cloned().collect(),
            };
            let json = serde_json::to_vec_pretty(&combined)?;
            std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
}

/// Parses a `KEY=VALUE` argument.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// A rate rounded to a whole number, with `,` between thousands.
#[must_use]
pub fn thousands(x: f64) -> String {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "rates are small positive numbers"
    )]
    let n = x.round().max(0.0) as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The "Run:" list of facts about the run (machine, versions, command), in order.
pub fn push_run(md: &mut String, meta: &[(String, String)]) {
    if meta.is_empty() {
        return;
    }
    md.push_str("\nRun:\n\n");
    for (key, value) in meta {
        // Writing to a String cannot fail.
        let _ = writeln!(md, "- {key}: {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(90_057.3), "90,057");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }

    #[test]
    fn key_values() {
        assert_eq!(key_value("a=b=c"), Ok(("a".to_owned(), "b=c".to_owned())));
        assert!(key_value("nothing").is_err());
    }
}
