//! Declarative bot flows: what a business's bot says, asks and does, in a TOML file the business
//! can read, review and version (docs/bots.md describes the format; `examples/flows/` holds three).
//!
//! A flow is a set of named steps. A step says something and then either waits for the customer
//! (reply buttons, a list, a list built from the back-end's answer, a question whose answer is
//! kept), calls the business's back-end over HTTP and branches on the answer, hands the
//! conversation to a human, or ends it. The flow's intents (a name and a few example phrases each)
//! are what the scope guard recognises in free text; each leads to a step, answers from a small
//! FAQ, or hands over. Anything else is out of scope: the bot deflects it politely and offers a
//! human — it never answers it.
//!
//! [`Flow::parse`] reads and validates a file, and reports every problem at once with where it
//! is and what to do. [`Flow`]'s methods in `engine` run it: pure, the guard's decision and the
//! back-end's answer are passed in.

mod engine;
mod template;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::guard::Intent;

pub use template::placeholders;

pub use engine::{After, CallOutcome, Input, Request, Session, Turn, customer_vars, needs_guard};

/// The variables of a conversation with the bot: what the customer answered, what the back-end
/// said, and `customer` (`name`, `wa_id`).
pub type Vars = BTreeMap<String, serde_json::Value>;

/// Reply ids guichet adds to the bot's messages itself; a flow's own ids may not start so.
pub const RESERVED_PREFIX: &str = "guichet:";
/// The deflection's button that asks for a human.
pub const HUMAN_REPLY: &str = "guichet:human";
/// The deflection's button that shows the flow's menu again.
pub const MENU_REPLY: &str = "guichet:menu";

// Meta's limits on interactive messages (cloud-api.md §3).
const MAX_BUTTONS: usize = 3;
const MAX_BUTTON_TITLE: usize = 20;
const MAX_ROWS: usize = 10;
const MAX_ROW_TITLE: usize = 24;
const MAX_ROW_DESCRIPTION: usize = 72;
const MAX_LIST_BUTTON: usize = 20;
const MAX_INTERACTIVE_BODY: usize = 1024;
const MAX_TEXT: usize = 4096;
const MAX_ID: usize = 200;

/// A validated flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub name: String,
    /// The version of the flow and its intents, recorded with every guard decision.
    pub version: String,
    /// The step the bot starts at, and goes back to on "menu".
    pub start: String,
    /// Said once when the bot starts with a customer, before the first step.
    pub greeting: Option<String>,
    /// The answer to an out-of-scope request, with buttons for a human and the menu.
    pub deflection: String,
    /// Said when the bot hands a conversation over.
    pub handoff_message: String,
    /// Said when the back-end cannot be reached and the flow has no `on_error` step.
    pub backend_down: String,
    /// Words with which a customer asks for a human, compared after [`normalise`].
    pub human_keywords: Vec<String>,
    /// The buttons of the deflection.
    pub human_label: String,
    pub menu_label: String,
    pub intents: Vec<FlowIntent>,
    pub steps: BTreeMap<String, Step>,
}

/// One intent of the flow, with where recognising it leads.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowIntent {
    pub name: String,
    pub examples: Vec<String>,
    pub target: Target,
}

/// Where a recognised intent leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The flow goes on at this step.
    Step(String),
    /// An answer from the FAQ; the customer stays where they were.
    Answer(String),
    /// The customer wants a human.
    Handoff,
}

/// A step: optionally a text, then what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The text sent (the body of the buttons or list, the question).
    pub say: Option<String>,
    pub kind: StepKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Says `say`, then goes on to the step given, or waits for whatever the customer writes.
    Message { goto: Option<String> },
    /// Up to three reply buttons.
    Buttons(Vec<Choice>),
    /// A list of up to ten rows.
    List { button: String, rows: Vec<Choice> },
    /// A list of the items of an array the back-end answered.
    ListFrom(ListFrom),
    /// A question whose answer is kept in a variable.
    Ask(Ask),
    /// A request to the business's back-end.
    Call(Call),
    /// Hands the conversation to a human.
    Handoff,
    /// Ends (resolves) the conversation.
    End,
}

