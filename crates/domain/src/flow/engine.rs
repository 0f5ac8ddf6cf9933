//! Running a flow, one customer message at a time. Pure: the caller classifies free text with the
//! scope guard when [`needs_guard`] says so, performs the back-end calls a [`Turn`] asks for, and
//! sends what it says.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wa::send::{
    InteractiveAction, InteractiveBody, ListRow, ListSection, ReplyButton, SendBody, TextBody,
};

use super::template::{fill, fill_with, lookup, path_segment};
use super::{
    Call, Choice, Flow, HUMAN_REPLY, MAX_ID, MAX_ROW_DESCRIPTION, MAX_ROW_TITLE, MAX_ROWS,
    MENU_REPLY, Method, StepKind, Target, Vars, normalise,
};
use crate::guard::Decision;

/// Steps run in one turn at most: validation rejects loops of steps that do not wait, so only a
/// flow changed under a running conversation could get here.
const MAX_STEPS_PER_TURN: usize = 64;
/// A human keyword counts inside a message of at most this many words ("can I talk to a human
/// please"), not in a long description that happens to contain it.
const KEYWORD_MESSAGE_WORDS: usize = 8;

/// Where a conversation with the bot stands, kept between messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The step whose answer the bot waits for; `None` when it waits for anything.
    pub at: Option<String>,
    pub vars: Vars,
    /// The rows a `list_from` step offered: each id with its item.
    #[serde(default)]
    pub offered: Vec<(String, Value)>,
}

impl Session {
    /// A new session with the customer's variables (`customer.name`, `customer.wa_id`).
    pub fn new(customer: Value) -> Self {
        let mut vars = Vars::new();
        vars.insert("customer".into(), customer);
        Self {
            at: None,
            vars,
            offered: Vec::new(),
        }
    }
}

/// What the customer did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input<'a> {
    /// The bot takes the conversation without a message to answer (handed back by an agent).
    Start,
    /// A reply button or list row, by its id.
    Reply { id: &'a str },
    /// Free text, with the scope guard's decision when [`needs_guard`] asked for one.
    Text {
        text: &'a str,
        decision: Option<&'a Decision>,
    },
}

/// A request to the business's back-end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// The step that asks (for the idempotency key and the logs).
    pub step: String,
    pub method: Method,
    /// Relative to the back-end's base URL, placeholders percent-encoded.
    pub path: String,
    pub body: Option<Value>,
}

impl Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What the back-end answered.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    /// A 2xx, with its JSON body (`null` if it had none).
    Ok(Value),
    /// A 404.
    NotFound,
    /// Anything else: unreachable, timed out, another status, not JSON.
    Failed,
}

/// What happens after the bot's messages are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// The bot waits for the customer.
    Wait,
    /// Call the back-end, then go on with [`Flow::after_call`].
    Call(Request),
    /// A human takes over; `asked` when the customer asked for one.
    Handoff { asked: bool },
    /// The conversation is done.
    Resolve,
}

/// The bot's answer to one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub session: Session,
    /// The messages to send, in order.
    pub say: Vec<SendBody>,
    pub after: After,
    /// Whether the input was deflected as out of scope.
    pub deflected: bool,
}

/// Whether free text needs the scope guard's decision: not when it asks for a human, answers the
/// bot's question, or names one of the choices offered.
pub fn needs_guard(flow: &Flow, session: Option<&Session>, text: &str) -> bool {
    if asks_for_human(flow, text) {
        return false;
    }
    let Some(at) = session.and_then(|s| s.at.as_deref()) else {
        return true;
    };
    match flow.steps.get(at).map(|s| &s.kind) {
        Some(StepKind::Ask(_)) => false,
        _ => chosen_by_text(flow, session.unwrap_or(&Session::default()), text).is_none(),
    }
}

fn asks_for_human(flow: &Flow, text: &str) -> bool {
    let text = normalise(text);
    if text.split(' ').count() > KEYWORD_MESSAGE_WORDS {
        return false;
    }
    let padded = format!(" {text} ");
    flow.human_keywords
        .iter()
        .any(|k| padded.contains(&format!(" {k} ")))
}

