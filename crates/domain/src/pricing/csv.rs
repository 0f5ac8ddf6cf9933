//! Reading rate-card files with the `csv` crate, as RFC 4180 writes them and spreadsheets save
//! them (`"quoted, fields"` with `""` for a quote, fields that span lines inside quotes, LF or
//! CRLF line ends, a leading byte-order mark), with two additions for hand-kept files: a line
//! starting with `#` is a comment, and blank lines are skipped.
//!
//! Every record remembers the line it starts on, so that a problem can be pointed at.

/// One line of values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// 1-based line the record starts on.
    pub line: usize,
    pub fields: Vec<String>,
}

/// Where the text stops being CSV, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    /// 1-based field number, when known.
    pub column: usize,
    pub problem: String,
}

/// Reads every record of `text`.
pub(crate) fn records(text: &str) -> Result<Vec<Record>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bytes = text.as_bytes();
    // A record's position is where the reader stood before the blank and comment lines it
    // skipped; the line an editor shows is found by skipping them again.
    let line_at = |position: Option<&::csv::Position>| {
        position.map_or(0, |p| {
            let mut at = usize::try_from(p.byte())
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            loop {
                match bytes.get(at) {
                    Some(b'\n' | b'\r') => at += 1,
                    Some(b'#') => {
                        at += bytes[at..]
                            .iter()
                            .position(|b| *b == b'\n')
                            .unwrap_or(bytes.len() - at);
                    }
                    _ => break,
                }
            }
            1 + bytes[..at].iter().filter(|b| **b == b'\n').count()
        })
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| SyntaxError {
            line: line_at(e.position()),
            column: match e.kind() {
                ::csv::ErrorKind::Utf8 { err, .. } => err.field() + 1,
                _ => 1,
            },
            problem: e.to_string(),
        })?;
        if record.iter().any(|f| !f.trim().is_empty()) {
            records.push(Record {
                line: line_at(record.position()),
                fields: record.iter().map(str::to_owned).collect(),
            });
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(text: &str) -> Vec<(usize, Vec<&str>)> {
        // Leaks are fine in a test: it keeps the expected values short to write.
        records(text)
            .unwrap()
            .into_iter()
            .map(|r| {
                let fields = r
                    .fields
                    .into_iter()
                    .map(|f| &*Box::leak(f.into_boxed_str()))
                    .collect();
                (r.line, fields)
            })
            .collect()
    }

    #[test]
    fn plain_lines_comments_and_blank_lines() {
        let text = "\u{feff}# a comment\nMarket,Rate\r\n\r\nIndia,0.01\n  \n,\nBrazil,\n";
        assert_eq!(
            fields(text),
            vec![
                (2, vec!["Market", "Rate"]),
                (4, vec!["India", "0.01"]),
                (7, vec!["Brazil", ""]),
            ]
        );
    }

    #[test]
    fn quoted_values_hold_commas_quotes_and_line_ends() {
        let text = "\"Rest of Central & Eastern Europe, etc\",\"say \"\"hi\"\"\"\n\"two\nlines\",x\nlast,y";
        assert_eq!(
            fields(text),
            vec![
                (
                    1,
                    vec!["Rest of Central & Eastern Europe, etc", "say \"hi\""]
                ),
                (2, vec!["two\nlines", "x"]),
                (4, vec!["last", "y"]),
            ]
        );
    }

    proptest! {
        #[test]
        fn never_panics(text in "(?s).{0,200}") {
            let _ = records(&text);
        }

        #[test]
        fn never_panics_on_csv_like_text(text in "[a-z0-9#\",.\r\n ]{0,200}") {
            let _ = records(&text);
        }

        #[test]
        fn quoting_round_trips(values in proptest::collection::vec("[^\r]{0,12}", 1..6)) {
            let line = values
                .iter()
                .map(|v| format!("\"{}\"", v.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(",");
            let read = records(&line).unwrap();
            if values.iter().all(|v| v.trim().is_empty()) {
                prop_assert!(read.is_empty());
            } else {
                prop_assert_eq!(read.len(), 1);
                prop_assert_eq!(&read[0].fields, &values);
            }
        }
    }
}
