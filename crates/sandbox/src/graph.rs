//! The Graph API endpoints, with Meta's answers and Meta's error shapes (cloud-api.md §3).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes as Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{FromRequestParts, Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Sandbox;
use crate::faults;
use crate::media;
use crate::rules::Category;
use crate::world::WorldError;

/// The Graph API versions the sandbox answers to (and requests without a version).
pub const VERSIONS: std::ops::RangeInclusive<u32> = 14..=26;

/// A Graph API error, shaped as Meta's: `{"error":{"message":"(#code) …","type":…,"code":…}}`.
#[derive(Debug, Clone)]
pub struct GraphError {
    status: StatusCode,
    code: i64,
    subcode: Option<i64>,
    message: String,
    details: Option<String>,
}

impl GraphError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        let status = wa::error_codes::lookup(code)
            .and_then(|e| StatusCode::from_u16(e.http_status).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        Self {
            status,
            code,
            subcode: None,
            message: message.into(),
            details: None,
        }
    }

    /// An error of Meta's table, titled as Meta titles it, with what is wrong.
    pub fn coded(code: i64, details: impl Into<String>) -> Self {
        let title = wa::error_codes::lookup(code).map_or("Unknown error", |e| e.title);
        Self::new(code, title).details(details)
    }

    /// Error 100, "Invalid parameter", with what is wrong.
    pub fn invalid(details: impl Into<String>) -> Self {
        Self::new(100, "Invalid parameter").details(details)
    }

    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    fn subcode(mut self, subcode: i64) -> Self {
        self.subcode = Some(subcode);
        self
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut error = json!({
            "message": format!("(#{}) {}", self.code, self.message),
            "type": "OAuthException",
            "code": self.code,
            "fbtrace_id": format!("Sbx{:016x}", rand::random::<u64>()),
        });
        if let Some(details) = self.details {
            error["error_data"] = json!({ "messaging_product": "whatsapp", "details": details });
        }
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = json!(subcode);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

/// The node a Graph API path names (`{id}`), and the API version when the path has one
/// (`{version}`): every endpoint answers at `/{id}/…` and `/{version}/{id}/…` alike.
#[derive(Debug)]
pub struct Node {
    version: Option<String>,
    id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Node {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, GraphError> {
        let Path(mut params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| GraphError::invalid(e.body_text()))?;
        Ok(Self {
            version: params.remove("version"),
            id: params.remove("id").unwrap_or_default(),
        })
    }
}

fn check_version(version: Option<&str>) -> Result<(), GraphError> {
    let Some(v) = version else { return Ok(()) };
    let major = v
        .strip_prefix('v')
        .and_then(|rest| rest.strip_suffix(".0"))
        .and_then(|n| n.parse::<u32>().ok());
    match major {
        Some(n) if VERSIONS.contains(&n) => Ok(()),
        _ => Err(
            GraphError::new(2500, format!("Unknown path components: /{v}")).details(format!(
                "the sandbox answers Graph API versions v{}.0 to v{}.0, or no version",
                VERSIONS.start(),
                VERSIONS.end()
            )),
        ),
    }
}

fn check_token(sandbox: &Sandbox, headers: &HeaderMap) -> Result<(), GraphError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(token) if !token.is_empty() && token == sandbox.config.access_token => Ok(()),
        Some(_) => Err(GraphError::new(
            190,
            "Invalid OAuth access token - Cannot parse access token",
        )
        .details("the bearer token is not the sandbox's access token")),
        None => Err(GraphError::new(
            190,
            "An active access token must be used to query information about the current user.",
        )
        .details("send `Authorization: Bearer <access token>`")),
    }
}

fn no_such_object(id: &str) -> GraphError {
    GraphError::new(
        100,
        format!(
            "Unsupported post request. Object with ID '{id}' does not exist, cannot be loaded due \
             to missing permissions, or does not support this operation. Please read the Graph \
             API documentation at https://developers.facebook.com/docs/graph-api"
        ),
    )
    .subcode(33)
}

/// `POST /{phone-number-id}/messages`, with or without a version.
pub async fn messages(
    State(sandbox): State<Arc<Sandbox>>,
    Node {
        version,
        id: number,
    }: Node,
    headers: HeaderMap,
    body: Body,
) -> Response {
    with_faults(&sandbox, || {
        send(&sandbox, version.as_deref(), &number, &headers, &body)
    })
    .await
}

