//! The servers under test: which binary, which store, and running one as a process on a
//! free port (pinned to CPU 0 when the bench pins), stopped with SIGTERM.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::target_dir;

const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The packages whose release binaries the bench runs, built in one `cargo build`.
pub(crate) const PACKAGES: &[&str] = &["axum-cart", "actix-cart", "sessio-bench-peers"];

/// A row of a results table: what serves the cart routes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Row {
    Bare,
    SessioMemory,
    SessioRedis,
    PeerMemory,
    PeerRedis,
}

impl Row {
    pub(crate) const ALL: [Row; 5] = [
        Row::Bare,
        Row::SessioMemory,
        Row::SessioRedis,
        Row::PeerMemory,
        Row::PeerRedis,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Row::Bare => "bare",
            Row::SessioMemory => "sessio-memory",
            Row::SessioRedis => "sessio-redis",
            Row::PeerMemory => "peer-memory",
            Row::PeerRedis => "peer-redis",
        }
    }

    /// The row this one is compared with in the "vs peer" column.
    pub(crate) fn peer(self) -> Option<Row> {
        match self {
            Row::SessioMemory => Some(Row::PeerMemory),
            Row::SessioRedis => Some(Row::PeerRedis),
            _ => None,
        }
    }

    fn uses_redis(self) -> bool {
        matches!(self, Row::SessioRedis | Row::PeerRedis)
    }
}

/// One server configuration: a framework, a row, the binary that implements it.
#[derive(Clone, Copy)]
pub(crate) struct ServerSpec {
    pub(crate) framework: &'static str,
    pub(crate) row: Row,
    pub(crate) bin: &'static str,
    /// The peer's name, shown in the tables.
    pub(crate) peer: &'static str,
}

impl ServerSpec {
    /// `SESSION_STORE` for this row (`redis` is the bench's own Redis database URL).
    pub(crate) fn env<'a>(&self, redis: &'a str) -> Vec<(&'static str, &'a str)> {
        let store = if self.row.uses_redis() {
            redis
        } else {
            "memory"
        };
        vec![("SESSION_STORE", store), ("SESSION_INSECURE_COOKIE", "1")]
    }

    pub(crate) fn uses_redis(&self) -> bool {
        self.row.uses_redis()
    }

    pub(crate) fn name(&self) -> String {
        format!("{}/{}", self.framework, self.row.label())
    }
}

const AXUM_PEER: &str = "tower-sessions";
const ACTIX_PEER: &str = "actix-session";

/// Every server, framework by framework. actix-session has no server-side memory store.
pub(crate) const SERVERS: &[ServerSpec] = &[
    spec("axum", Row::Bare, "bare-axum", AXUM_PEER),
    spec("axum", Row::SessioMemory, "axum-cart", AXUM_PEER),
    spec("axum", Row::SessioRedis, "axum-cart", AXUM_PEER),
    spec("axum", Row::PeerMemory, "peer-tower-sessions", AXUM_PEER),
    spec("axum", Row::PeerRedis, "peer-tower-sessions", AXUM_PEER),
    spec("actix", Row::Bare, "bare-actix", ACTIX_PEER),
    spec("actix", Row::SessioMemory, "actix-cart", ACTIX_PEER),
    spec("actix", Row::SessioRedis, "actix-cart", ACTIX_PEER),
    spec("actix", Row::PeerRedis, "peer-actix-session", ACTIX_PEER),
];

const fn spec(
    framework: &'static str,
    row: Row,
    bin: &'static str,
    peer: &'static str,
) -> ServerSpec {
    ServerSpec {
        framework,
        row,
        bin,
        peer,
    }
}

/// A running server process.
pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
}

/// The cargo profile whose binaries [`Server::start`] runs: `release` unless told otherwise.
static PROFILE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Chooses the profile directory the servers are started from (once per run).
pub(crate) fn use_profile(profile: &'static str) {
    let _ = PROFILE.set(profile);
}

impl Server {
    /// Starts `bin` with `env` and `PORT=0`, waits for its `listening on` line.
    /// `cpu`: pin it to that CPU with `taskset`.
    pub(crate) fn start(
        bin: &str,
        env: &[(&str, &str)],
        cpu: Option<usize>,
    ) -> Result<Server, String> {
        let path = target_dir()
            .join(PROFILE.get().copied().unwrap_or("release"))
            .join(bin);
        let mut cmd = match cpu {
            Some(cpu) => {
                let mut cmd = Command::new("taskset");
                cmd.args(["-c", &cpu.to_string()]).arg(&path);
                cmd
            }
            None => Command::new(&path),
        };
        let logs = target_dir().join("bench").join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
        let log_path = logs.join(format!("{bin}.log"));
        let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        cmd.env("PORT", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let shown = crate::shown(&cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("could not start `{shown}`: {e}"))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(format!("`{shown}`: no stdout"));
        };
        let (tx, rx) = mpsc::channel();
        // Keeps reading to the end so that the server never blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("listening on http://127.0.0.1:") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                }
            }
        });
        let mut server = Server { child, port: 0 };
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(port)) => {
                server.port = port;
                Ok(server)
            }
            _ => Err(format!(
                "`{shown}` did not announce its port within {START_TIMEOUT:?}; see {}",
                log_path.display()
            )),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `VmRSS` in bytes, from `/proc/PID/status`.
    pub(crate) fn rss(&self) -> Result<u64, String> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| format!("{path}: no VmRSS"))
    }

    /// CPU time used so far (user + system), from `/proc/PID/stat`, in seconds.
    pub(crate) fn cpu_secs(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the `(comm)`: state is field 3, utime 14 and stime 15.
        let after = stat.rsplit(')').next().unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // USER_HZ is 100 on every Linux architecture this runs on.
        (ticks(11) + ticks(12)) as f64 / 100.0
    }
}

impl Drop for Server {
    /// SIGTERM (graceful shutdown), then SIGKILL if it does not exit in time.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