impl StepKind {
    /// Whether the bot waits for the customer at this step.
    pub fn waits(&self) -> bool {
        matches!(
            self,
            Self::Buttons(_) | Self::List { .. } | Self::ListFrom(_) | Self::Ask(_)
        )
    }
}

/// A reply button or a list row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub goto: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFrom {
    /// The path of the array (`slots`, `result.items`).
    pub items: String,
    /// Templates over one item (`{{id}}`, `{{label}}`).
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub button: String,
    /// Where the chosen item is kept.
    pub save: String,
    pub goto: String,
    /// Where to go when the array is empty or missing.
    pub empty: String,
}

#[derive(Debug, Clone)]
pub struct Ask {
    pub save: String,
    /// What a valid answer matches (anchored by the flow's author), if anything.
    pub pattern: Option<regex::Regex>,
    /// Said when the answer does not match; the question stays open.
    pub invalid: String,
    pub max_chars: usize,
    pub goto: String,
}

impl PartialEq for Ask {
    fn eq(&self, other: &Self) -> bool {
        self.save == other.save
            && self.pattern.as_ref().map(regex::Regex::as_str)
                == other.pattern.as_ref().map(regex::Regex::as_str)
            && self.invalid == other.invalid
            && self.max_chars == other.max_chars
            && self.goto == other.goto
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: Method,
    /// Relative to the back-end's base URL; placeholders are filled percent-encoded.
    pub path: String,
    /// A JSON object whose string values are templates.
    pub body: Option<serde_json::Value>,
    /// Where the answer (its JSON body) is kept.
    pub save: Option<String>,
    pub on_ok: String,
    /// Where a 404 leads; without it, a 404 is an error.
    pub on_not_found: Option<String>,
    /// Where any other failure leads; without it, the bot says `backend_down` and hands over.
    pub on_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// Everything wrong with a flow file, each with where and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct FlowError {
    pub problems: Vec<String>,
}

impl Flow {
    /// Reads and validates a flow file's text.
    pub fn parse(text: &str) -> Result<Self, FlowError> {
        let raw: RawFlow = toml::from_str(text).map_err(|e| FlowError {
            problems: vec![e.to_string().trim_end().to_owned()],
        })?;
        let mut v = Validator::default();
        let flow = v.flow(&raw);
        if v.problems.is_empty() {
            Ok(flow)
        } else {
            Err(FlowError {
                problems: v.problems,
            })
        }
    }

