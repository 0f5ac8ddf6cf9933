//! The inbox: the conversation list with its tabs, filters and search, a conversation's thread
//! and contact panel, and the live feed that keeps them current.
//!
//! Every part is a server-rendered fragment with its own URL (`/inbox/list`, `/inbox/{id}/thread`,
//! `/inbox/{id}/panel`); the full pages include the same fragments, and the script swaps them in
//! when the live feed says something changed. A page therefore looks the same reloaded or live.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use domain::Timestamp;
use domain::window::ServiceWindow;
use futures::Stream;
use serde::Deserialize;
use store::{Assignment, InboxCounts, InboxItem, InboxQuery, MessageQuery, TemplateRow};

use super::thread::{self, MessageView};
use super::{Agent, Layout, UiError, page};
use crate::AppState;

/// Messages a thread shows at first (older ones page in).
const THREAD_PAGE: i64 = 200;
const LIST_PAGE: i64 = 50;

/// The list's filters, from the query string. Unknown values fall back to the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filters {
    pub status: Option<String>,
    pub who: Option<String>,
    pub number: Option<String>,
    /// A label's id; empty (the form's "All labels") or anything else means all.
    #[serde(default, deserialize_with = "lenient_id")]
    pub label: Option<i64>,
    pub q: Option<String>,
    pub cursor: Option<String>,
}

/// An id from a form field: empty or not a number reads as none, never as a bad request.
fn lenient_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    Ok(raw.and_then(|s| s.trim().parse().ok()))
}

impl Filters {
    fn status(&self) -> &str {
        match self.status.as_deref() {
            Some(s @ ("open" | "pending" | "resolved" | "all")) => s,
            _ => "open",
        }
    }

    fn who(&self) -> &str {
        match self.who.as_deref() {
            Some(w @ ("mine" | "unassigned" | "all")) => w,
            _ => "all",
        }
    }

    fn query(&self, user_id: i64) -> InboxQuery {
        let status = self.status();
        InboxQuery {
            user_id,
            status: (status != "all").then(|| status.to_owned()),
            assignment: match self.who() {
                "mine" => Some(Assignment::Mine),
                "unassigned" => Some(Assignment::Unassigned),
                _ => None,
            },
            phone_number_id: self.number.clone().filter(|n| !n.is_empty()),
            label_id: self.label,
            search: self.q.clone().filter(|q| !q.trim().is_empty()),
            after: self
                .cursor
                .as_deref()
                .and_then(|c| crate::api::decode_cursor(Some(c)).ok().flatten()),
            limit: LIST_PAGE + 1,
        }
    }

    /// The query string of these filters with some changed (and the cursor dropped).
    fn with(&self, key: &str, value: &str) -> String {
        let mut pairs: Vec<(&str, String)> = vec![
            ("status", self.status().to_owned()),
            ("who", self.who().to_owned()),
        ];
        if let Some(n) = self.number.as_deref().filter(|n| !n.is_empty()) {
            pairs.push(("number", n.to_owned()));
        }
        if let Some(l) = self.label {
            pairs.push(("label", l.to_string()));
        }
        if let Some(q) = self.q.as_deref().filter(|q| !q.trim().is_empty()) {
            pairs.push(("q", q.to_owned()));
        }
        pairs.retain(|(k, _)| *k != key);
        if !value.is_empty() {
            pairs.push((key, value.to_owned()));
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }

    /// The filters as a query string, to carry from the list into a conversation and back.
    pub fn qs(&self) -> String {
        self.with("", "")
    }
}

#[derive(Debug, Clone)]
pub struct Tab {
    pub label: &'static str,
    pub href: String,
    pub count: i64,
    pub current: bool,
}

#[derive(Debug, Clone)]
pub struct ListItem {
    pub id: i64,
    pub href: String,
    pub name: String,
    pub preview: String,
    pub preview_from_us: bool,
    pub at: super::Stamp,
    pub unread: i64,
    pub labels: Vec<String>,
    pub assignee: Option<String>,
    pub handler: &'static str,
    pub status: String,
    pub current: bool,
    pub window_open: bool,
}

#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The list fragment.
#[derive(Debug, Clone)]
pub struct ListPart {
    pub items: Vec<ListItem>,
    pub status_tabs: Vec<Tab>,
    pub who_tabs: Vec<Tab>,
    pub numbers: Vec<Choice>,
    pub labels: Vec<Choice>,
    pub status: String,
    pub who: String,
    pub q: String,
    pub more: Option<String>,
    pub qs: String,
}

/// Who is who: the names of the business's users, by id.
pub type Names = HashMap<i64, String>;

pub async fn names(state: &AppState) -> Result<Names, UiError> {
    Ok(super::auth::directory(state)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect())
}

pub fn display_name(v: &store::ConversationView) -> String {
    v.contact_profile_name
        .clone()
        .or_else(|| v.contact_username.clone().map(|u| format!("@{u}")))
        .or_else(|| v.contact_phone.clone())
        .or_else(|| v.contact_wa_id.clone())
        .or_else(|| v.contact_user_id.clone())
        .unwrap_or_else(|| format!("Contact {}", v.conversation.contact_id))
}

fn handler_badge(handler: &str) -> &'static str {
    match handler {
        "bot" => "bot",
        "queued_for_human" => "waiting for a person",
        _ => "",
    }
}

