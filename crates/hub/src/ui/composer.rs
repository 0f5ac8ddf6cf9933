//! The composer: what an agent may send in a conversation, checked before it leaves.
//!
//! Inside the 24 h window it offers free text (with canned replies), interactive buttons and
//! lists, and attachments; outside it, a picker of approved templates with a form for their
//! parameters and a preview. Every draft goes through the same preflight and outbox as the REST
//! API (`outbound::enqueue`): `/inbox/{id}/preflight` answers, as the agent types, whether it
//! would be allowed, what it would cost and, if not, why in plain words and what to do.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use store::InboxItem;

use super::inbox::{conversation_id, display_name};
use super::{Agent, UiError};
use crate::AppState;
use crate::outbound::{self, Draft, NotQueued};

#[derive(Debug, Clone)]
pub struct TemplateOption {
    /// `name|language`: what the form sends back.
    pub key: String,
    pub name: String,
    pub language: String,
    pub category: String,
    pub body: String,
    /// The body's parameters, by position (`1`, `2`…) or name.
    pub params: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CannedOption {
    pub shortcut: String,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct ComposerPart {
    pub id: i64,
    pub csrf: String,
    pub templates: Vec<TemplateOption>,
    pub canned: Vec<CannedOption>,
    pub contact_name: String,
    pub agent_name: String,
}

pub async fn part(
    state: &AppState,
    agent: &Agent,
    item: &InboxItem,
) -> Result<ComposerPart, UiError> {
    let c = &item.view.conversation;
    let waba = outbound::number_of(&state.settings, &c.phone_number_id)
        .map(|n| n.waba_id.clone())
        .unwrap_or_default();
    let templates = state
        .store
        .templates(&waba)
        .await?
        .into_iter()
        .filter(|t| t.status.as_deref() == Some("APPROVED"))
        .map(|t| {
            let body = t
                .components
                .as_deref()
                .and_then(super::thread::template_body)
                .unwrap_or_default();
            TemplateOption {
                key: format!("{}|{}", t.name, t.language),
                params: placeholders(&body),
                category: t.category.clone().unwrap_or_default().to_lowercase(),
                name: t.name,
                language: t.language,
                body,
            }
        })
        .collect();
    let canned = state
        .store
        .canned_replies()
        .await?
        .into_iter()
        .map(|r| CannedOption {
            shortcut: r.shortcut,
            title: r.title,
            body: r.body,
        })
        .collect();
    Ok(ComposerPart {
        id: c.id,
        csrf: agent.csrf.clone(),
        templates,
        canned,
        contact_name: display_name(&item.view),
        agent_name: agent.display_name.clone(),
    })
}

/// The `{{…}}` placeholders of a template text, in order of first appearance.
pub fn placeholders(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in domain::flow::placeholders(body) {
        if !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !out.iter().any(|n| n == name)
        {
            out.push(name.to_owned());
        }
    }
    out
}

/// The composer's form, as posted.
#[derive(Debug, Default, Deserialize)]
pub struct Compose {
    /// text | template | buttons | list | note
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub text: String,
    /// `name|language`
    #[serde(default)]
    pub template: String,
    /// Buttons or list rows, one per line.
    #[serde(default)]
    pub options: String,
    /// The list's button label.
    #[serde(default)]
    pub list_button: String,
    /// Template parameters: `p_<name>`; CSRF: `_csrf` (checked by the middleware).
    #[serde(flatten)]
    pub rest: HashMap<String, String>,
}

/// Meta's send body for a composed message, or what is wrong with the form.
fn body_of(form: &Compose, templates: &[store::TemplateRow]) -> Result<Value, String> {
    let text = form.text.trim();
    let options: Vec<&str> = form
        .options
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let inner = match form.mode.as_str() {
        "" | "text" => {
            if text.is_empty() {
                return Err("The message is empty: type something to send.".into());
            }
            json!({ "type": "text", "text": { "body": text, "preview_url": true } })
        }
        "template" => {
            let (name, lang) = form
                .template
                .split_once('|')
                .ok_or("Choose a template to send.")?;
            let t = templates
                .iter()
                .find(|t| t.name == name && t.language == lang)
                .ok_or("This template is not known here any more: reload the page.")?;
            let body = t
                .components
                .as_deref()
                .and_then(super::thread::template_body)
                .unwrap_or_default();
            let named = t.parameter_format.as_deref() == Some("NAMED");
            let mut parameters = Vec::new();
            for p in placeholders(&body) {
                let value = form
                    .rest
                    .get(&format!("p_{p}"))
                    .map(|v| v.trim())
                    .unwrap_or_default();
                if value.is_empty() {
                    return Err(format!("Fill in the template's parameter {{{{{p}}}}}."));
                }
                let mut param = json!({ "type": "text", "text": value });
                if named {
                    param["parameter_name"] = json!(p);
                }
                parameters.push(param);
            }
            let mut template = json!({ "name": name, "language": { "code": lang } });
            if !parameters.is_empty() {
                template["components"] = json!([{ "type": "body", "parameters": parameters }]);
            }
            json!({ "type": "template", "template": template })
        }
        "buttons" => {
            if text.is_empty() || options.is_empty() {
                return Err("Buttons need a text and one to three buttons, one per line.".into());
            }
            let buttons: Vec<Value> = options
                .iter()
                .enumerate()
                .map(|(i, title)| json!({ "type": "reply", "reply": { "id": format!("b{}", i + 1), "title": title } }))
                .collect();
            json!({ "type": "interactive", "interactive": {
                "type": "button", "body": { "text": text }, "action": { "buttons": buttons } } })
        }
        "list" => {
            if text.is_empty() || options.is_empty() {
                return Err("A list needs a text and its rows, one per line.".into());
            }
            let rows: Vec<Value> = options
                .iter()
                .enumerate()
                .map(|(i, title)| json!({ "id": format!("r{}", i + 1), "title": title }))
                .collect();
            let button = match form.list_button.trim() {
                "" => "Choose",
                b => b,
            };
            json!({ "type": "interactive", "interactive": {
                "type": "list", "body": { "text": text },
                "action": { "button": button, "sections": [{ "title": "Options", "rows": rows }] } } })
        }
        other => return Err(format!("Unknown kind of message {other:?}.")),
    };
    Ok(inner)
}

/// The conversation's number, recipient and templates, for a draft.
async fn context(
    state: &AppState,
    agent: &Agent,
    id: i64,
) -> Result<(InboxItem, Vec<store::TemplateRow>), UiError> {
    let item = state
        .store
        .inbox_item(id, agent.user_id)
        .await?
        .ok_or_else(|| UiError::not_found("conversation"))?;
    let waba = outbound::number_of(&state.settings, &item.view.conversation.phone_number_id)
        .map(|n| n.waba_id.clone())
        .unwrap_or_default();
    let templates = state.store.templates(&waba).await?;
    Ok((item, templates))
}

/// Who a send body names: the customer's WhatsApp id (`to`), else their business-scoped id
/// (`recipient`).
fn addressee(v: &store::ConversationView) -> Result<(&'static str, &str), String> {
    match (&v.contact_wa_id, &v.contact_user_id) {
        (Some(wa), _) => Ok(("to", wa.as_str())),
        (None, Some(user)) => Ok(("recipient", user.as_str())),
        (None, None) => Err("This contact has no WhatsApp id to write to.".into()),
    }
}

/// An agent's draft from the kind's part of Meta's send body (`type` and its object): the
/// addressee is added, and the whole read as the API reads a send.
fn agent_draft(item: &InboxItem, mut body: Value, agent: &Agent) -> Result<Draft, String> {
    let v = &item.view;
    let (key, to) = addressee(v)?;
    body["messaging_product"] = json!("whatsapp");
    body[key] = json!(to);
    let request = wa::send::parse_send_value(&body).map_err(|e| e.to_string())?;
    let wa::send::OutboundRequest::Message(request) = request else {
        return Err("This is not a message.".into());
    };
    Draft::new(
        v.conversation.phone_number_id.clone(),
        request,
        None,
        store::Author::Agent(agent.user_id),
    )
    .map_err(|e| e.detail)
}

fn draft_of(
    item: &InboxItem,
    templates: &[store::TemplateRow],
    form: &Compose,
    agent: &Agent,
) -> Result<Draft, String> {
    agent_draft(item, body_of(form, templates)?, agent)
}

fn problem(status: StatusCode, detail: &str, next_step: Option<&str>) -> Response {
    (
        status,
        Json(json!({ "ok": false, "detail": detail, "next_step": next_step })),
    )
        .into_response()
}

/// `POST /inbox/{id}/preflight`: would this draft be sent, at what price — or why not.
pub async fn preflight(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Compose>,
) -> Result<Response, UiError> {
    let id = conversation_id(&id)?;
    let (item, templates) = context(&state, &agent, id).await?;
    if form.mode == "note" {
        return Ok(
            Json(json!({ "ok": true, "detail": "A private note: only agents see it." }))
                .into_response(),
        );
    }
    let draft = match draft_of(&item, &templates, &form, &agent) {
        Ok(d) => d,
        Err(detail) => return Ok(problem(StatusCode::OK, &detail, None)),
    };
    let assessment = match outbound::assess(&state, &draft).await {
        Ok(a) => a,
        Err(e) => return Ok(problem(StatusCode::OK, &e.detail, e.next_step.as_deref())),
    };
    let verdict = outbound::verdict_json(&assessment);
    let price = outbound::price_json(&assessment.price);
    let preview = match form.mode.as_str() {
        "template" => {
            let body = templates
                .iter()
                .find(|t| form.template == format!("{}|{}", t.name, t.language))
                .and_then(|t| super::thread::template_body(t.components.as_deref()?))
                .unwrap_or_default();
            let params: Vec<(String, String)> = placeholders(&body)
                .into_iter()
                .map(|p| {
                    let v = form
                        .rest
                        .get(&format!("p_{p}"))
                        .cloned()
                        .unwrap_or_default();
                    (p, if v.is_empty() { "…".into() } else { v })
                })
                .collect();
            Some(super::thread::fill(&body, &params))
        }
        _ => None,
    };
    Ok(Json(json!({
        "ok": verdict.get("allowed").and_then(Value::as_bool).unwrap_or(false),
        "verdict": verdict,
        "price": price,
        "preview": preview,
    }))
    .into_response())
}

/// `POST /inbox/{id}/send`: queues the draft (or records a private note).
pub async fn send(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Compose>,
) -> Result<Response, UiError> {
    let id = conversation_id(&id)?;
    let json = super::wants_json(&headers);
    let (item, templates) = context(&state, &agent, id).await?;
    if form.mode == "note" {
        let body = form.text.trim();
        if body.is_empty() {
            return Ok(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The note is empty.",
                None,
            ));
        }
        super::actions::add_note(&state, &agent, id, body).await?;
        return Ok(if json {
            Json(json!({ "ok": true })).into_response()
        } else {
            Redirect::to(&format!("/inbox/{id}")).into_response()
        });
    }
    let draft = match draft_of(&item, &templates, &form, &agent) {
        Ok(d) => d,
        Err(detail) => {
            return Ok(refused(json, id, &detail, None));
        }
    };
    queue(&state, &agent, &item, &draft, json).await
}

/// Queues an agent's draft through the API's preflight and outbox; the agent then holds the
/// conversation. Answers JSON for the script, or a redirect back (or the refusal's page).
async fn queue(
    state: &AppState,
    agent: &Agent,
    item: &InboxItem,
    draft: &Draft,
    json: bool,
) -> Result<Response, UiError> {
    let id = item.view.conversation.id;
    match outbound::enqueue(state, draft).await {
        Ok((queued, _)) => {
            super::actions::after_reply(state, agent, item).await?;
            state.live.poke();
            Ok(if json {
                Json(json!({ "ok": true, "message_id": queued.message_id })).into_response()
            } else {
                Redirect::to(&format!("/inbox/{id}")).into_response()
            })
        }
        Err(NotQueued::Refused(a)) => {
            let verdict = outbound::verdict_json(&a);
            let text = |k: &str| verdict.get(k).and_then(Value::as_str).map(str::to_owned);
            let detail = text("detail").unwrap_or_else(|| "This message breaks a rule.".into());
            Ok(refused(json, id, &detail, text("next_step").as_deref()))
        }
        Err(NotQueued::Error(e)) => Ok(refused(json, id, &e.detail, e.next_step.as_deref())),
    }
}

fn refused(json: bool, id: i64, detail: &str, next_step: Option<&str>) -> Response {
    if json {
        problem(StatusCode::UNPROCESSABLE_ENTITY, detail, next_step)
    } else {
        let mut e = UiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Not sent: {detail}"),
        );
        e.next_step = Some(next_step.map_or_else(
            || format!("Go back to the conversation (/inbox/{id}) and change the message."),
            str::to_owned,
        ));
        e.into_response()
    }
}

