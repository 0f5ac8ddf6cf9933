//! `guichet`: a self-hosted customer-service hub for the WhatsApp Business Platform.

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

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub: webhook endpoint, ingest and REST API, until Ctrl-C or SIGTERM.
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
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
    if let Command::Config(ConfigCommand::Default) = cli.command {
        return write_stdout(hub::config::DEFAULT_CONFIG);
    }
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
        match cli.command {
            Command::Serve => serve(settings).await,
            Command::Migrate => migrate(&settings).await,
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
            Command::Config(ConfigCommand::Default) => Ok(()),
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
