//! A small reader for comma-separated values as RFC 4180 writes them, enough for Meta's rate-card
//! files and what spreadsheets make of them: `"quoted, fields"` with `""` for a quote, fields that
//! span lines inside quotes, LF or CRLF line ends, a leading byte-order mark. Two additions for
//! hand-kept files: a line starting with `#` is a comment, and blank lines are skipped.
//!
//! Every record remembers the line it starts on, so that a problem can be pointed at.

use std::iter::Peekable;
use std::str::Chars;

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
    /// 1-based field number.
    pub column: usize,
    pub problem: &'static str,
}

/// Reads every record of `text`.
pub(crate) fn records(text: &str) -> Result<Vec<Record>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader {
        chars: text.chars().peekable(),
        line: 1,
    };
    let mut records = Vec::new();
    while let Some(&c) = reader.chars.peek() {
        match c {
            '#' => reader.skip_line(),
            '\n' | '\r' => reader.end_of_line(),
            _ => {
                let record = reader.record()?;
                if record.fields.iter().any(|f| !f.trim().is_empty()) {
                    records.push(record);
                }
            }
        }
    }
    Ok(records)
}

struct Reader<'a> {
    chars: Peekable<Chars<'a>>,
    line: usize,
}

impl Reader<'_> {
    fn skip_line(&mut self) {
        while let Some(&c) = self.chars.peek() {
            if c == '\n' || c == '\r' {
                break;
            }
            self.chars.next();
        }
        self.end_of_line();
    }

    /// Consumes one line end (`\n`, `\r\n` or a lone `\r`), if there is one.
    fn end_of_line(&mut self) {
        match self.chars.next() {
            Some('\r') => {
                self.chars.next_if_eq(&'\n');
                self.line += 1;
            }
            Some('\n') => self.line += 1,
            _ => {}
        }
    }

    fn record(&mut self) -> Result<Record, SyntaxError> {
        let line = self.line;
        let mut fields = Vec::new();
        loop {
            let column = fields.len() + 1;
            let field = if self.chars.next_if_eq(&'"').is_some() {
                self.quoted(column)?
            } else {
                self.unquoted(column)?
            };
            fields.push(field);
            match self.chars.peek() {
                Some(',') => {
                    self.chars.next();
                }
                _ => {
                    self.end_of_line();
                    return Ok(Record { line, fields });
                }
            }
        }
    }

    fn unquoted(&mut self, column: usize) -> Result<String, SyntaxError> {
        let mut field = String::new();
        while let Some(&c) = self.chars.peek() {
            match c {
                ',' | '\n' | '\r' => break,
                '"' => {
                    return Err(SyntaxError {
                        line: self.line,
                        column,
                        problem: "a quote inside an unquoted value: quote the whole value and \
                                  double the quotes inside it",
                    });
                }
                _ => {
                    field.push(c);
                    self.chars.next();
                }
            }
        }
        Ok(field)
    }

    fn quoted(&mut self, column: usize) -> Result<String, SyntaxError> {
        let opened_on = self.line;
        let mut field = String::new();
        loop {
            match self.chars.next() {
                None => {
                    return Err(SyntaxError {
                        line: opened_on,
                        column,
                        problem: "a quoted value is never closed: add the closing quote",
                    });
                }
                Some('"') => {
                    if self.chars.next_if_eq(&'"').is_some() {
                        field.push('"');
                    } else {
                        break;
                    }
                }
                Some(c) => {
                    if c == '\n' || (c == '\r' && self.chars.peek() != Some(&'\n')) {
                        self.line += 1;
                    }
                    field.push(c);
                }
            }
        }
        match self.chars.peek() {
            None | Some(',' | '\n' | '\r') => Ok(field),
            Some(_) => Err(SyntaxError {
                line: self.line,
                column,
                problem: "text after a closing quote: put a comma after the quoted value",
            }),
        }
    }
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

    #[test]
    fn problems_say_where() {
        assert_eq!(
            records("a,b\nc,\"open\n\n").unwrap_err(),
            SyntaxError {
                line: 2,
                column: 2,
                problem: "a quoted value is never closed: add the closing quote"
            }
        );
        let err = records("a,b\nc,\"x\"y\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 2));
        let err = records("a\nb\nc,d\"e\n").unwrap_err();
        assert_eq!((err.line, err.column), (3, 2));
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