/// Runs a send under the faults in force: latency first, then an injected error instead of the
/// send, or the send carried out and its answer cut off after the status line.
async fn with_faults(
    sandbox: &Sandbox,
    send: impl FnOnce() -> Result<Json<Value>, GraphError>,
) -> Response {
    let faults = sandbox.faults();
    if faults.graph_latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(faults.graph_latency_ms)).await;
    }
    if faults::happens(faults.graph_error_rate) {
        return GraphError::coded(
            faults.graph_error_code,
            "injected by the sandbox (faults: graph_error_rate); nothing was sent",
        )
        .into_response();
    }
    match send() {
        Ok(accepted) if faults::happens(faults.drop_after_accept_rate) => {
            tracing::debug!(answer = %accepted.0, "send accepted, its answer cut off (fault)");
            cut_off()
        }
        answer => answer.into_response(),
    }
}

/// A 200 whose body breaks off after its first bytes: the connection is closed with the wamid
/// never sent, as when a network drops between Meta's acceptance and the client.
fn cut_off() -> Response {
    let chunks: [Result<&'static [u8], std::io::Error>; 2] = [
        Ok(b"{\"messaging_product\":\"whatsapp\","),
        Err(std::io::Error::other(
            "connection dropped after the send was accepted",
        )),
    ];
    let body = axum::body::Body::from_stream(futures::stream::iter(chunks));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn send(
    sandbox: &Sandbox,
    version: Option<&str>,
    number: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Json<Value>, GraphError> {
    check_version(version)?;
    check_token(sandbox, headers)?;
    if sandbox.world().number(number).is_none() {
        return Err(no_such_object(number));
    }
    let mut request: Value = serde_json::from_slice(body)
        .map_err(|e| GraphError::invalid(format!("the body is not JSON: {e}")))?;
    let Some(fields) = request.as_object_mut() else {
        return Err(GraphError::invalid("the body must be a JSON object"));
    };
    decode_string_parameters(fields);
    if request.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(
            GraphError::new(100, "The parameter messaging_product is required.")
                .details("set \"messaging_product\": \"whatsapp\""),
        );
    }
    if request.get("status").and_then(Value::as_str) == Some("read") {
        return mark_read(sandbox, number, &request);
    }
    let to = request
        .get("recipient")
        .or_else(|| request.get("to"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            GraphError::new(100, "The parameter to is required.")
                .details("give `to` (a phone number) or `recipient` (a business-scoped user id)")
        })?;
    let kind = request
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("text");
    let category = if kind == "template" {
        template_category(sandbox, number, &request)?
    } else {
        check_content(kind, &request)?
    };
    let now = sandbox.clock.now_ms();
    let (accepted, updates) = sandbox
        .world()
        .business_sends(number, to, kind, category, request.clone(), now)
        .map_err(|e| match e {
            WorldError::NoNumber(id) => no_such_object(&id),
            WorldError::Limit { code, details } => GraphError::coded(code, details),
            other => GraphError::invalid(other.to_string()),
        })?;
    sandbox.outbox.push(updates);
    let wa_id = accepted
        .wa_id
        .unwrap_or_else(|| to.chars().filter(char::is_ascii_digit).collect());
    Ok(Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": accepted.input, "wa_id": wa_id }],
        "messages": [{ "id": accepted.wamid }],
    })))
}

/// The Graph API takes object parameters JSON-encoded in a string as well (what form-encoded
/// clients send, and some JSON clients too, e.g. `"contacts": "[{…}]"`): such strings are
/// decoded for the parameters that can only be objects or arrays.
fn decode_string_parameters(fields: &mut serde_json::Map<String, Value>) {
    const STRUCTURED: &[&str] = &[
        "text",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "template",
        "interactive",
        "location",
        "contacts",
        "reaction",
        "context",
    ];
    for key in STRUCTURED {
        if let Some(Value::String(encoded)) = fields.get(*key)
            && let Ok(decoded @ (Value::Object(_) | Value::Array(_))) =
                serde_json::from_str::<Value>(encoded)
        {
            fields.insert((*key).to_owned(), decoded);
        }
    }
}

/// Checks the content of a non-template send against Meta's limits; the category it is priced
/// in.
fn check_content(kind: &str, request: &Value) -> Result<Category, GraphError> {
    crate::content::check(kind, request).map_err(GraphError::invalid)?;
    Ok(Category::Service)
}