async fn list_part(
    state: &AppState,
    agent: &Agent,
    filters: &Filters,
    current: Option<i64>,
    names: &Names,
) -> Result<ListPart, UiError> {
    let query = filters.query(agent.user_id);
    let rows = state.store.inbox(&query).await?;
    let counts = state.store.inbox_counts(&query).await?;
    let labels = state.store.labels().await?;
    let now = state.clock.now();
    let more = rows.len() as i64 > LIST_PAGE;
    let rows = &rows[..rows.len().min(LIST_PAGE as usize)];
    let qs = filters.qs();
    let items = rows
        .iter()
        .map(|i| list_item(i, &qs, current, names, now))
        .collect();
    let more = more
        .then(|| {
            rows.last().map(|i| {
                let c = &i.view.conversation;
                format!(
                    "/inbox?{}",
                    filters.with(
                        "cursor",
                        &crate::api::encode_cursor(c.last_message_at, c.id)
                    )
                )
            })
        })
        .flatten();
    Ok(ListPart {
        items,
        status_tabs: status_tabs(filters, &counts),
        who_tabs: who_tabs(filters, &counts),
        numbers: std::iter::once(Choice {
            value: String::new(),
            label: "All numbers".into(),
            selected: filters.number.as_deref().is_none_or(str::is_empty),
        })
        .chain(state.settings.numbers.iter().map(|n| Choice {
            value: n.phone_number_id.clone(),
            label: n.phone_number_id.clone(),
            selected: filters.number.as_deref() == Some(n.phone_number_id.as_str()),
        }))
        .collect(),
        labels: std::iter::once(Choice {
            value: String::new(),
            label: "All labels".into(),
            selected: filters.label.is_none(),
        })
        .chain(labels.into_iter().map(|l| Choice {
            selected: filters.label == Some(l.id),
            value: l.id.to_string(),
            label: l.name,
        }))
        .collect(),
        status: filters.status().to_owned(),
        who: filters.who().to_owned(),
        q: filters.q.clone().unwrap_or_default(),
        more,
        qs,
    })
}

fn list_item(
    i: &InboxItem,
    qs: &str,
    current: Option<i64>,
    names: &Names,
    now: Timestamp,
) -> ListItem {
    let c = &i.view.conversation;
    let preview = i
        .last_preview
        .clone()
        .or_else(|| i.last_kind.clone().map(|k| format!("[{k}]")))
        .unwrap_or_default();
    ListItem {
        id: c.id,
        href: format!("/inbox/{}?{qs}", c.id),
        name: display_name(&i.view),
        preview,
        preview_from_us: i.last_direction.as_deref().is_some_and(|d| d != "inbound"),
        at: super::stamp(c.last_message_at),
        unread: i.unread,
        labels: i.labels().into_iter().map(str::to_owned).collect(),
        assignee: i.assignee_id.map(|id| {
            names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("user {id}"))
        }),
        handler: handler_badge(&i.handler),
        status: c.status.clone(),
        current: current == Some(c.id),
        window_open: matches!(
            ServiceWindow::at(c.last_inbound_at.map(Timestamp::from_unix), now),
            ServiceWindow::Open { .. }
        ),
    }
}