/// The choice whose title (or id) the customer typed, at the step the bot waits at.
fn chosen_by_text(flow: &Flow, session: &Session, text: &str) -> Option<String> {
    let typed = normalise(text);
    if typed.is_empty() {
        return None;
    }
    let step = flow.steps.get(session.at.as_deref()?)?;
    match &step.kind {
        StepKind::Buttons(choices) | StepKind::List { rows: choices, .. } => choices
            .iter()
            .find(|c| normalise(&c.title) == typed || normalise(&c.id) == typed)
            .map(|c| c.id.clone()),
        StepKind::ListFrom(l) => session
            .offered
            .iter()
            .find(|(id, item)| {
                normalise(id) == typed || normalise(&fill(&l.title, &item_vars(item))) == typed
            })
            .map(|(id, _)| id.clone()),
        _ => None,
    }
}

/// An item of a back-end's array as variables, for the row templates.
fn item_vars(item: &Value) -> Vars {
    match item {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        other => Vars::from([("item".to_owned(), other.clone())]),
    }
}

fn text(body: String) -> SendBody {
    SendBody::Text(TextBody {
        preview_url: None,
        body,
    })
}

fn truncated(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

impl Flow {
    /// The bot's answer to `input`. `session` is `None` when the bot starts with this customer
    /// (a new conversation, or one handed back): it greets first, with `customer` as the
    /// customer's variables.
    pub fn turn(&self, session: Option<Session>, customer: Value, input: Input<'_>) -> Turn {
        let starting = session.is_none();
        let mut run = Run {
            flow: self,
            session: session.unwrap_or_else(|| Session::new(customer)),
            say: Vec::new(),
            deflected: false,
        };
        if starting && let Some(greeting) = &self.greeting {
            run.say.push(text(fill(greeting, &run.session.vars)));
        }
        let after = match input {
            Input::Start => run.go(&self.start),
            Input::Reply { id } => run.reply(id, starting),
            Input::Text { text, decision } => run.text(text, decision, starting),
        };
        run.finish(after)
    }

    /// Goes on after a back-end call the last turn asked for.
    pub fn after_call(&self, session: Session, outcome: CallOutcome) -> Turn {
        let mut run = Run {
            flow: self,
            session,
            say: Vec::new(),
            deflected: false,
        };
        let call = run
            .session
            .at
            .as_deref()
            .and_then(|at| self.steps.get(at))
            .and_then(|s| match &s.kind {
                StepKind::Call(c) => Some(c.clone()),
                _ => None,
            });
        let after = match call {
            Some(call) => run.called(&call, outcome),
            // The flow changed under the conversation: start over.
            None => run.go(&self.start),
        };
        run.finish(after)
    }
}

struct Run<'f> {
    flow: &'f Flow,
    session: Session,
    say: Vec<SendBody>,
    deflected: bool,
}

