//! What a stored file is, and whether a browser may be shown it as what it is.
//!
//! The type a customer's app declares (Meta's `mime_type`) is a label anyone can write; the
//! magic bytes at the start of the file are what a browser trusts once it sees them. A file is
//! shown inline only when both agree on one of the raster image types browsers decode without
//! running anything, and nothing in the bytes reads as markup: an SVG (which can hold script), an
//! HTML page labelled `image/jpeg`, or a JPEG with a page hidden in a comment segment (a
//! polyglot) are all handed over as opaque downloads instead (T-23).

/// The only types ever served inline: raster images, decoded by the browser's image decoders,
/// which run no script.
const INLINE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// How a stored media is handed to a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presentation {
    /// Shown as what it is, with this `Content-Type`.
    Inline(&'static str),
    /// `application/octet-stream`, as an attachment to save.
    Attachment,
}

impl Presentation {
    pub fn is_inline(self) -> bool {
        matches!(self, Self::Inline(_))
    }
}

/// The rule: inline only if the declared type is a raster image type, the bytes' magic numbers
/// say the same type, and the bytes hold no markup anywhere.
pub fn presentation(
    declared: Option<&str>,
    sniffed: Option<&str>,
    has_markup: bool,
) -> Presentation {
    let (Some(declared), Some(sniffed)) = (declared, sniffed) else {
        return Presentation::Attachment;
    };
    let declared = essence(declared);
    match INLINE_TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(&declared))
    {
        Some(t) if !has_markup && t.eq_ignore_ascii_case(essence(sniffed).as_str()) => {
            Presentation::Inline(t)
        }
        _ => Presentation::Attachment,
    }
}

/// `Image/JPEG; charset=binary` → `image/jpeg`.
fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The type the first bytes of a file show, if they show one `infer` knows.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    infer::get(head).map(|t| t.mime_type())
}

/// How much of a file's start is kept for sniffing: more than any signature `infer` reads.
pub const SNIFF_BYTES: usize = 8192;

/// The file extension that goes with a type, for a download without a customer's filename.
pub fn extension_of(mime: &str) -> Option<&'static str> {
    let essence = essence(mime);
    let known: &[(&str, &str)] = &[
        ("image/jpeg", "jpg"),
        ("image/png", "png"),
        ("image/gif", "gif"),
        ("image/webp", "webp"),
        ("image/svg+xml", "svg"),
        ("audio/ogg", "ogg"),
        ("audio/mpeg", "mp3"),
        ("audio/mp4", "m4a"),
        ("audio/aac", "aac"),
        ("audio/amr", "amr"),
        ("video/mp4", "mp4"),
        ("video/3gpp", "3gp"),
        ("application/pdf", "pdf"),
        ("text/plain", "txt"),
    ];
    known.iter().find(|(m, _)| *m == essence).map(|(_, e)| *e)
}

/// Markup that makes a file something a browser would run if it ever read it as a page: HTML
/// elements that load or run code, SVG, and `javascript:` URLs. Matched without case; a tag
/// name must be followed by a space, `>` or `/`, so that compressed image data (random bytes)
/// practically never matches. `<?xml` is left out: XMP metadata in ordinary photos holds it.
const MARKERS: &[(&[u8], bool)] = &[
    (b"<script", true),
    (b"<html", true),
    (b"<body", true),
    (b"<head", true),
    (b"<iframe", true),
    (b"<frame", true),
    (b"<svg", true),
    (b"<!doctype", true),
    (b"<object", true),
    (b"<embed", true),
    (b"<meta", true),
    (b"<style", true),
    (b"<img", true),
    (b"<link", true),
    (b"<form", true),
    (b"<base", true),
    (b"<math", true),
    (b"javascript:", false),
];

/// Longest marker, plus its boundary byte.
const WINDOW: usize = 12;

/// Looks for [`MARKERS`] in a file read chunk by chunk: a marker cut in two by a chunk boundary
/// is found as if the file were read at once.
#[derive(Debug, Default, Clone)]
pub struct MarkupScan {
    /// The end of what was fed, lower-cased, not yet checked with what follows it.
    carry: Vec<u8>,
    found: bool,
}

impl MarkupScan {
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.found || chunk.is_empty() {
            return;
        }
        let mut window = std::mem::take(&mut self.carry);
        window.extend(chunk.iter().map(u8::to_ascii_lowercase));
        // Positions whose marker and boundary may not be complete yet wait for the next chunk.
        let settled = window.len().saturating_sub(WINDOW - 1);
        self.found = (0..settled).any(|i| marker_at(&window, i, false));
        self.carry = window[settled..].to_vec();
    }

    /// Whether markup was found; the end of the file counts as a boundary.
    pub fn finish(mut self) -> bool {
        if !self.found {
            let rest = std::mem::take(&mut self.carry);
            self.found = (0..rest.len()).any(|i| marker_at(&rest, i, true));
        }
        self.found
    }
}

