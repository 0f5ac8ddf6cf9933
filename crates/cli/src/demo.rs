//! `guichet demo`: the hub on SQLite with the sandbox in the same process, a seeded business
//! (a number, approved templates in three categories, customers, conversations in different
//! states) and simulated customers who keep writing in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sandbox::world::{Behaviour, BehaviourPatch, CustomerMessage, NewCustomer, Referral};
use serde_json::json;

const SECRET: &str = "demo-app-secret";
const VERIFY_TOKEN: &str = "demo-verify-token";
const ACCESS_TOKEN: &str = "demo-access-token";
const API_TOKEN: &str = "demo-api-token-0123456789";
const NUMBER: &str = "106540352242922";
const WABA: &str = "102290129340398";
const DISPLAY: &str = "15550783881";

/// The demo's bots: a number each, running the example flows against the example back-end.
const BOTS: [(&str, &str, &str, &str); 3] = [
    (
        "106540352242931",
        "15550783891",
        "travel.toml",
        include_str!("../../../examples/flows/travel.toml"),
    ),
    (
        "106540352242932",
        "15550783892",
        "shop.toml",
        include_str!("../../../examples/flows/shop.toml"),
    ),
    (
        "106540352242933",
        "15550783893",
        "appliance.toml",
        include_str!("../../../examples/flows/appliance.toml"),
    ),
];

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Address of the hub (webhooks, REST API).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Address of the sandbox (Graph API, /_sandbox/ control API).
    #[arg(long, default_value = "127.0.0.1:9090")]
    sandbox_listen: SocketAddr,
    /// The hub's database.
    #[arg(long, default_value = "sqlite:guichet-demo.db")]
    database_url: String,
    /// Where customers' media are kept (default: a `media` folder beside a SQLite database;
    /// needed with Postgres).
    #[arg(long)]
    media_dir: Option<std::path::PathBuf>,
    /// Seconds between two messages of the simulated customers (0: they only write at start).
    #[arg(long, default_value_t = 20)]
    chatter_secs: u64,
    /// Address of the example back-end the demo's bots call (port 0: any free port; the demo
    /// prints it).
    #[arg(long, default_value = "127.0.0.1:0")]
    backend_listen: SocketAddr,
}

/// The hub reads the sandbox's emulated clock, so that moving it moves both.
#[derive(Debug)]
struct SharedClock(Arc<sandbox::Clock>);

