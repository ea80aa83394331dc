//! The servers under test: which binary, which store, and running one as a process on a
//! free port (pinned to CPU 0 when the bench pins), stopped with SIGTERM.
//!
//! A start that fails or hangs is killed and made again, up to [`START_ATTEMPTS`] times:
//! on a shared machine a server can miss its start-up deadline for reasons of its own (a
//! Redis client that misses the connect event it waits for, a Redis busy with someone
//! else's work), and one such start should not cost a whole bench run. Every failed attempt is printed with its
//! stderr and kept on the [`Server`] (the report lists them), so a retry never hides one.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::target_dir;

const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts at starting one server before the bench gives up on it.
const START_ATTEMPTS: u32 = 3;
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a failed server's stderr the error shows.
const STDERR_TAIL_LINES: usize = 20;

/// The packages whose release binaries the bench runs, built in one `cargo build`.
pub(crate) const PACKAGES: &[&str] = &[
    "axum-cart",
    "actix-cart",
    "rocket-cart",
    "warp-cart",
    "sessio-bench-peers",
];

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
    /// The framework's peer session library, shown in the tables; `None` where the bench
    /// has none to compare with.
    pub(crate) peer: Option<&'static str>,
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

const AXUM_PEER: Option<&str> = Some("tower-sessions");
const ACTIX_PEER: Option<&str> = Some("actix-session");
/// rocket and warp have no peer session library in the bench: bare and sessio rows only.
const NO_PEER: Option<&str> = None;

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
    spec("rocket", Row::Bare, "bare-rocket", NO_PEER),
    spec("rocket", Row::SessioMemory, "rocket-cart", NO_PEER),
    spec("rocket", Row::SessioRedis, "rocket-cart", NO_PEER),
    spec("warp", Row::Bare, "bare-warp", NO_PEER),
    spec("warp", Row::SessioMemory, "warp-cart", NO_PEER),
    spec("warp", Row::SessioRedis, "warp-cart", NO_PEER),
];

const fn spec(
    framework: &'static str,
    row: Row,
    bin: &'static str,
    peer: Option<&'static str>,
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
    /// Why the attempts before the one that started this server failed (empty when the
    /// first attempt did).
    pub(crate) failed_starts: Vec<String>,
}

/// The cargo profile whose binaries [`Server::start`] runs: `release` unless told otherwise.
static PROFILE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Chooses the profile directory the servers are started from (once per run).
pub(crate) fn use_profile(profile: &'static str) {
    let _ = PROFILE.set(profile);
}

/// How one attempt at starting a server went wrong.
enum StartFailure {
    /// Nothing to retry: the process could not be launched at all.
    Launch(String),
    /// The process ran but did not announce a port, and has been killed: how it ended,
    /// and the tail of its stderr.
    NotReady { ended: String, stderr: String },
}

impl Server {
    /// Starts `bin` with `env` and `PORT=0`, waits for its `listening on` line.
    /// `cpu`: pin it to that CPU with `taskset`.
    ///
    /// A process that exits, or does not announce its port within [`START_TIMEOUT`], is
    /// killed and started again, [`START_ATTEMPTS`] times in all; each failed attempt is
    /// printed with its stderr as it happens and kept in [`Server::failed_starts`]. The
    /// error after the last one names the server, says how every attempt ended, and ends
    /// with the last attempt's stderr.
    pub(crate) fn start(
        bin: &str,
        env: &[(&str, &str)],
        cpu: Option<usize>,
    ) -> Result<Server, String> {
        let mut failed_starts = Vec::new();
        let mut last_stderr = String::new();
        for attempt in 1..=START_ATTEMPTS {
            match Server::start_once(bin, env, cpu) {
                Ok(mut server) => {
                    server.failed_starts = failed_starts;
                    return Ok(server);
                }
                Err(StartFailure::Launch(error)) => return Err(error),
                Err(StartFailure::NotReady { ended, stderr }) => {
                    eprintln!(
                        "    warning: {bin}: start attempt {attempt}/{START_ATTEMPTS} failed: \
                         {ended}\n{stderr}"
                    );
                    failed_starts.push(ended);
                    last_stderr = stderr;
                }
            }
        }
        let attempts: Vec<String> = failed_starts
            .iter()
            .enumerate()
            .map(|(i, ended)| format!("  attempt {}: {ended}", i + 1))
            .collect();
        Err(format!(
            "server `{bin}` did not start in {START_ATTEMPTS} attempts:\n{}\n{last_stderr}",
            attempts.join("\n")
        ))
    }

    /// One attempt: launches the process and waits for its port; on any failure but a
    /// launch error, kills the process.
    fn start_once(
        bin: &str,
        env: &[(&str, &str)],
        cpu: Option<usize>,
    ) -> Result<Server, StartFailure> {
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
        std::fs::create_dir_all(&logs)
            .map_err(|e| StartFailure::Launch(format!("{}: {e}", logs.display())))?;
        let log_path = logs.join(format!("{bin}.log"));
        let log = File::create(&log_path)
            .map_err(|e| StartFailure::Launch(format!("{}: {e}", log_path.display())))?;
        cmd.env("PORT", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let shown = crate::shown(&cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| StartFailure::Launch(format!("could not start `{shown}`: {e}")))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(StartFailure::Launch(format!("`{shown}`: no stdout")));
        };
        let (tx, rx) = mpsc::channel();
        // Keeps reading to the end so that the server never blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("listening on http://127.0.0.1:") {
                    let _ = tx.send(port.trim().to_owned());
                }
            }
        });
        let ended = match rx.recv_timeout(START_TIMEOUT) {
            Ok(port) => match port.parse::<u16>() {
                Ok(port) => {
                    return Ok(Server {
                        child,
                        port,
                        failed_starts: Vec::new(),
                    })
                }
                Err(_) => format!("announced {port:?}, which is not a port; killed"),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {
                format!("did not announce its port within {START_TIMEOUT:?}; killed")
            }
            // Its stdout closed: it exited, or is about to.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                match wait_for_exit(&mut child, STOP_TIMEOUT) {
                    Some(status) => format!("exited ({status}) before announcing its port"),
                    None => "closed its stdout without announcing its port; killed".to_owned(),
                }
            }
        };
        // Killed outright (a no-op if it exited): a process that did not come up is not
        // asked to shut down.
        let _ = child.kill();
        let _ = child.wait();
        Err(StartFailure::NotReady {
            ended: format!("`{shown}` {ended}"),
            stderr: stderr_tail(&log_path),
        })
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

/// The exit status of `child` if it exits within `timeout`.
fn wait_for_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}

/// The last [`STDERR_TAIL_LINES`] lines of a server's stderr log, under a line naming it.
fn stderr_tail(log_path: &std::path::Path) -> String {
    let heading = format!("  stderr ({}):", log_path.display());
    let text = match std::fs::read_to_string(log_path) {
        Ok(text) => text,
        Err(error) => return format!("{heading} unreadable: {error}"),
    };
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return format!("{heading} empty");
    }
    let tail = lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..]
        .iter()
        .map(|line| format!("    {line}"));
    [heading]
        .into_iter()
        .chain(tail)
        .collect::<Vec<_>>()
        .join("\n")
}