    /// The flow's intents, as the scope guard takes them.
    pub fn guard_intents(&self) -> Vec<Intent> {
        self.intents
            .iter()
            .map(|i| Intent {
                name: i.name.clone(),
                examples: i.examples.clone(),
            })
            .collect()
    }
}

/// Texts are compared loosely — lower case, without accents or punctuation, spaces squeezed —
/// exactly as opt-out keywords are.
pub use crate::policy::normalise;

// ---- The file as written ----------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    bot: RawBot,
    #[serde(default)]
    intents: Vec<RawIntent>,
    #[serde(default)]
    steps: BTreeMap<String, RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBot {
    name: String,
    version: String,
    start: String,
    #[serde(default)]
    greeting: Option<String>,
    #[serde(default = "default_deflection")]
    deflection: String,
    #[serde(default = "default_handoff")]
    handoff_message: String,
    #[serde(default = "default_backend_down")]
    backend_down: String,
    #[serde(default = "default_human_keywords")]
    human_keywords: Vec<String>,
    #[serde(default = "default_human_label")]
    human_label: String,
    #[serde(default = "default_menu_label")]
    menu_label: String,
}

fn default_deflection() -> String {
    "Sorry, I can only help with questions about our services. Would you like to talk to a \
     person?"
        .into()
}
fn default_handoff() -> String {
    "I'm passing you to a colleague, who will answer here as soon as possible.".into()
}
fn default_backend_down() -> String {
    "Sorry, I can't reach our system right now.".into()
}
fn default_human_keywords() -> Vec<String> {
    [
        "human",
        "agent",
        "person",
        "talk to a person",
        "humain",
        "conseiller",
        "persona",
        "agente",
        "atendente",
        "mensch",
        "operatore",
    ]
    .map(String::from)
    .to_vec()
}
fn default_human_label() -> String {
    "Talk to a person".into()
}
fn default_menu_label() -> String {
    "Main menu".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntent {
    name: String,
    examples: Vec<String>,
    #[serde(default)]
    goto: Option<String>,
    #[serde(default)]
    answer: Option<String>,
    #[serde(default)]
    handoff: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default)]
    say: Option<String>,
    #[serde(default)]
    goto: Option<String>,
    #[serde(default)]
    buttons: Option<Vec<RawChoice>>,
    #[serde(default)]
    list: Option<RawList>,
    #[serde(default)]
    list_from: Option<RawListFrom>,
    #[serde(default)]
    ask: Option<RawAsk>,
    #[serde(default)]
    call: Option<RawCall>,
    #[serde(default)]
    handoff: bool,
    #[serde(default)]
    end: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChoice {
    id: String,
    title: String,
    #[serde(default)]
    description: Option<String>,
    goto: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    button: String,
    rows: Vec<RawChoice>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListFrom {
    items: String,
    id: String,
    title: String,
    #[serde(default)]
    description: Option<String>,
    button: String,
    save: String,
    goto: String,
    empty: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsk {
    save: String,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default = "default_invalid")]
    invalid: String,
    #[serde(default = "default_max_chars")]
    max_chars: usize,
}

fn default_invalid() -> String {
    "Sorry, I did not understand that answer. Please try again.".into()
}
fn default_max_chars() -> usize {
    1000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    method: String,
    path: String,
    #[serde(default)]
    body: Option<toml::Table>,
    #[serde(default)]
    save: Option<String>,
    on_ok: String,
    #[serde(default)]
    on_not_found: Option<String>,
    #[serde(default)]
    on_error: Option<String>,
}

// ---- Validation -------------------------------------------------------------------------------

#[derive(Default)]
struct Validator {
    problems: Vec<String>,
}

impl Validator {
    fn problem(&mut self, at: &str, what: impl std::fmt::Display) {
        self.problems.push(format!("{at}: {what}"));
    }

    fn flow(&mut self, raw: &RawFlow) -> Flow {
        let b = &raw.bot;
        for (key, value) in [
            ("name", &b.name),
            ("version", &b.version),
            ("deflection", &b.deflection),
            ("handoff_message", &b.handoff_message),
            ("backend_down", &b.backend_down),
        ] {
            if value.trim().is_empty() {
                self.problem(&format!("[bot] {key}"), "is empty: write it");
            }
        }
        self.text("[bot] deflection", &b.deflection, MAX_INTERACTIVE_BODY);
        self.text("[bot] handoff_message", &b.handoff_message, MAX_TEXT);
        self.text("[bot] backend_down", &b.backend_down, MAX_TEXT);
        if let Some(g) = &b.greeting {
            self.text("[bot] greeting", g, MAX_TEXT);
        }
        self.title("[bot] human_label", &b.human_label, MAX_BUTTON_TITLE);
        self.title("[bot] menu_label", &b.menu_label, MAX_BUTTON_TITLE);
        if raw.steps.is_empty() {
            self.problem(
                "[steps]",
                "the flow has no steps: add at least `[steps.menu]`",
            );
        } else if !raw.steps.contains_key(&b.start) {
            self.missing("[bot] start", &b.start, &raw.steps);
        }
        let human_keywords: Vec<String> = b
            .human_keywords
            .iter()
            .map(|k| normalise(k))
            .filter(|k| !k.is_empty())
            .collect();

        let mut saved: BTreeSet<String> = BTreeSet::from(["customer".to_owned()]);
        for step in raw.steps.values() {
            let save = [
                step.ask.as_ref().map(|a| &a.save),
                step.list_from.as_ref().map(|l| &l.save),
                step.call.as_ref().and_then(|c| c.save.as_ref()),
            ];
            saved.extend(save.into_iter().flatten().cloned());
        }

        let intents = self.intents(&raw.intents, &raw.steps);
        let steps: BTreeMap<String, Step> = raw
            .steps
            .iter()
            .filter_map(|(name, s)| Some((name.clone(), self.step(name, s, &raw.steps, &saved)?)))
            .collect();
        let flow = Flow {
            name: b.name.clone(),
            version: b.version.clone(),
            start: b.start.clone(),
            greeting: b.greeting.clone(),
            deflection: b.deflection.clone(),
            handoff_message: b.handoff_message.clone(),
            backend_down: b.backend_down.clone(),
            human_keywords,
            human_label: b.human_label.clone(),
            menu_label: b.menu_label.clone(),
            intents,
            steps,
        };
        if self.problems.is_empty() {
            self.graph(&flow);
        }
        flow
    }