impl hub::Clock for SharedClock {
    fn now_ms(&self) -> i64 {
        self.0.now_ms()
    }
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let hub_listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (the hub; --listen)", args.listen))?;
    let sandbox_listener = tokio::net::TcpListener::bind(args.sandbox_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (the sandbox; --sandbox-listen)",
                args.sandbox_listen
            )
        })?;
    let hub_addr = hub_listener.local_addr()?;
    let sandbox_addr = sandbox_listener.local_addr()?;
    let hub_url = format!("http://{hub_addr}");
    let sandbox_url = format!("http://{sandbox_addr}");

    let sandbox = sandbox::Sandbox::new(sandbox::Config {
        app_secret: SECRET.into(),
        access_token: ACCESS_TOKEN.into(),
        numbers: std::iter::once((NUMBER, DISPLAY))
            .chain(BOTS.iter().map(|(id, display, _, _)| (*id, *display)))
            .map(|(id, display)| sandbox::Number {
                phone_number_id: id.into(),
                waba_id: WABA.into(),
                display_phone_number: display.into(),
            })
            .collect(),
        // The hub's socket is bound already: webhooks wait in its backlog until it serves.
        callback: Some(sandbox::Callback {
            url: format!("{hub_url}/webhooks/whatsapp"),
            verify_token: VERIFY_TOKEN.into(),
        }),
        start_ms: None,
        batch_max: 1,
        limits: sandbox::Limits::default(),
    });
    sandbox.start();
    // Seeded before the hub starts, so that its first template sync finds the templates; the
    // customers' webhooks wait in the hub's listen backlog.
    seed(&sandbox).context("seeding the demo business")?;

    let backend_listener = tokio::net::TcpListener::bind(args.backend_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (the example back-end; --backend-listen)",
                args.backend_listen
            )
        })?;
    let backend_url = format!("http://{}", backend_listener.local_addr()?);
    let backend_token = format!("demo-backend-{:016x}", rand::random::<u64>());
    // The example flows, written where the configuration can name them.
    let flows_dir = std::env::temp_dir().join(format!("guichet-demo-flows-{}", std::process::id()));
    std::fs::create_dir_all(&flows_dir)?;
    let mut bot_numbers = Vec::new();
    for (id, _, file, text) in BOTS {
        let path = flows_dir.join(file);
        std::fs::write(&path, text)?;
        bot_numbers.push(json!({
            "phone_number_id": id,
            "waba_id": WABA,
            "app": "main",
            "access_token": ACCESS_TOKEN,
            "bot_flow": path.display().to_string(),
        }));
    }
    let mut env = [
        ("GUICHET_LISTEN", hub_addr.to_string()),
        ("GUICHET_DATABASE_URL", args.database_url.clone()),
        ("GUICHET_APP_SECRET", SECRET.into()),
        ("GUICHET_VERIFY_TOKEN", VERIFY_TOKEN.into()),
        ("GUICHET_PHONE_NUMBER_ID", NUMBER.into()),
        ("GUICHET_WABA_ID", WABA.into()),
        ("GUICHET_ACCESS_TOKEN", ACCESS_TOKEN.into()),
        ("GUICHET_GRAPH_URL", format!("{sandbox_url}/v25.0")),
        ("GUICHET_API_TOKEN", API_TOKEN.into()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into_iter()
    .chain(
        args.media_dir
            .as_ref()
            .map(|d| ("GUICHET_MEDIA__DIR".to_owned(), d.display().to_string())),
    )
    .collect::<Vec<_>>();
    env.extend([
        (
            "GUICHET_NUMBERS".to_owned(),
            serde_json::Value::Array(bot_numbers).to_string(),
        ),
        ("GUICHET_BOTS__BACKEND_URL".to_owned(), backend_url.clone()),
        (
            "GUICHET_BOTS__BACKEND_TOKEN".to_owned(),
            backend_token.clone(),
        ),
    ]);
    // Without the embedding model, the demo's bots use the fast tier (and say so).
    let model_dir =
        std::env::var("GUICHET_GUARD__MODEL_DIR").unwrap_or_else(|_| embed::DEFAULT_DIR.to_owned());
    let tier_note = if std::env::var("GUICHET_GUARD__TIER").is_err()
        && embed::locate(std::path::Path::new(&model_dir)).is_err()
    {
        env.push(("GUICHET_GUARD__TIER".to_owned(), "fast".to_owned()));
        format!(
            "The bots' scope guard runs its fast tier: the embedding model is not in {model_dir}. Install it with\n  {}\n",
            embed::INSTALL
        )
    } else {
        String::new()
    };
    // Other GUICHET_* settings (sessions, policy, pricing…) apply to the demo as to `serve`;
    // the demo's own number, secrets and addresses win.
    let own: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    let inherited: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("GUICHET_") && !own.contains(&k.as_str()))
        .collect();
    let settings = hub::Settings::load_from(None, inherited.into_iter().chain(env))?;
    let store = crate::open_store(&settings).await?;
    store.migrate().await?;
    let people = seed_people(store.as_ref(), sandbox.clock.now_ms())
        .await
        .context("adding the demo's admin and agent")?;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut hub_stop = stopped.clone();
    let hub_task = tokio::spawn(hub::run(
        hub_listener,
        settings,
        store,
        Arc::new(SharedClock(sandbox.clock.clone())),
        async move {
            let _ = hub_stop.wait_for(|s| *s).await;
        },
    ));
    let mut sandbox_stop = stopped.clone();
    let mut backend_stop = stopped.clone();
    let backend_task = tokio::spawn(
        axum::serve(
            backend_listener,
            crate::example_backend::router(Some(backend_token)),
        )
        .with_graceful_shutdown(async move {
            let _ = backend_stop.wait_for(|s| *s).await;
        })
        .into_future(),
    );
    let sandbox_task = tokio::spawn(sandbox::serve_with(
        sandbox_listener,
        sandbox.clone(),
        async move {
            let _ = sandbox_stop.wait_for(|s| *s).await;
        },
    ));

    crate::write_stdout(&guide(&hub_url, &sandbox_url, &args));
    crate::write_stdout(&sign_in_guide(hub_addr, &people));
    crate::write_stdout(&bots_guide(
        &sandbox_url,
        &backend_url,
        &flows_dir,
        &tier_note,
    ));

    let chatter = chatter(sandbox.clone(), args.chatter_secs);
    tokio::select! {
        () = crate::shutdown_signal() => {}
        () = chatter => { crate::shutdown_signal().await; }
    }
    let _ = stop.send(true);
    backend_task.await??;
    sandbox_task.await??;
    hub_task.await?
}

