//! Every test gets its own database, on each backend (`test-util` feature).
//!
//! Postgres tests use `TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) to create a fresh database per test and drop
//! it afterwards. They fail when Postgres is unreachable, so that a green run means both
//! backends were tested; set `TEST_POSTGRES=skip` to skip them deliberately.

use std::path::PathBuf;
use std::sync::Arc;

use sqlx::Connection as _;

use crate::{Backend, Options, Store};

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for one test. Dropping it removes the database.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path: PathBuf = dir.path().join("guichet.db");
        Self {
            url: format!("sqlite:{}", path.display()),
            backend: Backend::Sqlite,
            _dir: Some(dir),
            pg_name: None,
        }
    }

    /// A fresh Postgres database, or `None` when `TEST_POSTGRES=skip`.
    pub async fn postgres() -> Option<Self> {
        if std::env::var("TEST_POSTGRES").is_ok_and(|v| v == "skip") {
            return None;
        }
        let admin = admin_url();
        let name = format!(
            "guichet_t_{}_{:016x}",
            std::process::id(),
            rand::random::<u64>()
        );
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "Postgres is needed for this test and is unreachable at {admin} ({e}); start it \
                 or set TEST_POSTGRES=skip"
            )
        });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Some(Self {
            url: format!("{base}/{name}"),
            backend: Backend::Postgres,
            _dir: None,
            pg_name: Some(name),
        })
    }

    /// Both backends, as the shared test suite runs them.
    pub async fn all() -> Vec<Self> {
        let mut dbs = vec![Self::sqlite().await];
        dbs.extend(Self::postgres().await);
        dbs
    }

    /// Opens and migrates the store.
    pub async fn open(&self) -> Arc<dyn Store> {
        let store = crate::connect(&self.url, &Options::default())
            .await
            .expect("open store");
        store.migrate().await.expect("migrate");
        store
    }
}

fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs outside any runtime guarantee: use a small one on a plain thread.
        let admin = admin_url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(rt) = rt else { return };
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}