/// Whether a marker starts at `i` of lower-cased `bytes`.
fn marker_at(bytes: &[u8], i: usize, end_is_boundary: bool) -> bool {
    let here = &bytes[i..];
    if !matches!(here.first(), Some(b'<' | b'j')) {
        return false;
    }
    MARKERS.iter().any(|(marker, bounded)| {
        if !here.starts_with(marker) {
            return false;
        }
        if !bounded {
            return true;
        }
        match here.get(marker.len()) {
            Some(b) => b.is_ascii_whitespace() || matches!(b, b'>' | b'/'),
            None => end_is_boundary,
        }
    })
}

/// Whether `bytes`, read at once, hold markup.
#[cfg(test)]
fn has_markup(bytes: &[u8]) -> bool {
    let mut scan = MarkupScan::default();
    scan.feed(bytes);
    scan.finish()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";

    #[test]
    fn only_raster_images_whose_bytes_agree_are_inline() {
        let jpeg = sniff(JPEG);
        assert_eq!(jpeg, Some("image/jpeg"));
        assert_eq!(sniff(PNG), Some("image/png"));
        assert_eq!(
            presentation(Some("image/jpeg"), jpeg, false),
            Presentation::Inline("image/jpeg")
        );
        assert_eq!(
            presentation(Some("IMAGE/PNG; charset=binary"), Some("image/png"), false),
            Presentation::Inline("image/png")
        );
        for (declared, sniffed, markup) in [
            // An HTML page labelled as a JPEG: the bytes disagree.
            (
                Some("image/jpeg"),
                sniff(b"<!DOCTYPE html><html><script>"),
                false,
            ),
            // A PNG labelled as a JPEG: the bytes disagree too.
            (Some("image/jpeg"), Some("image/png"), false),
            // A JPEG with a page inside (polyglot).
            (Some("image/jpeg"), Some("image/jpeg"), true),
            // SVG can hold script; it is never inline, whatever its bytes.
            (Some("image/svg+xml"), Some("image/svg+xml"), false),
            (Some("text/html"), Some("text/html"), false),
            (Some("application/pdf"), Some("application/pdf"), false),
            (Some("audio/ogg"), Some("audio/ogg"), false),
            (Some("video/mp4"), Some("video/mp4"), false),
            // Nothing declared, or nothing recognised in the bytes.
            (None, Some("image/png"), false),
            (Some("image/png"), None, false),
        ] {
            assert_eq!(
                presentation(declared, sniffed, markup),
                Presentation::Attachment,
                "{declared:?} / {sniffed:?} / markup {markup}"
            );
        }
    }

    #[test]
    fn markup_is_found_in_pages_svg_and_polyglots_not_in_plain_images() {
        assert!(has_markup(
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"
        ));
        assert!(has_markup(b"  <!DOCTYPE html>\n<p>hi"));
        assert!(has_markup(b"<HTML>"));
        assert!(has_markup(b"<a href=\"JavaScript:alert(1)\">"));
        let mut polyglot = JPEG.to_vec();
        polyglot.extend_from_slice(b"\xff\xfe\x00\x20<iframe/src=x>");
        assert!(has_markup(&polyglot));
        assert!(has_markup(b"ends with <script"), "the end is a boundary");
        assert!(!has_markup(JPEG));
        assert!(!has_markup(PNG));
        assert!(!has_markup(
            b"<scripture> is not a tag guichet fears; <svgfoo> neither"
        ));
        assert!(!has_markup(b"x:xmpmeta <?xml version=\"1.0\"?> <rdf:RDF>"));
        assert!(!has_markup(b""));
    }

    proptest! {
        /// Reading in chunks finds exactly what reading at once finds, wherever the cuts fall.
        #[test]
        fn chunks_do_not_hide_markup(
            before in proptest::collection::vec(any::<u8>(), 0..64),
            marker in prop::sample::select(vec!["<ScRiPt>", "<svg ", "javascript:", "<img/", "<b>", "<scriptx"]),
            after in proptest::collection::vec(any::<u8>(), 0..64),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let mut bytes = before;
            bytes.extend_from_slice(marker.as_bytes());
            bytes.extend_from_slice(&after);
            let at_once = has_markup(&bytes);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut scan = MarkupScan::default();
            let mut from = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                scan.feed(&bytes[from..cut]);
                from = cut;
            }
            prop_assert_eq!(scan.finish(), at_once);
            if marker != "<b>" && marker != "<scriptx" {
                prop_assert!(at_once, "{:?} is markup", marker);
            }
        }
    }
}
