//! Opt-out and opt-in keywords: a customer who writes "STOP", "Arrêt" or "baja" stops marketing
//! messages; "START" brings them back (cloud-api.md §6.3; what-users-ask.md asks for
//! STOP / "Stop promotions" handling). Meta's own stop is the `user_preferences` webhook; this is
//! guichet's, for customers who type it instead.
//!
//! A keyword matches only the whole message, once normalised: "Stop." and "  ARRÊT !" match,
//! "stop by tomorrow" does not, so ordinary conversation never opts anyone out. Normalising
//! decomposes (Unicode NFKD, with the `unicode-normalization` crate), lowercases, drops accents
//! and other combining marks, folds the Latin letters with no decomposition (ø, ł, ß, æ, œ…),
//! turns everything that is not a letter or digit into a separator, and squeezes separators into
//! single spaces.

use unicode_normalization::UnicodeNormalization as _;
use unicode_normalization::char::is_combining_mark;

/// The text as keyword matching sees it. Idempotent: `normalise(&normalise(s)) == normalise(s)`.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    // Compatibility decomposition takes accents off their letters and turns full-width and other
    // variant forms into plain ones; decomposing again after lowercasing catches what
    // lowercasing composed (`İ` → `i` + dot above).
    for c in text.nfkd().flat_map(char::to_lowercase).nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        let kept = match fold_latin(c) {
            Some(s) => Some(s),
            None if c.is_alphanumeric() => None,
            None => {
                pending_space = true;
                continue;
            }
        };
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        match kept {
            Some(s) => out.push_str(s),
            None => out.push(c),
        }
    }
    out
}

/// Lowercase Latin letters that Unicode does not decompose, and ligatures, to ASCII.
fn fold_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'æ' => "ae",
        'ð' | 'đ' => "d",
        'ħ' => "h",
        'ı' => "i",
        'ł' => "l",
        'ø' => "o",
        'œ' => "oe",
        'ß' => "ss",
        'ŧ' => "t",
        'þ' => "th",
        _ => return None,
    })
}

/// Opt-out keywords guichet knows out of the box: English, French, Spanish, Portuguese, German,
/// Italian and Dutch. Words that are also ordinary customer-service answers ("cancel", "end",
/// "quit", "voltar") are left out: in a support chat, "cancel" usually means an order.
pub const DEFAULT_OPT_OUT: &[&str] = &[
    // en
    "stop",
    "stop all",
    "stopall",
    "stop promotions",
    "stop marketing",
    "unsubscribe",
    "opt out",
    "optout",
    // fr
    "arrêt",
    "arrêter",
    "stop pub",
    "désabonner",
    "me désabonner",
    "désabonnement",
    "désinscription",
    // es
    "baja",
    "dar de baja",
    "darme de baja",
    "parar",
    "detener",
    "cancelar suscripción",
    // pt
    "pare",
    "sair",
    "descadastrar",
    "cancelar inscrição",
    // de
    "stopp",
    "abmelden",
    "abbestellen",
    "austragen",
    // it
    "basta",
    "disiscrivimi",
    "cancellami",
    "annulla iscrizione",
    // nl
    "afmelden",
];

/// Opt-in keywords: the customer asks for messages again.
pub const DEFAULT_OPT_IN: &[&str] = &[
    // en
    "start",
    "unstop",
    "subscribe",
    "opt in",
    "optin",
    // fr
    "démarrer",
    "reprendre",
    "m'abonner",
    "abonner",
    // es
    "alta",
    "darme de alta",
    "suscribirme",
    "reanudar",
    // pt
    "assinar",
    "retomar",
    "inscrever",
    // de
    "anmelden",
    "fortsetzen",
    // it
    "iscrivimi",
    "riprendi",
    // nl
    "aanmelden",
];

/// What a keyword message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeywordKind {
    OptOut,
    OptIn,
}

/// A business's keyword lists, normalised once. `Default` is [`DEFAULT_OPT_OUT`] and
/// [`DEFAULT_OPT_IN`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    opt_out: Vec<String>,
    opt_in: Vec<String>,
}

impl Keywords {
    /// Keyword lists as configured, in any case and with or without accents. Keywords that
    /// normalise to nothing (punctuation only) are dropped.
    pub fn new<S: AsRef<str>>(
        opt_out: impl IntoIterator<Item = S>,
        opt_in: impl IntoIterator<Item = S>,
    ) -> Self {
        let prepare = |words: &mut dyn Iterator<Item = S>| {
            let mut out: Vec<String> = words
                .map(|w| normalise(w.as_ref()))
                .filter(|w| !w.is_empty())
                .collect();
            out.sort();
            out.dedup();
            out
        };
        Self {
            opt_out: prepare(&mut opt_out.into_iter()),
            opt_in: prepare(&mut opt_in.into_iter()),
        }
    }