impl Run<'_> {
    fn finish(self, after: After) -> Turn {
        Turn {
            session: self.session,
            say: self.say,
            after,
            deflected: self.deflected,
        }
    }

    fn handoff(&mut self, asked: bool) -> After {
        self.say.push(text(self.flow.handoff_message.clone()));
        self.session.at = None;
        After::Handoff { asked }
    }

    fn reply(&mut self, id: &str, starting: bool) -> After {
        if id == HUMAN_REPLY {
            return self.handoff(true);
        }
        if id == MENU_REPLY || starting {
            return self.go(&self.flow.start.clone());
        }
        let at = self.session.at.clone();
        let step = at.as_deref().and_then(|a| self.flow.steps.get(a));
        match step.map(|s| &s.kind) {
            Some(StepKind::Buttons(choices) | StepKind::List { rows: choices, .. }) => {
                if let Some(c) = choices.iter().find(|c| c.id == id) {
                    return self.go(&c.goto.clone());
                }
            }
            Some(StepKind::ListFrom(l)) => {
                if let Some((_, item)) = self.session.offered.iter().find(|(i, _)| i == id) {
                    let item = item.clone();
                    self.session.vars.insert(l.save.clone(), item);
                    self.session.offered.clear();
                    return self.go(&l.goto.clone());
                }
            }
            _ => {}
        }
        // A button of an earlier message: where it leads still holds.
        let stale = self.flow.steps.values().find_map(|s| match &s.kind {
            StepKind::Buttons(choices) | StepKind::List { rows: choices, .. } => {
                choices.iter().find(|c| c.id == id).map(|c| c.goto.clone())
            }
            _ => None,
        });
        match stale {
            Some(goto) => self.go(&goto),
            None => self.go(&at.unwrap_or_else(|| self.flow.start.clone())),
        }
    }

    fn text(&mut self, typed: &str, decision: Option<&Decision>, starting: bool) -> After {
        if asks_for_human(self.flow, typed) {
            return self.handoff(true);
        }
        let at = self.session.at.clone();
        if let Some(StepKind::Ask(ask)) = at
            .as_deref()
            .and_then(|a| self.flow.steps.get(a))
            .map(|s| &s.kind)
        {
            let answer = typed.trim();
            let fits = !answer.is_empty()
                && answer.chars().count() <= ask.max_chars
                && ask.pattern.as_ref().is_none_or(|p| p.is_match(answer));
            if !fits {
                self.say.push(text(ask.invalid.clone()));
                return After::Wait;
            }
            self.session
                .vars
                .insert(ask.save.clone(), Value::String(answer.to_owned()));
            return self.go(&ask.goto.clone());
        }
        if let Some(id) = chosen_by_text(self.flow, &self.session, typed) {
            return self.reply(&id, false);
        }
        match decision {
            Some(Decision::InScope { intent, .. }) => {
                let target = self
                    .flow
                    .intents
                    .iter()
                    .find(|i| &i.name == intent)
                    .map(|i| i.target.clone());
                match target {
                    Some(Target::Step(step)) => self.go(&step),
                    Some(Target::Answer(answer)) => {
                        self.say.push(text(fill(&answer, &self.session.vars)));
                        if starting {
                            return self.go(&self.flow.start.clone());
                        }
                        After::Wait
                    }
                    Some(Target::Handoff) => self.handoff(true),
                    None => self.deflect(),
                }
            }
            Some(Decision::OutOfScope {
                general_request, ..
            }) if starting && !general_request => {
                // A first "hello" is not a request to deflect: show what the bot can do.
                self.go(&self.flow.start.clone())
            }
            _ => self.deflect(),
        }
    }

    /// The polite refusal, with a human and the menu offered; the customer stays where they were.
    fn deflect(&mut self) -> After {
        self.deflected = true;
        let buttons = [
            (HUMAN_REPLY, &self.flow.human_label),
            (MENU_REPLY, &self.flow.menu_label),
        ]
        .into_iter()
        .map(|(id, title)| ReplyButton {
            id: id.to_owned(),
            title: title.clone(),
        })
        .collect();
        self.say.push(SendBody::Interactive(InteractiveBody {
            header: None,
            body: fill(&self.flow.deflection, &self.session.vars),
            footer: None,
            action: InteractiveAction::Buttons(buttons),
        }));
        After::Wait
    }

    fn called(&mut self, call: &Call, outcome: CallOutcome) -> After {
        match outcome {
            CallOutcome::Ok(body) => {
                if let Some(save) = &call.save {
                    self.session.vars.insert(save.clone(), body);
                }
                self.go(&call.on_ok)
            }
            CallOutcome::NotFound if call.on_not_found.is_some() => {
                self.go(call.on_not_found.as_deref().unwrap_or_default())
            }
            CallOutcome::NotFound | CallOutcome::Failed => match &call.on_error {
                Some(step) => self.go(step),
                None => {
                    self.say.push(text(self.flow.backend_down.clone()));
                    self.handoff(false)
                }
            },
        }
    }

    /// Runs the flow from `name` until it waits, calls, hands over or ends.
    fn go(&mut self, name: &str) -> After {
        let mut name = name.to_owned();
        for _ in 0..MAX_STEPS_PER_TURN {
            let Some(step) = self.flow.steps.get(&name) else {
                break;
            };
            self.session.offered.clear();
            // A text made only of placeholders that came back empty is not sent: WhatsApp
            // refuses an empty text (and a handoff then says `handoff_message`).
            let said = step
                .say
                .as_ref()
                .map(|s| fill(s, &self.session.vars))
                .filter(|s| !s.trim().is_empty());
            match &step.kind {
                StepKind::Message { goto } => {
                    self.say.extend(said.map(text));
                    match goto {
                        Some(next) => {
                            name.clone_from(next);
                            continue;
                        }
                        None => {
                            self.session.at = None;
                            return After::Wait;
                        }
                    }
                }
                StepKind::Buttons(choices) => {
                    self.interactive(said, InteractiveAction::Buttons(buttons(choices)));
                }
                StepKind::List { button, rows } => {
                    self.interactive(said, list(button, rows.iter().map(row)));
                }
                StepKind::ListFrom(l) => {
                    let items = match lookup(&self.session.vars, &l.items) {
                        Some(Value::Array(items)) if !items.is_empty() => items.clone(),
                        _ => {
                            name.clone_from(&l.empty);
                            continue;
                        }
                    };
                    let mut rows = Vec::new();
                    for item in items {
                        if rows.len() == MAX_ROWS {
                            break;
                        }
                        let vars = item_vars(&item);
                        let id = truncated(fill(&l.id, &vars).trim(), MAX_ID);
                        if id.is_empty() || self.session.offered.iter().any(|(i, _)| *i == id) {
                            continue;
                        }
                        // WhatsApp refuses a row without a title, and the whole list with it: an
                        // item without one (or a template naming a field the back-end does not
                        // send) shows its id instead.
                        let title = match fill(&l.title, &vars).trim() {
                            "" => id.clone(),
                            title => title.to_owned(),
                        };
                        let description = l
                            .description
                            .as_ref()
                            .map(|d| fill(d, &vars).trim().to_owned())
                            .filter(|d| !d.is_empty());
                        rows.push(ListRow {
                            id: id.clone(),
                            title: truncated(&title, MAX_ROW_TITLE),
                            description: description.map(|d| truncated(&d, MAX_ROW_DESCRIPTION)),
                        });
                        self.session.offered.push((id, item));
                    }
                    // No item had an id: a list without rows would be refused, so this is the
                    // `empty` case too.
                    if rows.is_empty() {
                        name.clone_from(&l.empty);
                        continue;
                    }
                    let offered = std::mem::take(&mut self.session.offered);
                    self.interactive(said, list(&l.button, rows.into_iter()));
                    self.session.offered = offered;
                }
                StepKind::Ask(_) => self.say.extend(said.map(text)),
                StepKind::Call(call) => {
                    self.say.extend(said.map(text));
                    self.session.at = Some(name.clone());
                    return After::Call(Request {
                        step: name,
                        method: call.method,
                        path: fill_with(&call.path, &self.session.vars, path_segment),
                        body: call.body.as_ref().map(|b| fill_json(b, &self.session.vars)),
                    });
                }
                StepKind::Handoff => {
                    match said {
                        Some(s) => self.say.push(text(s)),
                        None => self.say.push(text(self.flow.handoff_message.clone())),
                    }
                    self.session.at = None;
                    return After::Handoff { asked: false };
                }
                StepKind::End => {
                    self.say.extend(said.map(text));
                    self.session.at = None;
                    return After::Resolve;
                }
            }
            // Buttons, lists and questions wait for the customer here.
            self.session.at = Some(name);
            return After::Wait;
        }
        self.session.at = None;
        self.handoff(false)
    }

    fn interactive(&mut self, body: Option<String>, action: InteractiveAction) {
        self.say.push(SendBody::Interactive(InteractiveBody {
            header: None,
            body: body.unwrap_or_default(),
            footer: None,
            action,
        }));
    }
}