/// The demo's people: an admin and an agent, with passwords generated at every start (an
/// existing demo database gets theirs reset), printed once.
async fn seed_people(
    store: &dyn store::Store,
    now_ms: i64,
) -> anyhow::Result<Vec<(&'static str, &'static str, String)>> {
    use hub::ui::auth::{Role, accounts, password};
    let mut people = Vec::new();
    for (username, name, role) in [
        ("admin", "Demo Admin", Role::Admin),
        ("agent", "Demo Agent", Role::Agent),
    ] {
        let secret = password::generate()?;
        match store.user_named(username).await? {
            Some(user) => accounts::set_password(store, &user, &secret, now_ms, None).await?,
            None => {
                accounts::add_user(store, username, name, role, &secret, now_ms).await?;
            }
        }
        people.push((username, role.as_str(), secret));
    }
    Ok(people)
}

/// Where to sign in. Browsers keep the UI's `Secure` session cookie on plain HTTP only for
/// `localhost`, so the link names it rather than 127.0.0.1.
fn sign_in_guide(hub: SocketAddr, people: &[(&str, &str, String)]) -> String {
    let host = if hub.ip().is_loopback() {
        format!("localhost:{}", hub.port())
    } else {
        hub.to_string()
    };
    let mut out = format!("\nThe agent UI: http://{host}/login\n");
    for (username, role, password) in people {
        out.push_str(&format!(
            "  {role:<6} username {username:<6} password {password}\n"
        ));
    }
    out
}

fn customer(phone: &str, name: &str, country: &str, behaviour: Behaviour) -> NewCustomer {
    NewCustomer {
        phone: phone.into(),
        user_id: None,
        username: None,
        name: Some(name.into()),
        country: Some(country.into()),
        behaviour: Some(behaviour),
    }
}

fn text(body: &str) -> CustomerMessage {
    CustomerMessage {
        text: Some(body.into()),
        ..CustomerMessage::default()
    }
}