fn status_tabs(f: &Filters, counts: &InboxCounts) -> Vec<Tab> {
    [
        ("open", "Open", counts.open),
        ("pending", "Pending", counts.pending),
        ("resolved", "Resolved", counts.resolved),
        ("all", "All", counts.open + counts.pending + counts.resolved),
    ]
    .into_iter()
    .map(|(value, label, count)| Tab {
        label,
        href: format!("/inbox?{}", f.with("status", value)),
        count,
        current: f.status() == value,
    })
    .collect()
}

fn who_tabs(f: &Filters, counts: &InboxCounts) -> Vec<Tab> {
    [
        ("mine", "Mine", counts.mine),
        ("unassigned", "Unassigned", counts.unassigned),
        ("all", "Everyone's", counts.all),
    ]
    .into_iter()
    .map(|(value, label, count)| Tab {
        label,
        href: format!("/inbox?{}", f.with("who", value)),
        count,
        current: f.who() == value,
    })
    .collect()
}

/// One line of a thread: a message, a private note, a change, or a new day.
#[derive(Debug, Clone)]
pub enum Line {
    Day(String),
    Message(Box<MessageView>),
    Note {
        author: String,
        body: Vec<wa::format::Span>,
        at_ms: i64,
        stamp: super::Stamp,
    },
    Change {
        text: String,
        at_ms: i64,
        stamp: super::Stamp,
    },
}

impl Line {
    fn sort_key(&self) -> i64 {
        match self {
            Self::Day(_) => 0,
            Self::Message(m) => m.order_ms,
            Self::Note { at_ms, .. } | Self::Change { at_ms, .. } => *at_ms,
        }
    }
}

/// The window as the composer shows it.
#[derive(Debug, Clone)]
pub struct WindowView {
    pub open: bool,
    /// Unix seconds it closes at (open) — the script counts down to it.
    pub closes_at: i64,
    pub text: String,
    pub class: &'static str,
}

pub fn window_view(last_inbound_at: Option<i64>, now: Timestamp, warn_minutes: i64) -> WindowView {
    match ServiceWindow::at(last_inbound_at.map(Timestamp::from_unix), now) {
        ServiceWindow::Open {
            closes_at,
            remaining,
        } => WindowView {
            open: true,
            closes_at: closes_at.unix(),
            text: format!("24 h window open: {remaining} left"),
            class: if remaining.0 < warn_minutes * 60 {
                "warn"
            } else {
                "accent"
            },
        },
        ServiceWindow::Closed { ago, .. } => WindowView {
            open: false,
            closes_at: 0,
            text: format!(
                "24 h window closed {ago} ago: only an approved template can reach the customer"
            ),
            class: "bad",
        },
        ServiceWindow::Never => WindowView {
            open: false,
            closes_at: 0,
            text: "The customer has not written yet: only an approved template can reach them"
                .into(),
            class: "bad",
        },
    }
}

/// The thread fragment: the conversation's head, its lines and the composer.
#[derive(Debug, Clone)]
pub struct ThreadPart {
    pub id: i64,
    pub name: String,
    pub subtitle: String,
    pub status: String,
    pub handler: String,
    pub handler_badge: &'static str,
    pub assignee: Option<String>,
    pub mine: bool,
    pub lines: Vec<Line>,
    pub older: bool,
    pub window: WindowView,
    pub composer: super::composer::ComposerPart,
    pub qs: String,
    pub csrf: String,
    /// The newest message shown, when the agent had not read it: reading marks up to it.
    pub read_up_to: Option<i64>,
}

