//! A local emulator of Meta's WhatsApp Cloud API, so that guichet (or any Cloud API client) is
//! developed, tested and demonstrated without a Meta account.
//!
//! It serves the Graph API endpoints under their versioned and unversioned paths, applies Meta's
//! rules with Meta's error codes, sends status webhooks with `pricing` computed for the emulated
//! date, and delivers signed webhooks with Meta's retries. Simulated customers write in through
//! the control API under `/_sandbox/`, and an emulated clock moves time forward on demand.
//!
//! What it emulates: sends of every common kind, media (upload, describe, download, delete),
//! templates (created PENDING, reviewed by explicit rules), the phone number node; Meta's rules
//! (the 24-hour window, template checks, sizes, throughput, pair rate, marketing caps, portfolio
//! messaging limits, undeliverable numbers, customers who stopped marketing, the free entry point
//! window after a Click-to-WhatsApp ad); sent, delivered, read and failed statuses by each
//! customer's behaviour with the pricing of the emulated date; and faults on demand (see
//! [`faults`]).

pub mod clock;
pub mod content;
pub mod control;
pub mod faults;
pub mod graph;
pub mod limits;
pub mod media;
pub mod rules;
pub mod templates;
pub mod tiers;
pub mod webhooks;
pub mod world;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use clock::Clock;
pub use limits::Limits;
pub use webhooks::{Callback, Outbox};
pub use world::{Number, World};

/// How the sandbox is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The app secret webhooks are signed with.
    pub app_secret: String,
    /// The bearer token the Graph API accepts.
    pub access_token: String,
    pub numbers: Vec<Number>,
    /// Where webhooks go; can also be set later through the control API.
    pub callback: Option<Callback>,
    /// The emulated time at start (Unix ms); the machine's time when absent.
    pub start_ms: Option<i64>,
    /// Most updates in one webhook POST.
    pub batch_max: usize,
    /// The rate limits enforced.
    pub limits: Limits,
}

/// The running emulator's state.
#[derive(Debug)]
pub struct Sandbox {
    pub config: Config,
    pub clock: Arc<Clock>,
    pub outbox: Arc<Outbox>,
    world: Mutex<World>,
    faults: Mutex<faults::Faults>,
}

impl Sandbox {
    pub fn new(config: Config) -> Arc<Self> {
        let clock = Arc::new(Clock::new(config.start_ms));
        let outbox = Arc::new(Outbox::new(
            config.app_secret.clone(),
            config.callback.clone(),
            config.batch_max,
            clock.clone(),
        ));
        let world = Mutex::new(World::new(config.numbers.clone(), config.limits));
        Arc::new(Self {
            config,
            clock,
            outbox,
            world,
            faults: Mutex::new(faults::Faults::default()),
        })
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A simulated customer writes (what `POST /_sandbox/customers/{id}/messages` does).
    pub fn customer_says(
        &self,
        customer: &str,
        message: &world::CustomerMessage,
    ) -> Result<String, world::WorldError> {
        let (wamid, update) =
            self.world()
                .customer_sends(customer, message, self.clock.now_ms())?;
        self.outbox.push([update]);
        Ok(wamid)
    }

    /// The business sends a free-form message, as through the Graph API but without its checks
    /// of content (for seeding a demo); the wamid.
    pub fn business_says(
        &self,
        phone_number_id: &str,
        to: &str,
        message: serde_json::Value,
    ) -> Result<String, world::WorldError> {
        let kind = message
            .get("type")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("text")
            .to_owned();
        let category = match kind.as_str() {
            "template" => {
                let t = &message["template"];
                let name = t["name"].as_str().unwrap_or_default();
                let language = t["language"]["code"].as_str().unwrap_or_default();
                self.world()
                    .approved_template(phone_number_id, name, language)
                    .map_or(rules::Category::Utility, |t| t.pricing_category())
            }
            _ => rules::Category::Service,
        };
        let (accepted, updates) = self.world().business_sends(
            phone_number_id,
            to,
            &kind,
            category,
            message,
            self.clock.now_ms(),
        )?;
        self.outbox.push(updates);
        Ok(accepted.wamid)
    }

    /// The faults in force.
    pub fn faults(&self) -> faults::Faults {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sets the faults in force, for the Graph API and for webhook delivery.
    pub fn set_faults(&self, faults: faults::Faults) -> Result<(), String> {
        faults.check()?;
        self.outbox.set_faults(faults.clone());
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner) = faults;
        Ok(())
    }

    /// Hands the statuses that have fallen due to the outbox.
    pub fn tick(&self) {
        let due = self.world().take_due(self.clock.now_ms());
        self.outbox.push(due);
    }

    /// Starts delivering webhooks and emitting scheduled statuses, in the background.
    pub fn start(self: &Arc<Self>) {
        tokio::spawn(self.outbox.clone().run());
        let this = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(50));
            loop {
                every.tick().await;
                this.tick();
            }
        });
    }
}

/// The sandbox's routes: the Graph API and the control API.
pub fn router(sandbox: Arc<Sandbox>) -> Router {
    let control = Router::new()
        .route("/_sandbox", get(control::overview))
        .route(
            "/_sandbox/customers",
            post(control::create_customer).get(control::list_customers),
        )
        .route("/_sandbox/customers/{id}", get(control::customer))
        .route(
            "/_sandbox/customers/{id}/behaviour",
            axum::routing::patch(control::set_behaviour),
        )
        .route(
            "/_sandbox/customers/{id}/messages",
            post(control::customer_sends),
        )
        .route(
            "/_sandbox/customers/{id}/transcript",
            get(control::transcript),
        )
        .route("/_sandbox/clock", get(control::clock))
        .route(
            "/_sandbox/faults",
            get(control::faults).put(control::set_faults),
        )
        .route("/_sandbox/clock/advance", post(control::advance))
        .route(
            "/_sandbox/webhook",
            get(control::webhook).put(control::set_webhook),
        )
        .route(media::DOWNLOAD_PATH, get(graph::download));
    // Every Graph API endpoint, with and without a version in its path.
    let graph = Router::new()
        .route(
            "/{id}/message_templates",
            get(graph::templates).post(graph::create_template),
        )
        .route("/{id}/messages", post(graph::messages))
        .route(
            "/{id}/media",
            post(graph::upload).layer(DefaultBodyLimit::max(media::UPLOAD_BODY_MAX)),
        )
        .route("/{id}", get(graph::number).delete(graph::delete));
    control
        .merge(graph.clone())
        .nest("/{version}", graph)
        .with_state(sandbox)
}

/// Serves the sandbox on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(config);
    sandbox.start();
    serve_with(listener, sandbox, shutdown).await
}

/// Serves a sandbox already started (see [`Sandbox::start`]), e.g. one a demo drives.
pub async fn serve_with(
    listener: TcpListener,
    sandbox: Arc<Sandbox>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "sandbox is listening");
    axum::serve(listener, router(sandbox))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
