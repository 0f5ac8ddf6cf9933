//! The running guichet service: the webhook endpoint, ingest, the REST API, the agent UI, the
//! sender, the media downloader, health and metrics.
//!
//! [`run`] builds everything from a listener, settings, a store and a clock, and serves until
//! the shutdown future resolves; then it stops accepting, finishes the requests in flight,
//! flushes the webhooks queued for storage and lets ingest finish its batch.

mod api;
pub mod appender;
pub mod bots;
pub mod clock;
pub mod config;
mod error;
pub mod graph;
mod health;
pub mod ingest;
pub mod live;
pub mod media;
pub mod metrics;
pub mod outbound;
pub mod replays;
pub mod ui;
mod webhook;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use store::Store;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Settings;
pub use error::ApiError;

use appender::Appender;
use metrics::Metrics;

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub appender: Appender,
    pub graph: graph::Graph,
    pub wakers: outbound::Wakers,
    /// Live updates for the agent UI.
    pub live: live::Live,
    /// When a send last asked for a template sync (ms), so that misses do not hammer Meta.
    pub template_sync_asked_ms: std::sync::atomic::AtomicI64,
}

/// The HTTP routes.
pub fn router(state: Arc<AppState>) -> Router {
    let max_body = state.settings.webhook.max_body_bytes;
    Router::new()
        .route(
            "/webhooks/whatsapp",
            get(webhook::verify)
                .post(webhook::receive)
                .layer(DefaultBodyLimit::max(max_body)),
        )
        .nest("/api/v1", api::router(state.clone()))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(ui::router(state.clone()))
        .fallback(|| async { ApiError::not_found("route") })
        .with_state(state)
}

enum IngestHandle {
    Thread(std::thread::JoinHandle<()>),
    Task(tokio::task::JoinHandle<()>),
}

/// Serves guichet on `listener` until `shutdown` resolves, then shuts down gracefully.
pub async fn run(
    listener: TcpListener,
    settings: Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    settings.media_dir()?;
    let settings = Arc::new(settings);
    // Bots' guards are built before anything is served: a missing model stops start-up with how
    // to install it, rather than leaving customers unanswered.
    let bots = {
        let settings = settings.clone();
        Arc::new(tokio::task::spawn_blocking(move || bots::Bots::build(&settings)).await??)
    };
    let bot_wake = Arc::new(Notify::new());
    let metrics = Arc::new(Metrics::new());
    let wake = Arc::new(Notify::new());
    let (appender, append_tasks) =
        Appender::start(&store, &metrics, &wake, settings.webhook.max_batch).await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let media_wake = Arc::new(Notify::new());
    let live = live::Live::new();
    let worker = ingest::Worker {
        store: store.clone(),
        settings: settings.clone(),
        metrics: metrics.clone(),
        clock: clock.clone(),
        wake,
        media_wake: media_wake.clone(),
        bot_wake: bot_wake.clone(),
        live: live.clone(),
    };
    // On Postgres several workers ingest at once (their claims skip each other's rows).
    // SQLite: one worker, on a thread of its own (its statements run inline). Postgres: several
    // workers on the runtime, their claims skipping each other's rows.
    let workers = store.concurrent_writers().max(1);
    let ingest: Vec<IngestHandle> = if store.writes_run_inline() {
        (0..workers)
            .map(|_| {
                worker
                    .clone()
                    .spawn(stop_rx.clone())
                    .map(IngestHandle::Thread)
            })
            .collect::<Result<_, _>>()?
    } else {
        (0..workers)
            .map(|_| IngestHandle::Task(tokio::spawn(worker.clone().run(stop_rx.clone()))))
            .collect()
    };

    let graph = graph::Graph::new(&settings.graph_url, settings.outbound.request_timeout);
    let wakers = outbound::Wakers::new(&settings);
    let sender = outbound::sender::Sender {
        store: store.clone(),
        settings: settings.clone(),
        clock: clock.clone(),
        graph: graph.clone(),
        metrics: metrics.clone(),
        node: node_name(),
    };
    let senders = sender.start(&wakers, &stop_rx);
    let downloads = media::Downloader {
        store: store.clone(),
        settings: settings.clone(),
        clock: clock.clone(),
        graph: graph.clone(),
        metrics: metrics.clone(),
        node: node_name(),
        wake: media_wake,
    }
    .start(stop_rx.clone());
    let syncer = tokio::spawn(sync_templates(
        store.clone(),
        graph.clone(),
        settings.clone(),
        clock.clone(),
        stop_rx.clone(),
    ));

    let live_task = tokio::spawn(live.clone().run(store.clone(), stop_rx.clone()));
    let state = Arc::new(AppState {
        settings,
        store,
        clock,
        metrics,
        appender,
        graph,
        wakers,
        live,
        template_sync_asked_ms: std::sync::atomic::AtomicI64::new(i64::MIN),
    });
    let (bots_stop_tx, bots_stop_rx) = watch::channel(false);
    let bot_loop = bots::start(&state, bots, node_name(), bot_wake, bots_stop_rx);
    let app = router(state.clone());
    tracing::info!(address = %listener.local_addr()?, "guichet is listening");
    // The peer's address reaches handlers (sessions and sign-in attempts record it).
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let closing = state.live.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            closing.close();
        })
        .await?;

    // The bot loop holds the state: it finishes its turn and stops first.
    let _ = bots_stop_tx.send(true);
    if let Some(task) = bot_loop {
        let _ = task.await;
    }
    // No request is in flight any more: the last appender handle goes with the state, the
    // writer drains its queue and stops; then ingest finishes its batch.
    drop(state);
    for task in append_tasks {
        let _ = task.await;
    }
    let _ = stop_tx.send(true);
    for task in senders {
        let _ = task.await;
    }
    let _ = downloads.await;
    syncer.abort();
    live_task.abort();
    for handle in ingest {
        match handle {
            IngestHandle::Thread(thread) => {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            IngestHandle::Task(task) => {
                let _ = task.await;
            }
        }
    }
    tracing::info!("guichet stopped");
    Ok(())
}

/// This process's name in the send leases: host and process id, unique while it runs.
fn node_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
    format!("{host}:{}:{}", std::process::id(), rand::random::<u32>())
}

/// Keeps the templates current: at start, then hourly (webhooks update them in between).
async fn sync_templates(
    store: Arc<dyn Store>,
    graph: graph::Graph,
    settings: Arc<Settings>,
    clock: Arc<dyn Clock>,
    mut stop: watch::Receiver<bool>,
) {
    if settings.numbers.iter().all(|n| n.access_token.is_empty()) {
        return;
    }
    loop {
        match outbound::templates::sync(&store, &graph, &settings, &clock).await {
            Ok(report) => tracing::info!(
                templates = report.templates,
                recategorised = report.recategorised,
                failures = report.failures.len(),
                "templates synced"
            ),
            Err(e) => tracing::warn!(error = %e, "template sync failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            _ = stop.changed() => return,
        }
    }
}
