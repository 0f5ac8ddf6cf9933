//! SQLite's migrations: the files of `migrations/sqlite` (and `sqlite-inbound` for the journal), applied in order, each in the same
//! transaction as its record, and refused if a file was changed after it was applied.

use rusqlite::{Connection, OptionalExtension as _, params};
use sha2::{Digest, Sha256};

/// A migration: version, description, SQL.
pub(super) type Migration = (i64, &'static str, &'static str);

/// The database.
pub(super) const MAIN: &[Migration] = &[
    (
        1,
        "inbound",
        include_str!("../../migrations/sqlite/0001_inbound.sql"),
    ),
    (
        2,
        "outbound",
        include_str!("../../migrations/sqlite/0002_outbound.sql"),
    ),
    (
        3,
        "accounts",
        include_str!("../../migrations/sqlite/0003_accounts.sql"),
    ),
    (
        4,
        "media",
        include_str!("../../migrations/sqlite/0004_media.sql"),
    ),
    (
        5,
        "inbox",
        include_str!("../../migrations/sqlite/0005_inbox.sql"),
    ),
    (
        6,
        "bots",
        include_str!("../../migrations/sqlite/0006_bots.sql"),
    ),
];

/// The inbound journal.
pub(super) const JOURNAL: &[Migration] = &[(
    1,
    "inbound journal",
    include_str!("../../migrations/sqlite-inbound/0001_inbound.sql"),
)];

pub(super) fn run(
    conn: &mut Connection,
    migrations: &[Migration],
    now_ms: i64,
) -> Result<(), String> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS guichet_migrations (
            version INTEGER PRIMARY KEY, description TEXT NOT NULL, checksum TEXT NOT NULL,
            applied_at_ms INTEGER NOT NULL)",
    )
    .map_err(|e| e.to_string())?;
    for &(version, description, sql) in migrations {
        let checksum = hex::encode(Sha256::digest(sql.as_bytes()));
        let applied: Option<String> = tx
            .query_row(
                "SELECT checksum FROM guichet_migrations WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| e.to_string())?;
        match applied {
            Some(c) if c == checksum => continue,
            Some(_) => {
                return Err(format!(
                    "migration {version} ({description}) was changed after it was applied to this \
                     database; restore the original file"
                ));
            }
            None => {}
        }
        tx.execute_batch(sql)
            .map_err(|e| format!("migration {version} ({description}): {e}"))?;
        tx.execute(
            "INSERT INTO guichet_migrations (version, description, checksum, applied_at_ms) \
             VALUES (?1, ?2, ?3, ?4)",
            params![version, description, checksum, now_ms],
        )
        .map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())
}