#[derive(Debug, Deserialize)]
pub struct Attach {
    filename: Option<String>,
    caption: Option<String>,
}

/// `POST /inbox/{id}/attach?filename=…&caption=…` with the file as the body: uploads it to Meta
/// and sends it (the script posts here; the CSRF token travels in its header).
pub async fn attach(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<String>,
    Query(q): Query<Attach>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, UiError> {
    let id = conversation_id(&id)?;
    let item = state
        .store
        .inbox_item(id, agent.user_id)
        .await?
        .ok_or_else(|| UiError::not_found("conversation"))?;
    if let Err(detail) = addressee(&item.view) {
        return Ok(problem(StatusCode::UNPROCESSABLE_ENTITY, &detail, None));
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    if body.is_empty() {
        return Ok(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The file is empty.",
            None,
        ));
    }
    let kind = match mime.split('/').next() {
        Some("image") if mime == "image/jpeg" || mime == "image/png" => "image",
        Some("video") => "video",
        Some("audio") => "audio",
        _ => "document",
    };
    let Ok(number) = outbound::number_of(&state.settings, &item.view.conversation.phone_number_id)
    else {
        return Ok(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "This number is not configured.",
            None,
        ));
    };
    let filename = q.filename.unwrap_or_else(|| "attachment".into());
    let media_id =
        match outbound::upload_media(state.as_ref(), number, body.to_vec(), &mime, &filename).await
        {
            Ok(id) => id,
            Err(e) => {
                return Ok(problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &e.detail,
                    e.next_step.as_deref(),
                ));
            }
        };
    let mut media = json!({ "id": media_id });
    if let Some(c) = q.caption.filter(|c| !c.trim().is_empty())
        && kind != "audio"
    {
        media["caption"] = json!(c);
    }
    if kind == "document" {
        media["filename"] = json!(filename);
    }
    let draft = match agent_draft(&item, json!({ "type": kind, kind: media }), &agent) {
        Ok(d) => d,
        Err(detail) => return Ok(problem(StatusCode::UNPROCESSABLE_ENTITY, &detail, None)),
    };
    queue(&state, &agent, &item, &draft, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_in_order_without_repeats() {
        assert_eq!(
            placeholders("Hi {{1}}, order {{2}} ships {{ 3 }}; {{1}} again"),
            ["1", "2", "3"]
        );
        assert_eq!(placeholders("Hello {{first_name}}!"), ["first_name"]);
        assert!(placeholders("no {{ }} {{bad name}} {{x").is_empty());
    }

    #[test]
    fn every_kind_of_draft_is_a_valid_send_body() {
        let base = |mode: &str, text: &str, options: &str| Compose {
            mode: mode.into(),
            text: text.into(),
            options: options.into(),
            ..Compose::default()
        };
        for form in [
            base("text", "hello *there*", ""),
            base("buttons", "Book it?", "Yes\nNo\nLater"),
            base("list", "Pick a slot", "9:00\n10:00"),
        ] {
            let mut body = body_of(&form, &[]).expect("body");
            body["messaging_product"] = json!("whatsapp");
            body["to"] = json!("16505551234");
            assert!(
                wa::send::parse_send_value(&body).is_ok(),
                "{}: {body}",
                form.mode
            );
        }
        for (form, why) in [
            (base("text", "  ", ""), "empty"),
            (base("buttons", "Book?", ""), "Buttons need"),
            (base("template", "", ""), "Choose a template"),
            (base("fax", "x", ""), "Unknown kind"),
        ] {
            let e = body_of(&form, &[]).expect_err("refused");
            assert!(e.contains(why), "{e}");
        }
    }
}
