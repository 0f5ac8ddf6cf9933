//! The ceiling reference: an axum server whose `POST /webhooks/whatsapp` reads the whole body
//! and answers 200 with an empty body. No signature check, no parsing, no storage: whatever a
//! real receiver does costs throughput relative to this.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use clap::Parser;

/// Answer 200 to every POST /webhooks/whatsapp, after reading the body.
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let app = Router::new().route("/webhooks/whatsapp", post(webhook));
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
