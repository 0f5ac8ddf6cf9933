//! `guichet user`: the agent UI's accounts, managed from the command line — the first admin
//! is created here. Reads and writes the database of the configuration (no running server
//! needed); what is checked is what the admin pages check.

use std::io::Read as _;

use anyhow::Context as _;
use hub::Clock as _;
use hub::Settings;
use hub::ui::auth::{Role, accounts, password};

/// The accounts of the agent UI (people who sign in at /login).
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a user. Without --password-stdin, a strong password is generated and printed once.
    ///
    ///   guichet user add camille --name "Camille Martin" --role admin
    ///   printf '%s' "$PASSWORD" | guichet user add joao --name "João Silva" --role agent --password-stdin
    #[command(verbatim_doc_comment)]
    Add {
        /// How they sign in: letters, digits and . _ - @ (an e-mail address works); unique
        /// without regard to case.
        username: String,
        /// The name colleagues know them by.
        #[arg(long, value_name = "DISPLAY NAME")]
        name: String,
        /// admin (manages users) or agent.
        #[arg(long, value_parser = ["admin", "agent"])]
        role: String,
        /// Read the password from standard input (one trailing newline is dropped) instead of
        /// generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop a user from signing in; their sessions end at once.
    Disable { username: String },
    /// Let a disabled user sign in again.
    Enable { username: String },
    /// Reset a user's password (generated and printed once, or read with --password-stdin);
    /// their sessions end.
    Password {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((password::generate()?, true));
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the password from standard input")?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text)
        .to_owned();
    if text.is_empty() {
        anyhow::bail!(
            "--password-stdin read nothing: pipe the password in, e.g. printf '%s' \"$PASSWORD\" | guichet user …"
        );
    }
    Ok((text, false))
}

pub async fn run(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    let store = crate::open_store(settings).await?;
    if settings.database.migrate_on_start {
        store.migrate().await?;
    }
    let store = store.as_ref();
    let now = hub::SystemClock::default().now_ms();
    match command {
        UserCommand::Add {
            username,
            name,
            role,
            password_stdin,
        } => {
            let role = Role::parse(&role).context("--role is admin or agent")?;
            let (password, generated) = read_password(password_stdin)?;
            accounts::add_user(store, &username, &name, role, &password, now).await?;
            let mut out = format!(
                "added {} ({}, {})\n",
                username.trim(),
                role.as_str(),
                name.trim()
            );
            if generated {
                out.push_str(&format!(
                    "password: {password}\n(shown this once: give it to {} by a safe channel; they can change it in the UI)\n",
                    username.trim()
                ));
            }
            crate::write_stdout(&out);
        }
        UserCommand::List { json } => {
            let users = store.users().await?;
            if json {
                let list: Vec<serde_json::Value> = users
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "username": u.username,
                            "display_name": u.display_name,
                            "role": u.role,
                            "disabled": u.disabled_at_ms.is_some(),
                            "created_at_ms": u.created_at_ms,
                        })
                    })
                    .collect();
                crate::write_stdout(&format!("{:#}\n", serde_json::Value::Array(list)));
            } else if users.is_empty() {
                crate::write_stdout(
                    "no users yet: add the first admin with `guichet user add NAME --name \"Full Name\" --role admin`\n",
                );
            } else {
                let mut out = format!(
                    "{:<24} {:<8} {:<9} {}\n",
                    "USERNAME", "ROLE", "STATUS", "NAME"
                );
                for u in &users {
                    let status = if u.disabled_at_ms.is_some() {
                        "disabled"
                    } else {
                        "active"
                    };
                    out.push_str(&format!(
                        "{:<24} {:<8} {:<9} {}\n",
                        u.username, u.role, status, u.display_name
                    ));
                }
                crate::write_stdout(&out);
            }
        }
        UserCommand::Disable { username } => {
            let user = accounts::find(store, &username).await?;
            store.disable_user(user.id, now).await?;
            crate::write_stdout(&format!(
                "disabled {}: they cannot sign in, and their sessions have ended\n",
                user.username
            ));
        }
        UserCommand::Enable { username } => {
            let user = accounts::find(store, &username).await?;
            store.enable_user(user.id).await?;
            crate::write_stdout(&format!(
                "enabled {}: they can sign in again\n",
                user.username
            ));
        }
        UserCommand::Password {
            username,
            password_stdin,
        } => {
            let user = accounts::find(store, &username).await?;
            let (password, generated) = read_password(password_stdin)?;
            accounts::set_password(store, &user, &password, now, None).await?;
            let mut out = format!(
                "reset the password of {}; their sessions have ended\n",
                user.username
            );
            if generated {
                out.push_str(&format!("password: {password}\n(shown this once)\n"));
            }
            crate::write_stdout(&out);
        }
    }
    Ok(())
}
