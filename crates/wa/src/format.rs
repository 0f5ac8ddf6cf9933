//! WhatsApp's text formatting, as the app shows it: `*bold*`, `_italic_`, `~strikethrough~`,
//! ```` ```monospace``` ```` and `` `inline code` ``.
//!
//! The text is cut into [`Span`]s of plain text with styles; nothing here produces markup, so
//! whoever renders the spans escapes their text (the agent UI's templates do). A marker counts
//! only where WhatsApp honours it: it opens before a non-space character at the start of a word,
//! closes after a non-space character at the end of one, and both ends lie on the same line.
//! Everything else, including unmatched markers, stays literal text.

/// A run of text with one set of styles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub bold: bool,
    pub italic: bool,
    pub strike: bool,
    pub mono: bool,
}

impl Span {
    /// The CSS classes of its styles (`b i s m`), for renderers.
    pub fn classes(&self) -> String {
        let mut c = Vec::new();
        for (on, name) in [
            (self.bold, "b"),
            (self.italic, "i"),
            (self.strike, "s"),
            (self.mono, "m"),
        ] {
            if on {
                c.push(name);
            }
        }
        c.join(" ")
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Style {
    bold: bool,
    italic: bool,
    strike: bool,
}

impl Style {
    fn with(mut self, marker: char) -> Option<Self> {
        let flag = match marker {
            '*' => &mut self.bold,
            '_' => &mut self.italic,
            '~' => &mut self.strike,
            _ => return None,
        };
        if *flag {
            return None; // a style does not nest in itself
        }
        *flag = true;
        Some(self)
    }
}

/// Cuts a message's text into styled spans. Adjacent spans of the same style are merged.
pub fn spans(text: &str) -> Vec<Span> {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<Span> = Vec::new();
    let mut start = 0;
    // Lines are formatted on their own; the newlines stay in the text.
    for (i, &c) in chars.iter().enumerate() {
        if c == '\n' {
            line(&chars[start..i], Style::default(), &mut out);
            push(&mut out, "\n", Style::default(), false);
            start = i + 1;
        }
    }
    line(&chars[start..], Style::default(), &mut out);
    out
}

fn push(out: &mut Vec<Span>, text: &str, style: Style, mono: bool) {
    if text.is_empty() {
        return;
    }
    if let Some(last) = out.last_mut()
        && (last.bold, last.italic, last.strike, last.mono)
            == (style.bold, style.italic, style.strike, mono)
    {
        last.text.push_str(text);
        return;
    }
    out.push(Span {
        text: text.to_owned(),
        bold: style.bold,
        italic: style.italic,
        strike: style.strike,
        mono,
    });
}

/// Whether a marker may sit next to this character on its outer side.
fn boundary(c: Option<char>) -> bool {
    c.is_none_or(|c| {
        c.is_whitespace() || (c.is_ascii_punctuation() && !matches!(c, '*' | '_' | '~' | '`'))
    })
}

fn line(chars: &[char], style: Style, out: &mut Vec<Span>) {
    let mut plain = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // ```monospace```: its inside is not formatted further.
        if c == '`' && chars[i..].starts_with(&['`', '`', '`']) {
            if let Some(end) = find_triple(chars, i + 3) {
                push(out, &plain, style, false);
                plain.clear();
                let inner: String = chars[i + 3..end].iter().collect();
                push(out, &inner, style, true);
                i = end + 3;
                continue;
            }
        } else if c == '`' {
            if let Some(end) = closing(chars, i, '`') {
                push(out, &plain, style, false);
                plain.clear();
                let inner: String = chars[i + 1..end].iter().collect();
                push(out, &inner, style, true);
                i = end + 1;
                continue;
            }
        } else if let Some(inner_style) = style.with(c)
            && let Some(end) = closing(chars, i, c)
        {
            push(out, &plain, style, false);
            plain.clear();
            line(&chars[i + 1..end], inner_style, out);
            i = end + 1;
            continue;
        }
        plain.push(c);
        i += 1;
    }
    push(out, &plain, style, false);
}

/// The closing marker of one that opens at `open`, if it opens there at all.
fn closing(chars: &[char], open: usize, marker: char) -> Option<usize> {
    let before = open.checked_sub(1).map(|p| chars[p]);
    let after = chars.get(open + 1).copied();
    if !boundary(before) || after.is_none_or(char::is_whitespace) || after == Some(marker) {
        return None;
    }
    (open + 2..chars.len()).find(|&j| {
        chars[j] == marker && !chars[j - 1].is_whitespace() && boundary(chars.get(j + 1).copied())
    })
}

fn find_triple(chars: &[char], from: usize) -> Option<usize> {
    (from..chars.len().saturating_sub(2))
        .find(|&j| j > from && chars[j..].starts_with(&['`', '`', '`']))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn render(spans: &[Span]) -> String {
        spans
            .iter()
            .map(|s| format!("[{}|{}]", s.classes(), s.text))
            .collect()
    }

    #[test]
    fn styles_as_whatsapp_shows_them() {
        for (input, expected) in [
            ("plain", "[|plain]"),
            ("*bold* text", "[b|bold][| text]"),
            ("an _italic_ word", "[|an ][i|italic][| word]"),
            ("~gone~", "[s|gone]"),
            ("```let x = *1*;```", "[m|let x = *1*;]"),
            ("run `cargo test` now", "[|run ][m|cargo test][| now]"),
            ("*bold _and italic_*", "[b|bold ][b i|and italic]"),
            ("(*bold*).", "[|(][b|bold][|).]"),
        ] {
            assert_eq!(render(&spans(input)), expected, "{input:?}");
        }
    }

    #[test]
    fn markers_that_whatsapp_ignores_stay_literal() {
        for input in [
            "2*3*4",           // inside a word
            "* not bold*",     // space after the opening marker
            "*not bold *",     // space before the closing marker
            "snake_case_name", // underscores inside a word
            "*a\nb*",          // across lines
            "**",              // nothing inside
            "*unclosed",
            "a * b * c",
        ] {
            let s = spans(input);
            assert_eq!(s.len(), 1, "{input:?}: {s:?}");
            assert_eq!(s[0].text.replace('\n', ""), input.replace('\n', ""));
            assert!(!s[0].bold && !s[0].italic, "{input:?}");
        }
    }

    #[test]
    fn markup_in_the_text_is_just_text() {
        let s = spans("*<script>alert(1)</script>*");
        assert_eq!(render(&s), "[b|<script>alert(1)</script>]");
    }

    fn strip_markers(s: &str) -> String {
        s.chars()
            .filter(|c| !matches!(c, '*' | '_' | '~' | '`'))
            .collect()
    }

    proptest! {
        /// Formatting only ever removes markers: every other character stays, in order.
        #[test]
        fn only_markers_are_removed(text in "[a-c *_~`\n.,]{0,40}") {
            let out: String = spans(&text).iter().map(|s| s.text.as_str()).collect();
            prop_assert_eq!(strip_markers(&out), strip_markers(&text));
        }

        /// Any Unicode input is cut without panicking and keeps its non-marker text.
        #[test]
        fn any_text_is_kept(text in any::<String>()) {
            let out: String = spans(&text).iter().map(|s| s.text.as_str()).collect();
            prop_assert_eq!(strip_markers(&out), strip_markers(&text));
        }

        /// Words wrapped in one marker each come back with that style.
        #[test]
        fn wrapped_words_round_trip(words in proptest::collection::vec(("[a-z]{1,8}", 0..4usize), 1..8)) {
            let markers = ["", "*", "_", "~"];
            // Each word made unique by its position, so that it names one span.
            let words: Vec<(String, usize)> =
                words.into_iter().enumerate().map(|(i, (w, m))| (format!("{w}{i}"), m)).collect();
            let text = words
                .iter()
                .map(|(w, m)| format!("{0}{w}{0}", markers[*m]))
                .collect::<Vec<_>>()
                .join(" ");
            let out = spans(&text);
            for (w, m) in &words {
                let span = out.iter().find(|s| s.text.split(' ').any(|t| t == w));
                let span = span.expect("every word is in a span");
                prop_assert_eq!(span.bold, *m == 1);
                prop_assert_eq!(span.italic, *m == 2);
                prop_assert_eq!(span.strike, *m == 3);
            }
        }
    }
}