/// Checks a template send against the approved template; its pricing category.
fn template_category(
    sandbox: &Sandbox,
    number: &str,
    request: &Value,
) -> Result<Category, GraphError> {
    let template = request
        .get("template")
        .filter(|t| t.is_object())
        .ok_or_else(|| {
            GraphError::new(100, "The parameter template is required.")
                .details("a template message needs a `template` object with `name` and `language`")
        })?;
    let name = template
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let language = template
        .pointer("/language/code")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if name.is_empty() || language.is_empty() {
        return Err(GraphError::invalid(
            "`template.name` and `template.language.code` are required",
        ));
    }
    let approved = sandbox
        .world()
        .approved_template(number, name, language)
        .ok_or_else(|| {
            GraphError::coded(
                132_001,
                format!("template name ({name}) does not exist in {language}, or is not approved"),
            )
        })?;
    crate::templates::check_send(&approved, template)
        .map_err(|m| GraphError::coded(m.code, m.details))?;
    Ok(approved.pricing_category())
}

fn mark_read(sandbox: &Sandbox, number: &str, request: &Value) -> Result<Json<Value>, GraphError> {
    let wamid = request
        .get("message_id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            GraphError::new(100, "The parameter message_id is required.")
                .details("mark-as-read needs the wamid of the customer's message")
        })?;
    sandbox
        .world()
        .mark_read(number, wamid)
        .map_err(|e| GraphError::invalid(e.to_string()))?;
    Ok(Json(json!({ "success": true })))
}

/// Fields of a phone number node that Meta knows and the sandbox has no value for.
const UNSET_NUMBER_FIELDS: &[&str] = &[
    "certificate",
    "new_certificate",
    "new_name_status",
    "last_onboarded_time",
    "country_code",
    "eligibility_for_api_business_global_search",
    "new_display_name",
    "official_business_account",
];

#[derive(Debug, serde::Deserialize)]
pub struct Fields {
    fields: Option<String>,
}

/// `GET /{phone-number-id}?fields=…`, with or without a version.
pub async fn number(
    State(sandbox): State<Arc<Sandbox>>,
    Node { version, id }: Node,
    headers: HeaderMap,
    Query(fields): Query<Fields>,
) -> Result<Json<Value>, GraphError> {
    describe(&sandbox, version.as_deref(), &id, &headers, &fields)
}

fn describe(
    sandbox: &Sandbox,
    version: Option<&str>,
    id: &str,
    headers: &HeaderMap,
    fields: &Fields,
) -> Result<Json<Value>, GraphError> {
    check_version(version)?;
    check_token(sandbox, headers)?;
    if let Some(media) = describe_media(sandbox, id, headers)? {
        return Ok(media);
    }
    let number = sandbox
        .world()
        .number(id)
        .cloned()
        .ok_or_else(|| no_such_object(id))?;
    let (tier, _) = sandbox.world().messaging_limit(sandbox.clock.now_ms());
    let calling_code = number.calling_code().unwrap_or_default();
    let all = json!({
        "id": number.phone_number_id,
        "display_phone_number": number.display_phone_number,
        "verified_name": "guichet sandbox",
        "quality_rating": "GREEN",
        "quality_score": { "score": "GREEN" },
        "status": "CONNECTED",
        "name_status": "APPROVED",
        "account_mode": "LIVE",
        "is_on_biz_app": false,
        "is_official_business_account": false,
        "is_pin_enabled": false,
        "is_preverified_number": false,
        "search_visibility": "NON_VISIBLE",
        "country_dial_code": calling_code,
        "health_status": {
            "can_send_message": "AVAILABLE",
            "entities": [{ "entity_type": "PHONE_NUMBER", "id": number.phone_number_id, "can_send_message": "AVAILABLE" }],
        },
        "conversational_automation": {
            "id": number.phone_number_id,
            "enable_welcome_message": false,
            "prompts": [],
            "commands": [],
        },
        "webhook_configuration": { "application": sandbox.outbox.callback().map(|c| c.url).unwrap_or_default() },
        "throughput": { "level": "STANDARD" },
        "whatsapp_business_manager_messaging_limit": tier.name(),
        // Deprecated by Meta, still answered for older clients.
        "messaging_limit_tier": tier.name(),
        "code_verification_status": "VERIFIED",
        "platform_type": "CLOUD_API",
    });
    let Some(wanted) = fields.fields.as_deref().filter(|f| !f.trim().is_empty()) else {
        return Ok(Json(json!({
            "id": all["id"],
            "display_phone_number": all["display_phone_number"],
            "verified_name": all["verified_name"],
            "quality_rating": all["quality_rating"],
        })));
    };
    let mut out = json!({ "id": number.phone_number_id });
    for field in wanted.split(',').map(str::trim) {
        match all.get(field) {
            Some(v) => out[field] = v.clone(),
            // Fields of the node that have no value for a sandbox number: Meta leaves them out.
            None if UNSET_NUMBER_FIELDS.contains(&field) => {}
            None => {
                return Err(GraphError::new(
                    100,
                    format!(
                        "Tried accessing nonexisting field ({field}) on node type (WhatsAppBusinessPhoneNumber)"
                    ),
                ));
            }
        }
    }
    Ok(Json(out))
}