    fn missing(&mut self, at: &str, name: &str, steps: &BTreeMap<String, RawStep>) {
        let known: Vec<&str> = steps.keys().map(String::as_str).collect();
        self.problem(
            at,
            format!(
                "goes to `{name}`, which is not a step (the steps are: {})",
                known.join(", ")
            ),
        );
    }

    fn goto(&mut self, at: &str, name: &str, steps: &BTreeMap<String, RawStep>) -> String {
        if !steps.contains_key(name) {
            self.missing(at, name, steps);
        }
        name.to_owned()
    }

    fn text(&mut self, at: &str, text: &str, max: usize) {
        let n = text.chars().count();
        if n > max {
            self.problem(
                at,
                format!("is {n} characters; WhatsApp takes at most {max}"),
            );
        }
    }

    fn title(&mut self, at: &str, text: &str, max: usize) {
        if text.trim().is_empty() {
            self.problem(at, "is empty: give it a title");
        }
        self.text(at, text, max);
    }

    fn variable(&mut self, at: &str, name: &str) {
        let ok = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            self.problem(
                at,
                format!("`{name}` is not a variable name: use letters, digits and `_`"),
            );
        }
    }

    /// Every placeholder of `text` names a variable some step saves (or `customer`).
    fn placeholders(&mut self, at: &str, text: &str, saved: &BTreeSet<String>) {
        for p in placeholders(text) {
            let root = p.split('.').next().unwrap_or_default();
            if !saved.contains(root) {
                let known: Vec<&str> = saved.iter().map(String::as_str).collect();
                self.problem(
                    at,
                    format!(
                        "`{{{{{p}}}}}` names `{root}`, which no step saves (variables: {})",
                        known.join(", ")
                    ),
                );
            }
        }
    }

    fn intents(&mut self, raw: &[RawIntent], steps: &BTreeMap<String, RawStep>) -> Vec<FlowIntent> {
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for i in raw {
            let at = format!("intent `{}`", i.name);
            if i.name.trim().is_empty() {
                self.problem("[[intents]]", "an intent has no name");
            }
            if !names.insert(i.name.clone()) {
                self.problem(&at, "is defined twice: merge the two");
            }
            let examples: Vec<String> = i
                .examples
                .iter()
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
                .collect();
            if examples.is_empty() {
                self.problem(
                    &at,
                    "has no examples: give a few phrases customers use for it",
                );
            }
            let target = match (&i.goto, &i.answer, i.handoff) {
                (Some(goto), None, false) => Target::Step(self.goto(&at, goto, steps)),
                (None, Some(answer), false) => {
                    self.text(&at, answer, MAX_TEXT);
                    if placeholders(answer)
                        .iter()
                        .any(|p| !p.starts_with("customer"))
                    {
                        self.problem(&at, "an FAQ answer may only use `{{customer.…}}`");
                    }
                    Target::Answer(answer.clone())
                }
                (None, None, true) => Target::Handoff,
                _ => {
                    self.problem(
                        &at,
                        "needs exactly one of `goto = \"step\"`, `answer = \"…\"` or `handoff = true`",
                    );
                    Target::Handoff
                }
            };
            out.push(FlowIntent {
                name: i.name.clone(),
                examples,
                target,
            });
        }
        out
    }