/// The demo business: three approved templates, five customers, conversations in different
/// states.
fn seed(sandbox: &sandbox::Sandbox) -> anyhow::Result<()> {
    let now = sandbox.clock.now_ms();
    for (name, category, body) in [
        (
            "repair_visit",
            "UTILITY",
            "Bonjour {{1}}, notre technicien passe le {{2}}. Répondez pour changer.",
        ),
        (
            "spring_offer",
            "MARKETING",
            "Printemps : -20 % sur l'entretien de vos appareils, {{1}}.",
        ),
        (
            "login_code",
            "AUTHENTICATION",
            "Votre code est {{1}}. Ne le partagez pas.",
        ),
    ] {
        sandbox.world().create_template(
            WABA,
            &json!({ "name": name, "language": "fr", "category": category,
                     "components": [{ "type": "BODY", "text": body }] }),
            now,
        )?;
    }
    // Review takes five emulated seconds.
    sandbox.clock.advance(10_000);
    sandbox.tick();

    let online = Behaviour::default();
    let mut world = sandbox.world();
    world.add_customer(customer(
        "+33612345678",
        "Camille Martin",
        "FR",
        online.clone(),
    ))?;
    world.add_customer(customer(
        "+5511987654321",
        "João Silva",
        "BR",
        online.clone(),
    ))?;
    world.add_customer(customer(
        "+447700900123",
        "Aisha Khan",
        "GB",
        online.clone(),
    ))?;
    world.add_customer(customer(
        "+4915112345678",
        "Lukas Weber",
        "DE",
        online.clone(),
    ))?;
    world.add_customer(customer("+34612345678", "Ana García", "ES", online))?;
    drop(world);

    // Camille reports a broken machine: open, waiting for an agent.
    sandbox.customer_says(
        "33612345678",
        &text("Bonjour, ma machine à laver fuit depuis ce matin. Pouvez-vous envoyer quelqu'un ?"),
    )?;
    // João came from an ad; the reply opens 72 free hours.
    let mut ad = text("Oi! Vi o anúncio, vocês consertam lava-louças?");
    ad.referral = Some(Referral {
        source_url: "https://fb.me/demo-ad".into(),
        source_type: "ad".into(),
        source_id: "120210000000001".into(),
        headline: "Conserto em 24 h".into(),
        body: "Seu eletrodoméstico funcionando amanhã".into(),
        ctwa_clid: "ARAkLkDemo".into(),
    });
    sandbox.customer_says("5511987654321", &ad)?;
    sandbox.business_says(
        NUMBER,
        "5511987654321",
        json!({ "type": "text", "text": { "body": "Olá João! Sim, consertamos. Qual é o modelo?" } }),
    )?;
    // Aisha asked about a part and read the answer.
    sandbox.customer_says(
        "447700900123",
        &text("Where is my spare part? Order A-1042."),
    )?;
    sandbox.business_says(
        NUMBER,
        "447700900123",
        json!({ "type": "text", "text": { "body": "It ships today; the tracking link follows." } }),
    )?;
    // Lukas wrote, then went offline: the reply stays `sent`.
    sandbox.customer_says(
        "4915112345678",
        &text("Kommt der Techniker morgen pünktlich?"),
    )?;
    sandbox.world().set_behaviour(
        "4915112345678",
        BehaviourPatch {
            online: Some(false),
            ..BehaviourPatch::default()
        },
        sandbox.clock.now_ms(),
    )?;
    sandbox.business_says(
        NUMBER,
        "4915112345678",
        json!({ "type": "text", "text": { "body": "Ja, zwischen 9 und 10 Uhr." } }),
    )?;
    // Ana answered a button.
    sandbox.customer_says("34612345678", &text("¿Podéis venir el jueves?"))?;
    let question = sandbox.business_says(
        NUMBER,
        "34612345678",
        json!({ "type": "interactive", "interactive": { "type": "button",
            "body": { "text": "¿El jueves a las 9?" },
            "action": { "buttons": [
                { "type": "reply", "reply": { "id": "yes-9", "title": "Sí, a las 9" } },
                { "type": "reply", "reply": { "id": "other", "title": "Otro día" } }] } } }),
    )?;
    let mut press = text("");
    press.text = None;
    press.button = Some("yes-9".into());
    press.reply_to = Some(question);
    sandbox.customer_says("34612345678", &press)?;
    Ok(())
}

/// Simulated customers keep writing in, every `every_secs` seconds.
async fn chatter(sandbox: Arc<sandbox::Sandbox>, every_secs: u64) {
    const LINES: [(&str, &str); 8] = [
        ("33612345678", "Toujours là ? L'eau coule encore."),
        ("5511987654321", "É uma Brastemp BLF10."),
        ("447700900123", "Thanks! Got the tracking link."),
        ("4915112345678", "Danke, bis morgen."),
        ("34612345678", "Perfecto, gracias."),
        (
            "33612345678",
            "Le technicien a-t-il besoin du numéro de série ?",
        ),
        ("5511987654321", "Quanto custa a visita?"),
        ("447700900123", "Can I change the delivery address?"),
    ];
    if every_secs == 0 {
        return std::future::pending().await;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(every_secs));
    tick.tick().await;
    for (customer, line) in LINES.iter().cycle() {
        tick.tick().await;
        if let Err(e) = sandbox.customer_says(customer, &text(line)) {
            tracing::warn!(error = %e, "a simulated customer could not write");
        }
    }
}