fn buttons(choices: &[Choice]) -> Vec<ReplyButton> {
    choices
        .iter()
        .map(|c| ReplyButton {
            id: c.id.clone(),
            title: c.title.clone(),
        })
        .collect()
}

fn row(c: &Choice) -> ListRow {
    ListRow {
        id: c.id.clone(),
        title: c.title.clone(),
        description: c.description.clone(),
    }
}

fn list(button: &str, rows: impl Iterator<Item = ListRow>) -> InteractiveAction {
    InteractiveAction::List {
        button: button.to_owned(),
        sections: vec![ListSection {
            title: None,
            rows: rows.collect(),
        }],
    }
}

/// A JSON body template with its strings filled; a string that is only one placeholder keeps
/// its value's type (a number stays a number).
fn fill_json(template: &Value, vars: &Vars) -> Value {
    match template {
        Value::String(s) => {
            let p = super::placeholders(s);
            if p.len() == 1 && s.trim().starts_with("{{") && s.trim().ends_with("}}") {
                return lookup(vars, p[0]).cloned().unwrap_or(Value::Null);
            }
            Value::String(fill(s, vars))
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| fill_json(v, vars)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill_json(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The customer's variables as flows see them.
pub fn customer_vars(name: Option<&str>, wa_id: Option<&str>) -> Value {
    json!({ "name": name.unwrap_or(""), "wa_id": wa_id.unwrap_or("") })
}