pub async fn thread_part(
    state: &AppState,
    agent: &Agent,
    id: i64,
    qs: String,
    names: &Names,
) -> Result<ThreadPart, UiError> {
    let item = state
        .store
        .inbox_item(id, agent.user_id)
        .await?
        .ok_or_else(|| UiError::not_found("conversation"))?;
    let c = &item.view.conversation;
    let mut rows = state
        .store
        .messages(
            id,
            &MessageQuery::Backward {
                before: None,
                limit: THREAD_PAGE + 1,
            },
        )
        .await?;
    let older = rows.len() as i64 > THREAD_PAGE;
    rows.truncate(THREAD_PAGE as usize);
    rows.reverse();
    let waba = crate::outbound::number_of(&state.settings, &c.phone_number_id)
        .map(|n| n.waba_id.clone())
        .unwrap_or_default();
    let templates: Vec<TemplateRow> = if rows.iter().any(|m| m.kind == "template") {
        state.store.templates(&waba).await?
    } else {
        Vec::new()
    };
    let ids: Vec<i64> = rows
        .iter()
        .filter(|m| m.direction != "inbound")
        .map(|m| m.id)
        .collect();
    let authors: HashMap<i64, (String, Option<i64>)> = state
        .store
        .authors(&ids)
        .await?
        .into_iter()
        .map(|(id, kind, user)| (id, (kind, user)))
        .collect();
    let by_wamid: HashMap<&str, &store::MessageRow> = rows
        .iter()
        .filter_map(|m| m.wamid.as_deref().map(|w| (w, m)))
        .collect();
    let all_ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
    let mut media: HashMap<i64, thread::MediaView> =
        crate::media::attachments(state.store.as_ref(), &all_ids)
            .await?
            .into_iter()
            .map(|a| {
                let name = a.filename.clone().unwrap_or_else(|| a.kind.clone());
                let view = thread::MediaView {
                    href: (a.state == "stored").then(|| format!("/media/{}", a.id)),
                    inline_image: a.inline,
                    name,
                    state: match a.state.as_str() {
                        "stored" => "kept by guichet".to_owned(),
                        "failed" => format!("not downloaded: {}", a.error.unwrap_or_default()),
                        _ => "downloading…".to_owned(),
                    },
                };
                (a.message_id, view)
            })
            .collect();
    let mut lines = Vec::with_capacity(rows.len() + 8);
    for m in &rows {
        let quote = match m.context_wamid.as_deref() {
            None => None,
            Some(w) => Some(match by_wamid.get(w) {
                Some(q) => Some(q.preview.clone().unwrap_or_else(|| format!("[{}]", q.kind))),
                None => state
                    .store
                    .message_by_wamid(w)
                    .await?
                    .map(|q| q.preview.unwrap_or_else(|| format!("[{}]", q.kind))),
            }),
        };
        let author = match (m.direction.as_str(), authors.get(&m.id)) {
            ("echo", _) => Some("from the business's phone".to_owned()),
            (_, Some((kind, user))) => Some(match (kind.as_str(), user) {
                ("agent", Some(u)) => names.get(u).cloned().unwrap_or_else(|| format!("user {u}")),
                ("bot", _) => "bot".to_owned(),
                _ => "API".to_owned(),
            }),
            _ => None,
        };
        let media = media.remove(&m.id);
        lines.push(Line::Message(Box::new(thread::message(
            m,
            thread::Lookups {
                templates: &templates,
                quote,
                author,
                media,
            },
        ))));
    }
    let first_ms = rows.first().map_or(0, |m| m.meta_at * 1000);
    for n in state.store.notes(id).await? {
        if older && n.created_at_ms < first_ms {
            continue;
        }
        lines.push(Line::Note {
            author: names
                .get(&n.author_id)
                .cloned()
                .unwrap_or_else(|| format!("user {}", n.author_id)),
            body: wa::format::spans(&n.body),
            at_ms: n.created_at_ms,
            stamp: super::stamp(n.created_at_ms.div_euclid(1000)),
        });
    }
    for e in state.store.conversation_events(id, 1000).await? {
        if older && e.created_at_ms < first_ms {
            continue;
        }
        if let Some(text) = change_text(&e.kind, &e.payload, names) {
            lines.push(Line::Change {
                text,
                at_ms: e.created_at_ms,
                stamp: super::stamp(e.created_at_ms.div_euclid(1000)),
            });
        }
    }
    lines.sort_by_key(Line::sort_key);
    let lines = with_days(lines);
    let now = state.clock.now();
    let window = window_view(
        c.last_inbound_at,
        now,
        state.settings.policy.window_warning.0 / 60,
    );
    let composer = super::composer::part(state, agent, &item).await?;
    let subtitle = [
        item.view.contact_phone.clone(),
        item.view.contact_username.clone().map(|u| format!("@{u}")),
        Some(format!("to {}", c.phone_number_id)),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    Ok(ThreadPart {
        id,
        name: display_name(&item.view),
        subtitle,
        status: c.status.clone(),
        handler: item.handler.clone(),
        handler_badge: handler_badge(&item.handler),
        assignee: item.assignee_id.map(|u| {
            names
                .get(&u)
                .cloned()
                .unwrap_or_else(|| format!("user {u}"))
        }),
        mine: item.assignee_id == Some(agent.user_id),
        lines,
        older,
        window,
        composer,
        qs,
        csrf: agent.csrf.clone(),
        read_up_to: (item.unread > 0)
            .then(|| rows.last().map(|m| m.id))
            .flatten(),
    })
}

/// Day separators between lines of different (UTC) days.
fn with_days(lines: Vec<Line>) -> Vec<Line> {
    let mut out = Vec::with_capacity(lines.len() + 4);
    let mut day = None;
    for line in lines {
        let ms = line.sort_key();
        let d = ms.div_euclid(86_400_000);
        if day != Some(d) {
            day = Some(d);
            if let Ok(t) = time::OffsetDateTime::from_unix_timestamp(d * 86_400) {
                let text = format!("{} {} {}", t.day(), t.month(), t.year());
                out.push(Line::Day(text));
            }
        }
        out.push(line);
    }
    out
}

/// How a conversation event reads in the thread; `None` for events the thread does not show.
fn change_text(kind: &str, payload: &str, names: &Names) -> Option<String> {
    let p: serde_json::Value = serde_json::from_str(payload).ok()?;
    let who = |key: &str| {
        p.get(key).and_then(serde_json::Value::as_i64).map(|id| {
            names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("user {id}"))
        })
    };
    let by = who("by").unwrap_or_else(|| "guichet".to_owned());
    Some(match kind {
        "conversation.assigned" => match who("assignee_id") {
            Some(a) if a == by => format!("{by} took the conversation"),
            Some(a) => format!("{by} assigned it to {a}"),
            None => format!("{by} unassigned it"),
        },
        "conversation.status" => {
            let status = p.get("status")?.as_str()?;
            match status {
                "resolved" => format!("{by} resolved it"),
                "open" => format!("{by} reopened it"),
                "pending" => format!("{by} set it pending"),
                other => format!("{by} set it {other}"),
            }
        }
        "conversation.handler" => match p.get("handler")?.as_str()? {
            "bot" => format!("{by} handed it to the bot"),
            "queued_for_human" => "The bot handed over: waiting for a person".to_owned(),
            _ => format!("{by} took over from the bot"),
        },
        "conversation.labels" => {
            let labels: Vec<&str> = p
                .get("labels")?
                .as_array()?
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect();
            if labels.is_empty() {
                format!("{by} removed the labels")
            } else {
                format!("{by} labelled it {}", labels.join(", "))
            }
        }
        "message.send_failed" => "A message could not be sent (see below)".to_owned(),
        _ => return None,
    })
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    layout: Layout,
    list: ListPart,
    thread: Option<ThreadPart>,
    panel: Option<super::panel::PanelPart>,
}

