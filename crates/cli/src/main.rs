//! `guichet`: a self-hosted customer-service hub for the WhatsApp Business Platform.

mod costs;
mod demo;
mod example_backend;
mod guard_cmd;
mod sandbox_ctl;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use hub::Settings;
use hub::config::LogFormat;

/// guichet — a self-hosted customer-service hub for the WhatsApp Business Platform.
///
/// Point your Meta app's webhook at https://<your host>/webhooks/whatsapp and every customer
/// message, status update and template event is verified, stored exactly once and shown as
/// conversations through the REST API under /api/v1.
///
/// Quick start with one number, configured from the environment alone:
///
///   GUICHET_APP_SECRET=… GUICHET_VERIFY_TOKEN=… GUICHET_PHONE_NUMBER_ID=… \
///   GUICHET_WABA_ID=… GUICHET_ACCESS_TOKEN=… GUICHET_API_TOKEN=… guichet serve
///
/// Configuration is read from the embedded defaults (`guichet config default` prints them, every
/// key documented), then `--config FILE`, then GUICHET_* environment variables.
#[derive(Debug, Parser)]
#[command(name = "guichet", version, about, long_about, verbatim_doc_comment)]
struct Cli {
    /// A TOML configuration file, layered over the defaults (environment variables win over it).
    #[arg(
        long,
        short,
        global = true,
        env = "GUICHET_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct CostsArgs {
    /// One month, such as 2026-10 (default: this month, on the account's clock).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    month: Option<String>,
    /// First month of a range.
    #[arg(long)]
    from: Option<String>,
    /// Last month of a range (default: this month).
    #[arg(long)]
    to: Option<String>,
    /// Print the report as JSON, as `GET /api/v1/costs` answers it.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub: webhook endpoint, ingest and REST API, until Ctrl-C or SIGTERM.
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// What WhatsApp traffic cost, by month, category, market and number: predicted when each
    /// message was queued, beside what Meta billed in its status webhooks. Reads the database
    /// of the configuration (no running server needed).
    ///
    ///   guichet costs                      this month
    ///   guichet costs --month 2026-10
    ///   guichet costs --from 2026-07 --to 2026-10 --json
    #[command(verbatim_doc_comment)]
    Costs(CostsArgs),
    /// Run the emulator of Meta's Cloud API alone, for developing any Cloud API client.
    ///
    /// It answers the Graph API (POST /v25.0/{phone-number-id}/messages and /media,
    /// GET and DELETE /{media-id}, GET /{phone-number-id}, GET and POST
    /// /{waba-id}/message_templates) with the access token below, applies Meta's rules and
    /// sends signed webhooks to the callback URL. Simulated customers are driven through
    /// /_sandbox/: POST /_sandbox/customers, POST /_sandbox/customers/{wa_id}/messages, PATCH
    /// /_sandbox/customers/{wa_id}/behaviour, GET /_sandbox/customers/{wa_id}/transcript, POST
    /// /_sandbox/clock/advance, PUT /_sandbox/webhook, PUT /_sandbox/faults.
    ///
    /// To feed a local guichet: start it with GUICHET_APP_SECRET=sandbox-app-secret and
    /// GUICHET_VERIFY_TOKEN=sandbox-verify-token, then run
    /// `guichet sandbox --callback-url http://127.0.0.1:8080/webhooks/whatsapp`.
    ///
    /// With a command, drives a running sandbox instead (--url, SANDBOX_URL):
    ///   guichet sandbox add-customer --phone +33612345678 --name "Camille Martin"
    ///   guichet sandbox say 33612345678 "Ma machine à laver fuit"
    ///   guichet sandbox transcript 33612345678
    ///   guichet sandbox advance --hours 25
    ///   guichet sandbox faults --graph-error-rate 0.2 --webhook-duplicate-rate 0.1
    #[command(verbatim_doc_comment)]
    Sandbox(Box<SandboxArgs>),
    /// Try guichet without a Meta account: the hub on SQLite, fed by the sandbox in the same
    /// process, with a seeded business and simulated customers who keep writing in.
    Demo(Box<demo::DemoArgs>),
    /// Manage the people who sign in to the agent UI: add (the first admin too), list, disable,
    /// enable, reset a password. Works on the database of the configuration.
    ///
    ///   guichet user add camille --name "Camille Martin" --role admin
    ///   guichet user list
    ///   guichet user disable joao
    ///   guichet user password joao
    #[command(subcommand, verbatim_doc_comment)]
    User(user::UserCommand),
    /// The scope guard of a bot's flow: explain a decision, or measure it on a labelled file.
    /// Needs no configuration file.
    #[command(subcommand)]
    Guard(guard_cmd::GuardCommand),
    /// Serve the small back-end the example flows call (examples/flows/): trips and bookings,
    /// orders and returns, repair tickets, in memory. `guichet demo` runs it by itself.
    ExampleBackend {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9191")]
        listen: std::net::SocketAddr,
        /// A bearer token every request must carry (as `bots.backend_token`).
        #[arg(long, env = "EXAMPLE_BACKEND_TOKEN")]
        token: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct SandboxArgs {
    #[command(subcommand)]
    control: Option<sandbox_ctl::Control>,
    /// Address to listen on.
    #[arg(long, env = "SANDBOX_LISTEN", default_value = "127.0.0.1:9090")]
    listen: std::net::SocketAddr,
    /// The app secret webhooks are signed with (the receiver's app secret).
    #[arg(long, env = "SANDBOX_APP_SECRET", default_value = "sandbox-app-secret")]
    app_secret: String,
    /// The bearer token the Graph API accepts.
    #[arg(
        long,
        env = "SANDBOX_ACCESS_TOKEN",
        default_value = "sandbox-access-token"
    )]
    access_token: String,
    /// The emulated business number's id.
    #[arg(
        long,
        env = "SANDBOX_PHONE_NUMBER_ID",
        default_value = "106540352242922"
    )]
    phone_number_id: String,
    /// The WhatsApp Business Account it belongs to.
    #[arg(long, env = "SANDBOX_WABA_ID", default_value = "102290129340398")]
    waba_id: String,
    /// The number itself, digits with the country code.
    #[arg(
        long,
        env = "SANDBOX_DISPLAY_PHONE_NUMBER",
        default_value = "15550783881"
    )]
    display_phone_number: String,
    /// Where webhooks go. Undelivered ones are retried, so the receiver may start later. Also
    /// settable at run time, with Meta's verification handshake, by PUT /_sandbox/webhook.
    #[arg(long, env = "SANDBOX_CALLBACK_URL")]
    callback_url: Option<String>,
    /// The verify token of the callback's handshake.
    #[arg(
        long,
        env = "SANDBOX_VERIFY_TOKEN",
        default_value = "sandbox-verify-token"
    )]
    verify_token: String,
    /// The emulated date to start at (RFC 3339, e.g. 2026-09-01T09:00:00Z); now when absent.
    /// Pricing follows the rules in force on the emulated date.
    #[arg(long, env = "SANDBOX_START")]
    start: Option<String>,
    /// Most updates in one webhook POST (Meta sometimes batches several).
    #[arg(long, env = "SANDBOX_BATCH_MAX", default_value_t = 1)]
    batch_max: usize,
    /// Messages per second the number may send before Meta's 130429 (80 by default, as Meta's).
    #[arg(long, env = "SANDBOX_THROUGHPUT_MPS", default_value_t = 80)]
    throughput_mps: u32,
    /// The business portfolio's messaging limit at start: unique customers reached outside a
    /// customer service window in 24 h (250, 2000, 10000, 100000 or unlimited). It goes up a
    /// level 6 emulated hours after half of it was used in a week.
    #[arg(long, env = "SANDBOX_MESSAGING_LIMIT", default_value = "2000")]
    messaging_limit: sandbox::tiers::Tier,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the default configuration file, every key documented.
    Default,
    /// Load and validate the configuration, and say what guichet would serve.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Config(ConfigCommand::Default) => {
            return write_stdout(hub::config::DEFAULT_CONFIG);
        }
        Command::Sandbox(args) => return run_sandbox(*args),
        Command::Demo(args) => return run_demo(*args),
        Command::ExampleBackend { listen, token } => return run_example_backend(listen, token),
        Command::Guard(command) => return run_guard(command),
        other => other,
    };
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            write_stderr(&format!("guichet: {e}\n"));
            return ExitCode::from(2);
        }
    };
    init_logs(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            write_stderr(&format!("guichet: cannot start the async runtime: {e}\n"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Serve => serve(settings).await,
            Command::Migrate => migrate(&settings).await,
            Command::Costs(args) => costs::run(&settings, &args).await,
            Command::User(command) => user::run(&settings, command).await,
            Command::Config(ConfigCommand::Check) => {
                let summary = format!(
                    "configuration is valid: listening on {}, database {}, {} app(s), {} number(s), {} API token(s)\n",
                    settings.listen,
                    store::redact_url(&settings.database.url),
                    settings.apps.len(),
                    settings.numbers.len(),
                    settings.api.tokens.len()
                );
                write_stdout(&summary);
                Ok(())
            }
            Command::Config(ConfigCommand::Default)
            | Command::Sandbox(_)
            | Command::Demo(_)
            | Command::ExampleBackend { .. }
            | Command::Guard(_) => {
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            write_stderr(&format!("guichet: {e:#}\n"));
            ExitCode::FAILURE
        }
    }
}

/// `guichet guard`: needs no configuration (CPU-bound, no runtime).
fn run_guard(command: guard_cmd::GuardCommand) -> ExitCode {
    init_plain_logs("warn");
    match guard_cmd::run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            write_stderr(&format!("guichet: {e:#}\n"));
            ExitCode::FAILURE
        }
    }
}