    fn choices(
        &mut self,
        at: &str,
        raw: &[RawChoice],
        max: usize,
        title_max: usize,
        steps: &BTreeMap<String, RawStep>,
    ) -> Vec<Choice> {
        if raw.is_empty() || raw.len() > max {
            self.problem(
                at,
                format!(
                    "has {} choices; WhatsApp shows 1 to {max}: split it into two steps",
                    raw.len()
                ),
            );
        }
        let mut ids = BTreeSet::new();
        let mut out = Vec::new();
        for (n, c) in raw.iter().enumerate() {
            let here = format!("{at} choice {} (`{}`)", n + 1, c.id);
            if c.id.trim().is_empty() || c.id.chars().count() > MAX_ID {
                self.problem(&here, format!("its id must be 1 to {MAX_ID} characters"));
            }
            if c.id.starts_with(RESERVED_PREFIX) {
                self.problem(
                    &here,
                    format!("ids starting with `{RESERVED_PREFIX}` are guichet's own"),
                );
            }
            if !ids.insert(c.id.clone()) {
                self.problem(&here, "its id is used twice in this step");
            }
            self.title(&format!("{here} title"), &c.title, title_max);
            if let Some(d) = &c.description {
                if max == MAX_BUTTONS {
                    self.problem(&here, "buttons have no description: use a list");
                }
                self.text(&format!("{here} description"), d, MAX_ROW_DESCRIPTION);
            }
            out.push(Choice {
                id: c.id.clone(),
                title: c.title.clone(),
                description: c.description.clone(),
                goto: self.goto(&here, &c.goto, steps),
            });
        }
        out
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one arm per kind of step, each short"
    )]
    fn step(
        &mut self,
        name: &str,
        s: &RawStep,
        steps: &BTreeMap<String, RawStep>,
        saved: &BTreeSet<String>,
    ) -> Option<Step> {
        let at = format!("step `{name}`");
        if name.starts_with(RESERVED_PREFIX) || name.trim().is_empty() {
            self.problem(&at, "is not a usable step name");
        }
        let kinds = [
            s.buttons.is_some(),
            s.list.is_some(),
            s.list_from.is_some(),
            s.ask.is_some(),
            s.call.is_some(),
            s.handoff,
            s.end,
        ];
        let count = kinds.iter().filter(|k| **k).count();
        if count > 1 {
            self.problem(
                &at,
                "does several things: keep one of `buttons`, `list`, `list_from`, `ask`, `call`, \
                 `handoff`, `end` per step and chain steps with `goto`",
            );
            return None;
        }
        let interactive = s.buttons.is_some() || s.list.is_some() || s.list_from.is_some();
        if let Some(say) = &s.say {
            let max = if interactive {
                MAX_INTERACTIVE_BODY
            } else {
                MAX_TEXT
            };
            self.text(&format!("{at} say"), say, max);
            self.placeholders(&format!("{at} say"), say, saved);
            if say.trim().is_empty() {
                self.problem(&format!("{at} say"), "is empty: write it or leave it out");
            }
        } else if interactive || s.ask.is_some() {
            self.problem(
                &at,
                "needs `say`: the text above its choices, or its question",
            );
        } else if count == 0 {
            self.problem(&at, "does nothing: give it `say`, or one of `buttons`, `list`, `list_from`, `ask`, `call`, `handoff`, `end`");
        }
        let needs_goto = s.ask.is_some();
        let takes_goto = needs_goto || count == 0;
        if s.goto.is_some() && !takes_goto {
            self.problem(
                &at,
                "has `goto`, which this kind of step does not use (choices and calls say where \
                 they go)",
            );
        }
        if needs_goto && s.goto.is_none() {
            self.problem(&at, "needs `goto`: where to go once the customer answered");
        }
        let goto = s.goto.as_ref().map(|g| self.goto(&at, g, steps));
        let kind = if let Some(b) = &s.buttons {
            StepKind::Buttons(self.choices(
                &format!("{at} buttons"),
                b,
                MAX_BUTTONS,
                MAX_BUTTON_TITLE,
                steps,
            ))
        } else if let Some(l) = &s.list {
            self.title(&format!("{at} list.button"), &l.button, MAX_LIST_BUTTON);
            StepKind::List {
                button: l.button.clone(),
                rows: self.choices(
                    &format!("{at} list"),
                    &l.rows,
                    MAX_ROWS,
                    MAX_ROW_TITLE,
                    steps,
                ),
            }
        } else if let Some(l) = &s.list_from {
            let here = format!("{at} list_from");
            self.title(&format!("{here}.button"), &l.button, MAX_LIST_BUTTON);
            self.variable(&format!("{here}.save"), &l.save);
            let root = l.items.split('.').next().unwrap_or_default();
            if !saved.contains(root) {
                self.problem(
                    &format!("{here}.items"),
                    format!("`{}` is not saved by any step (a `call`'s `save`)", l.items),
                );
            }
            StepKind::ListFrom(ListFrom {
                items: l.items.clone(),
                id: l.id.clone(),
                title: l.title.clone(),
                description: l.description.clone(),
                button: l.button.clone(),
                save: l.save.clone(),
                goto: self.goto(&here, &l.goto, steps),
                empty: self.goto(&format!("{here}.empty"), &l.empty, steps),
            })
        } else if let Some(a) = &s.ask {
            let here = format!("{at} ask");
            self.variable(&format!("{here}.save"), &a.save);
            let pattern = a.pattern.as_ref().and_then(|p| match regex::Regex::new(p) {
                Ok(r) => Some(r),
                Err(e) => {
                    self.problem(
                        &format!("{here}.pattern"),
                        format!("is not a regular expression: {e}"),
                    );
                    None
                }
            });
            if a.max_chars == 0 {
                self.problem(&format!("{here}.max_chars"), "must be at least 1");
            }
            self.text(&format!("{here}.invalid"), &a.invalid, MAX_TEXT);
            StepKind::Ask(Ask {
                save: a.save.clone(),
                pattern,
                invalid: a.invalid.clone(),
                max_chars: a.max_chars,
                goto: goto.clone().unwrap_or_default(),
            })
        } else if let Some(c) = &s.call {
            StepKind::Call(self.call(&at, c, steps, saved))
        } else if s.handoff {
            StepKind::Handoff
        } else if s.end {
            StepKind::End
        } else {
            StepKind::Message { goto }
        };
        Some(Step {
            say: s.say.clone(),
            kind,
        })
    }

    fn call(
        &mut self,
        at: &str,
        c: &RawCall,
        steps: &BTreeMap<String, RawStep>,
        saved: &BTreeSet<String>,
    ) -> Call {
        let here = format!("{at} call");
        let method = match c.method.to_ascii_uppercase().as_str() {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            other => {
                self.problem(
                    &format!("{here}.method"),
                    format!("`{other}`: use GET (to read) or POST (to create)"),
                );
                None
            }
        };
        if !c.path.starts_with('/') || c.path.contains("://") {
            self.problem(
                &format!("{here}.path"),
                "must start with `/`: it is relative to the back-end's address in the settings",
            );
        }
        self.placeholders(&format!("{here}.path"), &c.path, saved);
        if method == Some(Method::Get) && c.body.is_some() {
            self.problem(&format!("{here}.body"), "a GET has no body: use POST");
        }
        let body = c.body.as_ref().map(|table| {
            for (key, value) in table {
                self.body_placeholders(&format!("{here}.body.{key}"), value, saved);
            }
            serde_json::to_value(table).unwrap_or_default()
        });
        if let Some(s) = &c.save {
            self.variable(&format!("{here}.save"), s);
        }
        Call {
            method: method.unwrap_or(Method::Post),
            path: c.path.clone(),
            body,
            save: c.save.clone(),
            on_ok: self.goto(&format!("{here}.on_ok"), &c.on_ok, steps),
            on_not_found: c
                .on_not_found
                .as_ref()
                .map(|g| self.goto(&format!("{here}.on_not_found"), g, steps)),
            on_error: c
                .on_error
                .as_ref()
                .map(|g| self.goto(&format!("{here}.on_error"), g, steps)),
        }
    }

    /// The placeholders of a body's value, however deep: the engine fills strings in nested
    /// tables and arrays too, so a misspelt variable there is as wrong as at the top.
    fn body_placeholders(&mut self, at: &str, value: &toml::Value, saved: &BTreeSet<String>) {
        match value {
            toml::Value::String(s) => self.placeholders(at, s, saved),
            toml::Value::Array(items) => {
                for (n, item) in items.iter().enumerate() {
                    self.body_placeholders(&format!("{at}.{n}"), item, saved);
                }
            }
            toml::Value::Table(table) => {
                for (key, item) in table {
                    self.body_placeholders(&format!("{at}.{key}"), item, saved);
                }
            }
            _ => {}
        }
    }

    /// Every step can be reached, and no chain of steps that do not wait loops forever.
    fn graph(&mut self, flow: &Flow) {
        let mut reached = BTreeSet::new();
        let mut todo: Vec<&str> = vec![&flow.start];
        for i in &flow.intents {
            if let Target::Step(s) = &i.target {
                todo.push(s);
            }
        }
        while let Some(name) = todo.pop() {
            if !reached.insert(name.to_owned()) {
                continue;
            }
            if let Some(step) = flow.steps.get(name) {
                todo.extend(successors(&step.kind));
            }
        }
        for name in flow.steps.keys() {
            if !reached.contains(name) {
                self.problem(
                    &format!("step `{name}`"),
                    "is never reached: go to it from another step or an intent, or remove it",
                );
            }
        }
        // A loop among steps that never wait for the customer would never end.
        for name in flow.steps.keys() {
            if let Some(cycle) = busy_loop(flow, name) {
                self.problem(
                    &format!("step `{name}`"),
                    format!(
                        "loops without waiting for the customer ({}): put a question or choices in \
                         the loop",
                        cycle.join(" → ")
                    ),
                );
                break;
            }
        }
    }
}