#[derive(Template)]
#[template(path = "inbox_list.html")]
struct ListFragment {
    list: ListPart,
}

#[derive(Template)]
#[template(path = "inbox_thread.html")]
struct ThreadFragment {
    thread: ThreadPart,
}

/// `GET /inbox`
pub async fn index(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Query(filters): Query<Filters>,
) -> Result<Response, UiError> {
    let names = names(&state).await?;
    let list = list_part(&state, &agent, &filters, None, &names).await?;
    Ok(page(&InboxPage {
        layout: Layout::new("Inbox", "inbox", Some(agent)),
        list,
        thread: None,
        panel: None,
    }))
}

/// `GET /inbox/{id}`: the list with the conversation open; reading it marks it read.
pub async fn show(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<String>,
    Query(filters): Query<Filters>,
) -> Result<Response, UiError> {
    let id = conversation_id(&id)?;
    let names = names(&state).await?;
    let thread = thread_part(&state, &agent, id, filters.qs(), &names).await?;
    super::actions::mark_read(&state, &agent, &thread).await?;
    let list = list_part(&state, &agent, &filters, Some(id), &names).await?;
    let panel = super::panel::part(&state, &agent, id, &names).await?;
    Ok(page(&InboxPage {
        layout: Layout::new(thread.name.clone(), "inbox", Some(agent)),
        list,
        thread: Some(thread),
        panel: Some(panel),
    }))
}