/// `guichet example-backend`: needs no configuration.
fn run_example_backend(listen: std::net::SocketAddr, token: Option<String>) -> ExitCode {
    init_plain_logs("info");
    block_on(serve_example_backend(listen, token))
}

async fn serve_example_backend(
    listen: std::net::SocketAddr,
    token: Option<String>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen} (--listen): {e}"))?;
    tracing::info!(address = %listener.local_addr()?, "the example back-end is listening");
    axum::serve(listener, example_backend::router(token))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Logs for the commands that run without a configuration file: `RUST_LOG`, else `default`.
fn init_plain_logs(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{default},sqlx=warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

fn block_on(future: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            write_stderr(&format!("guichet: cannot start the async runtime: {e}\n"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(future) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            write_stderr(&format!("guichet: {e:#}\n"));
            ExitCode::FAILURE
        }
    }
}

fn run_demo(args: demo::DemoArgs) -> ExitCode {
    init_plain_logs("warn");
    block_on(demo::run(args))
}

fn run_sandbox(args: SandboxArgs) -> ExitCode {
    if let Some(control) = args.control {
        return block_on(async move {
            let answer = sandbox_ctl::run(control).await?;
            write_stdout(&answer);
            Ok(())
        });
    }
    init_plain_logs("info");
    let start_ms = match args
        .start
        .as_deref()
        .map(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339))
    {
        None => None,
        Some(Ok(t)) => Some(i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)),
        Some(Err(e)) => {
            write_stderr(&format!(
                "guichet: --start `{}` is not an RFC 3339 date such as 2026-09-01T09:00:00Z: {e}\n",
                args.start.unwrap_or_default()
            ));
            return ExitCode::from(2);
        }
    };
    let config = sandbox::Config {
        app_secret: args.app_secret,
        access_token: args.access_token,
        numbers: vec![sandbox::Number {
            phone_number_id: args.phone_number_id,
            waba_id: args.waba_id,
            display_phone_number: args.display_phone_number,
        }],
        callback: args.callback_url.map(|url| sandbox::Callback {
            url,
            verify_token: args.verify_token,
        }),
        start_ms,
        batch_max: args.batch_max,
        limits: sandbox::Limits {
            throughput_mps: args.throughput_mps,
            messaging_tier: args.messaging_limit,
            ..sandbox::Limits::default()
        },
    };
    block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        sandbox::serve(listener, config, shutdown_signal()).await
    })
}