/// The steps a step may lead to.
fn successors(kind: &StepKind) -> Vec<&str> {
    match kind {
        StepKind::Message { goto } => goto.iter().map(String::as_str).collect(),
        StepKind::Buttons(choices) | StepKind::List { rows: choices, .. } => {
            choices.iter().map(|c| c.goto.as_str()).collect()
        }
        StepKind::ListFrom(l) => vec![&l.goto, &l.empty],
        StepKind::Ask(a) => vec![&a.goto],
        StepKind::Call(c) => std::iter::once(c.on_ok.as_str())
            .chain(c.on_not_found.as_deref())
            .chain(c.on_error.as_deref())
            .collect(),
        StepKind::Handoff | StepKind::End => Vec::new(),
    }
}

/// A cycle through `start` made only of steps that do not wait, if there is one.
fn busy_loop<'f>(flow: &'f Flow, start: &'f str) -> Option<Vec<&'f str>> {
    let mut path = vec![start];
    let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, next_busy(flow, start))];
    let mut seen = BTreeSet::from([start]);
    while let Some((_, nexts)) = stack.last_mut() {
        let Some(n) = nexts.pop() else {
            stack.pop();
            path.pop();
            continue;
        };
        if n == start {
            path.push(start);
            return Some(path);
        }
        if seen.insert(n) {
            path.push(n);
            stack.push((n, next_busy(flow, n)));
        }
    }
    None
}

fn next_busy<'f>(flow: &'f Flow, name: &str) -> Vec<&'f str> {
    match flow.steps.get(name).map(|s| &s.kind) {
        // A list built from an empty answer does not wait: it goes on to `empty` at once, so
        // `empty` leading back to the call that fetched the list would call the back-end again
        // and again without the customer.
        Some(StepKind::ListFrom(l)) => vec![&l.empty],
        Some(kind) if !kind.waits() => successors(kind),
        _ => Vec::new(),
    }
}