/// `GET /inbox/list`: the list fragment, for live updates.
pub async fn list_fragment(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Query(filters): Query<Filters>,
    Query(at): Query<Current>,
) -> Result<Response, UiError> {
    let names = names(&state).await?;
    let list = list_part(&state, &agent, &filters, at.current, &names).await?;
    Ok(page(&ListFragment { list }))
}

#[derive(Debug, Deserialize)]
pub struct Current {
    #[serde(default, deserialize_with = "lenient_id")]
    current: Option<i64>,
}

/// `GET /inbox/{id}/thread`: the thread fragment; reading it marks it read.
pub async fn thread_fragment(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<String>,
    Query(filters): Query<Filters>,
) -> Result<Response, UiError> {
    let id = conversation_id(&id)?;
    let names = names(&state).await?;
    let thread = thread_part(&state, &agent, id, filters.qs(), &names).await?;
    super::actions::mark_read(&state, &agent, &thread).await?;
    Ok(page(&ThreadFragment { thread }))
}

/// A conversation id from the path: anything but a positive integer is not found.
pub fn conversation_id(raw: &str) -> Result<i64, UiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| UiError::not_found("conversation"))
}

/// `GET /inbox/events`: the live feed (Server-Sent Events). Each event names its kind and
/// conversation; the page fetches the fragments it affects. The feed ends when the session
/// does (sign-out, disabled user), checked every few seconds.
pub async fn events(
    State(state): State<Arc<AppState>>,
    agent: Agent,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut rx = state.live.subscribe();
    state.live.poke();
    let stream = async_stream(move |tx| async move {
        let mut check = tokio::time::interval(Duration::from_secs(5));
        check.tick().await;
        loop {
            let event = tokio::select! {
                () = state.live.closed() => return,
                got = rx.recv() => match got {
                    Ok(e) => Event::default()
                        .event("change")
                        .id(e.id.to_string())
                        .data(serde_json::json!({
                            "kind": e.kind,
                            "conversation_id": e.conversation_id,
                        }).to_string()),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        Event::default().event("resync").data("{}")
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = check.tick() => {
                    if !super::auth::still_signed_in(&state, &agent).await {
                        let _ = tx.send(Event::default().event("signed_out").data("{}")).await;
                        return;
                    }
                    continue;
                }
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// A stream fed by a task through a channel; the task stops when the browser goes away.
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
    )
}

/// `GET /inbox/{id}/transcript`: the conversation as plain text, to save or attach to a ticket.
/// Served as a `text/plain` download: customer text never becomes markup here either.
pub async fn transcript(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id = conversation_id(&id)?;
    let item = state
        .store
        .inbox_item(id, agent.user_id)
        .await?
        .ok_or_else(|| UiError::not_found("conversation"))?;
    let name = display_name(&item.view);
    let mut out = format!(
        "Conversation {id} with {name}, on {}\n\n",
        item.view.conversation.phone_number_id
    );
    let mut after = None;
    loop {
        let page = state
            .store
            .messages(id, &MessageQuery::Forward { after, limit: 500 })
            .await?;
        for m in &page {
            let who = match m.direction.as_str() {
                "inbound" => name.as_str(),
                "echo" => "Business (phone)",
                _ => "Business",
            };
            let text = m.preview.clone().unwrap_or_else(|| format!("[{}]", m.kind));
            out.push_str(&format!(
                "[{}] {who}: {text}\n",
                super::stamp(m.meta_at).short
            ));
        }
        match page.last() {
            Some(m) if page.len() == 500 => after = Some((m.meta_at, m.id)),
            _ => break,
        }
    }
    for n in state.store.notes(id).await? {
        out.push_str(&format!(
            "\n[{}] Private note: {}",
            super::stamp(n.created_at_ms.div_euclid(1000)).short,
            n.body
        ));
    }
    out.push('\n');
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"conversation-{id}.txt\""),
            ),
        ],
        out,
    )
        .into_response())
}