async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn store::Store>> {
    let options = store::Options {
        max_connections: settings.database.max_connections,
        lock_timeout: settings.database.lock_timeout,
        ..store::Options::default()
    };
    store::connect(&settings.database.url, &options)
        .await
        .with_context(|| format!("opening {}", store::redact_url(&settings.database.url)))
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    store.migrate().await?;
    tracing::info!(
        backend = store.backend().as_str(),
        "database schema is up to date"
    );
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let store = open_store(&settings).await?;
    if settings.database.migrate_on_start {
        store.migrate().await?;
    }
    if settings.api.tokens.is_empty() {
        tracing::warn!(
            "no API token is configured (api.tokens / GUICHET_API_TOKEN): /api/v1 answers 401"
        );
    }
    if settings.verify_tokens().next().is_none() {
        tracing::warn!(
            "no webhook verify token is configured (webhook.verify_token / GUICHET_VERIFY_TOKEN): Meta's verification handshake will be refused"
        );
    }
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    tracing::info!(
        backend = store.backend().as_str(),
        numbers = settings.numbers.len(),
        apps = settings.apps.len(),
        "starting guichet"
    );
    hub::run(
        listener,
        settings,
        store,
        Arc::new(hub::SystemClock::default()),
        shutdown_signal(),
    )
    .await
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing in-flight work");
}

fn init_logs(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},sqlx=warn", settings.log.level)));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match settings.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn write_stdout(text: &str) -> ExitCode {
    use std::io::Write as _;
    match std::io::stdout().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn write_stderr(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(text.as_bytes());
}