    /// What `text` asks for, if it is a keyword. A word in both lists counts as an opt-out:
    /// missing an opt-in is a lesser harm than missing an opt-out.
    pub fn classify(&self, text: &str) -> Option<KeywordKind> {
        let t = normalise(text);
        if t.is_empty() {
            None
        } else if self.opt_out.contains(&t) {
            Some(KeywordKind::OptOut)
        } else if self.opt_in.contains(&t) {
            Some(KeywordKind::OptIn)
        } else {
            None
        }
    }
}

impl Default for Keywords {
    fn default() -> Self {
        Self::new(DEFAULT_OPT_OUT.iter(), DEFAULT_OPT_IN.iter())
    }
}

/// Whether the customer's message asks to stop messages.
pub fn is_opt_out(text: &str, keywords: &Keywords) -> bool {
    keywords.classify(text) == Some(KeywordKind::OptOut)
}

/// Whether the customer's message asks for messages again.
pub fn is_opt_in(text: &str, keywords: &Keywords) -> bool {
    keywords.classify(text) == Some(KeywordKind::OptIn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stop_in_many_spellings_matches_and_sentences_do_not() {
        let k = Keywords::default();
        for text in [
            "STOP",
            "stop",
            "Stop.",
            " stop! ",
            "Arrêt",
            "ARRET",
            "arrêt",
            "arre\u{0302}t",
            "ＳＴＯＰ",
            "Stop 🛑",
            "BAJA",
            "Stopp",
            "désabonner",
            "DESABONNER",
            "stop all",
            "Stop   promotions!!",
        ] {
            assert!(is_opt_out(text, &k), "{text:?} should opt out");
        }
        for text in [
            "stop by tomorrow",
            "please don't stop",
            "bus stop",
            "cancel",
            "",
            "...",
            "start",
        ] {
            assert!(!is_opt_out(text, &k), "{text:?} should not opt out");
        }
    }

    #[test]
    fn start_opts_back_in() {
        let k = Keywords::default();
        assert!(is_opt_in("START", &k));
        assert!(is_opt_in("Démarrer", &k));
        assert!(is_opt_in("m’abonner", &k));
        assert!(!is_opt_in("start my order", &k));
        assert!(!is_opt_in("stop", &k));
    }

    #[test]
    fn lists_are_configurable_and_opt_out_wins_a_tie() {
        let k = Keywords::new(["HALT", "Ça suffit"], ["go", "halt"]);
        assert!(is_opt_out("halt", &k));
        assert!(is_opt_out("ca suffit !", &k));
        assert!(!is_opt_out("stop", &k));
        assert!(is_opt_in("GO", &k));
        assert_eq!(k.classify("halt"), Some(KeywordKind::OptOut));
        let empty = Keywords::new(["!!"], Vec::<&str>::new());
        assert_eq!(empty.classify("!!"), None);
    }

    #[test]
    fn normalisation_examples() {
        assert_eq!(normalise("  Arrêt,  SVP! "), "arret svp");
        assert_eq!(normalise("Straße"), "strasse");
        assert_eq!(normalise("İstanbul"), "istanbul");
        assert_eq!(normalise("Œuvre"), "oeuvre");
        assert_eq!(normalise("¡Baja!"), "baja");
    }

    proptest! {
        #[test]
        fn normalise_is_idempotent(s in any::<String>()) {
            let once = normalise(&s);
            prop_assert_eq!(normalise(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' '));
            prop_assert!(!once.contains("  "));
        }

        #[test]
        fn a_keyword_inside_a_longer_sentence_never_matches(
            before in "[a-z]{1,8}", after in "[a-z]{1,8}"
        ) {
            let k = Keywords::default();
            let sentence = format!("{before} stop {after}");
            prop_assert!(!is_opt_out(&sentence, &k));
            let trailing = format!("stop {after}");
            prop_assert!(!is_opt_out(&trailing, &k) || after == "all" || after == "pub");
        }

        #[test]
        fn case_and_punctuation_around_a_keyword_do_not_matter(
            word in proptest::sample::select(DEFAULT_OPT_OUT),
            upper in any::<bool>(),
            punct in "[.!?,;: ]{0,3}",
        ) {
            let k = Keywords::default();
            let w = if upper { word.to_uppercase() } else { word.to_owned() };
            let text = format!("{punct}{w}{punct}");
            prop_assert!(is_opt_out(&text, &k));
        }
    }
}