/// `GET /{waba-id}/message_templates`, with or without a version.
pub async fn templates(
    State(sandbox): State<Arc<Sandbox>>,
    Node { version, id: waba }: Node,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, GraphError> {
    list_templates(&sandbox, version.as_deref(), &waba, &headers, &query)
}

/// The WABA's templates, filtered as Meta filters them (`name` contains, `status`, `category`,
/// `language`), at most `limit` of them, with the `summary` when asked for.
fn list_templates(
    sandbox: &Sandbox,
    version: Option<&str>,
    waba: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Json<Value>, GraphError> {
    check_version(version)?;
    check_token(sandbox, headers)?;
    let all = sandbox
        .world()
        .templates(waba)
        .map_err(|_| no_such_object(waba))?;
    let total = all.len();
    let wanted = |key: &str, value: &str| {
        query
            .get(key)
            .is_none_or(|w| w.split(',').any(|w| w.trim().eq_ignore_ascii_case(value)))
    };
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let templates: Vec<_> = all
        .into_iter()
        .filter(|t| {
            query
                .get("name")
                .is_none_or(|n| t.name.contains(&n.to_ascii_lowercase()))
                && wanted("status", &t.status)
                && wanted("category", &t.category)
                && wanted("language", &t.language)
        })
        .take(limit)
        .collect();
    let mut answer = json!({
        "data": templates,
        "paging": { "cursors": { "before": "", "after": "" } },
    });
    if query.contains_key("summary") {
        answer["summary"] = json!({
            "total_count": templates.len(),
            "message_template_count": total,
            "message_template_limit": 250,
            "are_translations_complete": true,
        });
    }
    Ok(Json(answer))
}

/// `POST /{waba-id}/message_templates`, with or without a version.
pub async fn create_template(
    State(sandbox): State<Arc<Sandbox>>,
    Node { version, id: waba }: Node,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, GraphError> {
    new_template(&sandbox, version.as_deref(), &waba, &headers, &body)
}

fn new_template(
    sandbox: &Sandbox,
    version: Option<&str>,
    waba: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Json<Value>, GraphError> {
    check_version(version)?;
    check_token(sandbox, headers)?;
    let request: Value = serde_json::from_slice(body)
        .map_err(|e| GraphError::invalid(format!("the body is not JSON: {e}")))?;
    let now = sandbox.clock.now_ms();
    let template = sandbox
        .world()
        .create_template(waba, &request, now)
        .map_err(|e| match e {
            WorldError::NoNumber(id) => no_such_object(&id),
            other => GraphError::invalid(other.to_string()),
        })?;
    Ok(Json(json!({
        "id": template.id,
        "status": template.status,
        "category": template.category,
    })))
}

/// `POST /{phone-number-id}/media`, with or without a version.
pub async fn upload(
    State(sandbox): State<Arc<Sandbox>>,
    Node {
        version,
        id: number,
    }: Node,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, GraphError> {
    upload_media(
        &sandbox,
        version.as_deref(),
        &number,
        &query,
        &headers,
        form,
    )
    .await
}

/// Reads Meta's upload form: `messaging_product=whatsapp`, `type=<MIME type>` and `file`; as
/// everywhere in the Graph API, `messaging_product` and `type` may come in the query string.
async fn upload_media(
    sandbox: &Sandbox,
    version: Option<&str>,
    number: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, GraphError> {
    check_version(version)?;
    check_token(sandbox, headers)?;
    if sandbox.world().number(number).is_none() {
        return Err(no_such_object(number));
    }
    let mut form = form.map_err(|e| {
        GraphError::invalid(format!(
            "{}: upload as multipart/form-data with `messaging_product`, `type` and `file`",
            e.body_text()
        ))
    })?;
    let mut product = query.get("messaging_product").cloned();
    let mut declared = query.get("type").cloned();
    let mut file = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| GraphError::invalid(format!("the multipart body is malformed: {e}")))?
    {
        match field.name().unwrap_or_default() {
            "messaging_product" => product = field.text().await.ok(),
            "type" => declared = field.text().await.ok(),
            "file" => {
                let part_type = field.content_type().map(str::to_owned);
                let filename = field.file_name().map(str::to_owned);
                let bytes = field.bytes().await.map_err(|e| {
                    GraphError::coded(131_053, format!("the file could not be read: {e}"))
                })?;
                file = Some((part_type, filename, bytes));
            }
            _ => {}
        }
    }
    if product.as_deref().map(str::trim) != Some("whatsapp") {
        return Err(
            GraphError::new(100, "The parameter messaging_product is required.")
                .details("add the form field messaging_product=whatsapp"),
        );
    }
    let (part_type, filename, bytes) = file.ok_or_else(|| {
        GraphError::new(100, "The parameter file is required.")
            .details("add the file as the form field `file`")
    })?;
    let mime_type = declared
        .filter(|t| !t.trim().is_empty())
        .or(part_type)
        .ok_or_else(|| {
            GraphError::new(100, "The parameter type is required.")
                .details("add the form field `type` with the file's MIME type")
        })?;
    let now = sandbox.clock.now_ms();
    let id = sandbox
        .world()
        .media_mut()
        .upload(number, mime_type.trim(), bytes, filename, now)
        .map_err(|why| GraphError::coded(131_053, why))?;
    Ok(Json(json!({ "id": id })))
}

/// `GET /{media-id}`: Meta's description of the file, with a download URL valid five minutes;
/// `None` if `id` is no media.
fn describe_media(
    sandbox: &Sandbox,
    id: &str,
    headers: &HeaderMap,
) -> Result<Option<Json<Value>>, GraphError> {
    let now = sandbox.clock.now_ms();
    let mut world = sandbox.world();
    let Some(item) = world.media().get(id, now).cloned() else {
        return Ok(None);
    };
    if faults::happens(sandbox.faults().media_info_error_rate) {
        return Err(GraphError::coded(
            131_000,
            "injected by the sandbox (faults: media_info_error_rate)",
        ));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let query = world.media_mut().hand_out_url(id, now);
    Ok(Some(Json(json!({
        "messaging_product": "whatsapp",
        "url": format!("http://{host}{}?{query}", media::DOWNLOAD_PATH),
        "mime_type": item.mime_type,
        "sha256": item.sha256,
        "file_size": item.bytes.len().to_string(),
        "id": item.id,
    }))))
}

/// `DELETE /{media-id}`, with or without a version.
pub async fn delete(
    State(sandbox): State<Arc<Sandbox>>,
    Node { version, id }: Node,
    headers: HeaderMap,
) -> Result<Json<Value>, GraphError> {
    delete_media(&sandbox, version.as_deref(), &id, &headers)
}

fn delete_media(
    sandbox: &Sandbox,
    version: Option<&str>,
    id: &str,
    headers: &HeaderMap,
) -> Result<Json<Value>, GraphError> {
    check_version(version)?;
    check_token(sandbox, headers)?;
    let now = sandbox.clock.now_ms();
    if sandbox.world().media_mut().delete(id, now) {
        Ok(Json(json!({ "success": true })))
    } else {
        Err(no_such_object(id))
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct Download {
    mid: String,
    ext: i64,
    hash: String,
}

/// The download URL `GET /whatsapp_business/attachments/?mid=…&ext=…&hash=…`: the file, for the
/// bearer token only, for five minutes.
pub async fn download(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    query: Result<Query<Download>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, GraphError> {
    check_token(&sandbox, &headers)?;
    let Query(q) = query.map_err(|_| {
        GraphError::invalid("not a media URL: get one from GET /{media-id}")
            .status(StatusCode::NOT_FOUND)
    })?;
    if faults::happens(sandbox.faults().media_download_error_rate) {
        return Ok((
            StatusCode::INTERNAL_SERVER_ERROR,
            "injected by the sandbox (faults: media_download_error_rate)",
        )
            .into_response());
    }
    let now = sandbox.clock.now_ms();
    let world = sandbox.world();
    let item = world
        .media()
        .download(&q.mid, q.ext, &q.hash, now)
        .map_err(|why| {
            let details = match why {
                media::Unavailable::Forged => "this URL was not given by GET /{media-id}",
                media::Unavailable::Expired => {
                    "media URLs expire after 5 minutes: get a new one with GET /{media-id}"
                }
                media::Unavailable::Gone => "the media was deleted or is past its lifetime",
            };
            GraphError::invalid(details).status(StatusCode::NOT_FOUND)
        })?;
    let mut response = (
        [(header::CONTENT_TYPE, item.mime_type.clone())],
        item.bytes.clone(),
    )
        .into_response();
    if let Some(Ok(value)) = item
        .filename
        .as_ref()
        .map(|name| format!("attachment; filename=\"{}\"", name.replace('"', "")).parse())
    {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