fn guide(hub: &str, sandbox: &str, args: &DemoArgs) -> String {
    format!(
        "\nguichet demo is running: the hub on {db}, fed by the sandbox (an emulated WhatsApp).\n\n\
         \x20 hub       {hub}      REST API token: {API_TOKEN}\n\
         \x20 sandbox   {sandbox}      Graph API token: {ACCESS_TOKEN}\n\n\
         Five customers have written in; {chatter}\n\n\
         The conversations:\n\
         \x20 curl -s {hub}/api/v1/conversations -H 'authorization: Bearer {API_TOKEN}'\n\
         A customer writes:\n\
         \x20 curl -s {sandbox}/_sandbox/customers/33612345678/messages -H 'content-type: application/json' -d '{{\"text\": \"Toujours là ?\"}}'\n\
         The business answers through guichet: checked against Meta's rules, priced, paced, sent once:\n\
         \x20 curl -s {hub}/api/v1/messages -H 'authorization: Bearer {API_TOKEN}' -H 'content-type: application/json' \\\n\
         \x20   -d '{{\"to\": \"33612345678\", \"type\": \"text\", \"text\": {{\"body\": \"Un technicien arrive.\"}}}}'\n\
         Once the window has closed (move the clock 25 h, below), free-form is refused; a template with a recorded opt-in goes:\n\
         \x20 curl -s {hub}/api/v1/messages/preflight -H 'authorization: Bearer {API_TOKEN}' -H 'content-type: application/json' \\\n\
         \x20   -d '{{\"to\": \"34612345678\", \"type\": \"text\", \"text\": {{\"body\": \"Bonjour\"}}}}'\n\
         \x20 curl -s {hub}/api/v1/consents -H 'authorization: Bearer {API_TOKEN}' -H 'content-type: application/json' \\\n\
         \x20   -d '{{\"to\": \"34612345678\", \"value\": \"opt_in\", \"source\": \"web_form\"}}'\n\
         \x20 curl -s {hub}/api/v1/messages -H 'authorization: Bearer {API_TOKEN}' -H 'content-type: application/json' \\\n\
         \x20   -d '{{\"to\": \"34612345678\", \"type\": \"template\", \"template\": {{\"name\": \"repair_visit\", \"language\": {{\"code\": \"fr\"}}, \"components\": [{{\"type\": \"body\", \"parameters\": [{{\"type\": \"text\", \"text\": \"Ana\"}}, {{\"type\": \"text\", \"text\": \"lundi\"}}]}}]}}}}'\n\
         What it cost this month, predicted and billed:\n\
         \x20 curl -s {hub}/api/v1/costs -H 'authorization: Bearer {API_TOKEN}'\n\
         What the customer got, and the templates:\n\
         \x20 curl -s {sandbox}/_sandbox/customers/33612345678/transcript\n\
         \x20 curl -s {sandbox}/v25.0/{WABA}/message_templates -H 'authorization: Bearer {ACCESS_TOKEN}'\n\
         Move time forward (windows close, statuses fall due):\n\
         \x20 curl -s {sandbox}/_sandbox/clock/advance -H 'content-type: application/json' -d '{{\"hours\": 25}}'\n\n\
         Ctrl-C stops.\n",
        db = args.database_url,
        chatter = if args.chatter_secs == 0 {
            "they write again when you tell them to.".to_owned()
        } else {
            format!("one writes again every {} s.", args.chatter_secs)
        },
    )
}

/// How to talk to the demo's bots.
fn bots_guide(sandbox: &str, backend: &str, flows: &std::path::Path, tier_note: &str) -> String {
    let mut out = format!(
        "\nBots (flows in {}, back-end at {backend}):\n",
        flows.display()
    );
    for (id, display, file, _) in BOTS {
        out.push_str(&format!(
            "  {file:<15} number {display} (id {id}):\n    curl -s -X POST {sandbox}/_sandbox/customers/33612345678/messages -H 'content-type: application/json' -d '{{\"phone_number_id\":\"{id}\",\"text\":\"hello\"}}'\n"
        ));
    }
    out.push_str("  Try: \"where is my order AB1234\", \"write me a poem\" (deflected), \"I want a human\" (handed over).\n");
    out.push_str(tier_note);
    out
}
