//! The ceiling reference: an axum server that reads each request's whole body and answers at
//! once, doing nothing else. No signature or token check, no parsing, no storage: whatever a real
//! server does costs throughput relative to this.
//!
//! - `POST /webhooks/whatsapp` answers 200 with an empty body (the webhook-ingest benchmark);
//! - `POST /{version}/{phone-number-id}/messages` answers 200 with a fixed body shaped as the
//!   Graph API's answer to a send (the sandbox benchmark).

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use clap::Parser;

/// Answer 200 to every POST /webhooks/whatsapp and POST /{version}/{id}/messages, after reading
/// the body.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

async fn webhook(body: Bytes) -> StatusCode {
    // The extractor has read the whole body; dropping it is all the work there is.
    drop(body);
    StatusCode::OK
}

/// What the Graph API answers to an accepted send, always the same here.
const SEND_ANSWER: &str = concat!(
    r#"{"messaging_product":"whatsapp","contacts":[{"input":"33600000001","wa_id":"33600000001"}],"#,
    r#""messages":[{"id":"wamid.c2FuZGJveDpvdXQ6MTIzNDU2OmRlYWRiZWVm"}]}"#
);

async fn send(body: Bytes) -> impl IntoResponse {
    drop(body);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        SEND_ANSWER,
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let app = Router::new()
        .route("/webhooks/whatsapp", post(webhook))
        .route("/{version}/{number}/messages", post(send));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // On SIGINT; the bench script stops the server with SIGTERM, which needs no handler.
            drop(tokio::signal::ctrl_c().await);
        })
        .await
        .context("serving")
}
