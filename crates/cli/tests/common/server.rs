//! A real `guichet serve` for the tests that kill it: started with a clean environment plus the
//! given settings, its stderr in a log file, killed with SIGKILL when dropped (so that a failing
//! test leaves none behind).

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};

#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    log: PathBuf,
}

impl Server {
    /// Starts `guichet serve` listening on `port`, with only PATH, HOME and libpq's variables
    /// (PGPASSWORD…) from this process's environment, then `env`.
    pub fn spawn(port: u16, env: &[(&str, String)], log: PathBuf) -> Self {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("the server's log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_guichet"));
        cmd.arg("serve").env_clear();
        for (key, value) in std::env::vars_os() {
            let name = key.to_string_lossy();
            if name == "PATH" || name == "HOME" || name.starts_with("PG") {
                cmd.env(&key, value);
            }
        }
        cmd.env("RUST_LOG", "warn")
            .env("GUICHET_LISTEN", format!("127.0.0.1:{port}"))
            // Postgres has no database file for customers' media to sit beside.
            .env("GUICHET_MEDIA__DIR", log.with_file_name("media"));
        for (key, value) in env {
            cmd.env(key, value);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file));
        Self {
            child: Some(cmd.spawn().expect("start guichet")),
            log,
        }
    }

    /// SIGKILL (`Child::kill`), then reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether it exited on its own.
    #[allow(dead_code, reason = "not every test that kills guichet looks")]
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// The last lines it logged.
    #[allow(dead_code, reason = "not every test that kills guichet looks")]
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
