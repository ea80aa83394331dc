//! Redis commands per request, per path: `MONITOR` lines from the bench's own database
//! between two markers (exact even when others use the same Redis), cross-checked with the
//! server-wide `INFO commandstats` deltas (which also count the commands a Lua script runs,
//! and anything other clients send meanwhile).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::load::Client;

/// The database the bench uses on the shared Redis, flushed before each Redis server runs
/// (`FLUSHDB` on it alone: other databases, and other users' keys, are never touched).
pub(crate) const BENCH_DB: u32 = 13;

const TIMEOUT: Duration = Duration::from_secs(10);
const OWN_COMMANDS: &[&str] = &["info", "echo", "select", "monitor", "flushdb", "ping"];

/// `redis://host:port/` → `redis://host:port/13`.
pub(crate) fn bench_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("redis://")
        .ok_or_else(|| format!("{url}: not a redis:// URL"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    Ok(format!("redis://{authority}/{BENCH_DB}"))
}

/// `used_cpu_user` + `used_cpu_sys` of an `INFO cpu` reply.
fn cpu_secs(info: &str) -> Result<f64, String> {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .ok_or_else(|| format!("redis INFO cpu: no {name}"))
    };
    Ok(field("used_cpu_user")? + field("used_cpu_sys")?)
}

/// `host:port` of the bench URL.
fn address(url: &str) -> String {
    let authority = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:6379")
    }
}

/// A plain RESP connection, enough for `SELECT`, `FLUSHDB`, `ECHO`, `INFO`, `MONITOR`.
pub(crate) struct Redis {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Redis {
    pub(crate) fn connect(url: &str) -> Result<Redis, String> {
        let addr = address(url);
        let stream = TcpStream::connect(&addr).map_err(|e| format!("redis {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        let mut redis = Redis {
            reader: BufReader::new(stream),
            writer,
        };
        redis.command(&["SELECT", &BENCH_DB.to_string()])?;
        Ok(redis)
    }

    /// Sends a command and reads one reply (a bulk string's content, or the status line).
    pub(crate) fn command(&mut self, args: &[&str]) -> Result<String, String> {
        let mut out = format!("*{}\r\n", args.len());
        for arg in args {
            out.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.writer
            .write_all(out.as_bytes())
            .map_err(|e| format!("redis: {e}"))?;
        let line = self.line()?;
        match line.as_bytes().first() {
            Some(b'$') => {
                let len: usize = line[1..].trim().parse().map_err(|_| "redis: bad length")?;
                let mut body = vec![0; len + 2];
                self.reader
                    .read_exact(&mut body)
                    .map_err(|e| format!("redis: {e}"))?;
                body.truncate(len);
                Ok(String::from_utf8_lossy(&body).into_owned())
            }
            Some(b'-') => Err(format!("redis {args:?}: {}", line.trim_end())),
            _ => Ok(line[1..].trim_end().to_owned()),
        }
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("redis closed the connection".into()),
            Ok(_) => Ok(line),
            Err(e) => Err(format!("redis: {e}")),
        }
    }

    /// Empties the bench database.
    pub(crate) fn flush_bench_db(&mut self) -> Result<(), String> {
        self.command(&["FLUSHDB"]).map(drop)
    }

    /// The Redis process's CPU time so far (user + system, every thread), in seconds,
    /// from `INFO cpu`.
    pub(crate) fn cpu_secs(&mut self) -> Result<f64, String> {
        cpu_secs(&self.command(&["INFO", "cpu"])?)
    }

    /// Server-wide `calls` per command, from `INFO commandstats`.
    fn commandstats(&mut self) -> Result<BTreeMap<String, u64>, String> {
        let info = self.command(&["INFO", "commandstats"])?;
        Ok(info
            .lines()
            .filter_map(|l| l.strip_prefix("cmdstat_"))
            .filter_map(|l| {
                let (name, rest) = l.split_once(':')?;
                let calls = rest
                    .strip_prefix("calls=")?
                    .split(',')
                    .next()?
                    .parse()
                    .ok()?;
                Some((name.to_owned(), calls))
            })
            .collect())
    }
}

/// What one path costs in Redis, per request.
pub(crate) struct RoundTrips {
    /// Commands sent by the server under test (each a round trip unless pipelined).
    pub(crate) per_request: f64,
    /// Those commands by name, e.g. `evalsha` or `get`, per request.
    pub(crate) by_command: BTreeMap<String, f64>,
    /// Commands run inside Lua scripts, per request.
    pub(crate) in_scripts: f64,
    /// Server-wide `INFO commandstats` calls per request (includes script commands).
    pub(crate) commandstats: f64,
}

/// Sends `count` requests with `send` and counts the Redis commands they cause.
pub(crate) fn measure(
    url: &str,
    count: u32,
    client: &mut Client,
    send: &dyn Fn(&mut Client) -> Result<(), String>,
) -> Result<RoundTrips, String> {
    let mut monitor = Redis::connect(url)?;
    let mut control = Redis::connect(url)?;
    monitor.command(&["MONITOR"])?;
    let before = control.commandstats()?;
    control.command(&["ECHO", "sessio-bench-start"])?;
    for _ in 0..count {
        send(client)?;
    }
    control.command(&["ECHO", "sessio-bench-end"])?;
    let after = control.commandstats()?;
    let mut started = false;
    let mut by_command = BTreeMap::<String, f64>::new();
    let (mut total, mut in_scripts) = (0u64, 0u64);
    let db = format!("[{BENCH_DB} ");
    loop {
        let line = monitor.line()?;
        if line.contains("sessio-bench-start") {
            started = true;
            continue;
        }
        if line.contains("sessio-bench-end") {
            break;
        }
        if !started || !line.contains(&db) {
            continue;
        }
        if line.contains(&format!("[{BENCH_DB} lua]")) {
            in_scripts += 1;
            continue;
        }
        let name = line
            .split("] \"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("?")
            .to_ascii_lowercase();
        *by_command.entry(name).or_default() += 1.0;
        total += 1;
    }
    let n = f64::from(count);
    let server_wide: u64 = after
        .iter()
        .filter(|(name, _)| !OWN_COMMANDS.contains(&name.as_str()))
        .map(|(name, calls)| calls - before.get(name).copied().unwrap_or(0))
        .sum();
    by_command.values_mut().for_each(|v| *v /= n);
    Ok(RoundTrips {
        per_request: total as f64 / n,
        by_command,
        in_scripts: in_scripts as f64 / n,
        commandstats: server_wide as f64 / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_user_plus_system() {
        let info = "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:2.500000\r\n\
                    used_cpu_sys_children:9.000000\r\nused_cpu_user_children:9.000000\r\n";
        assert_eq!(cpu_secs(info), Ok(3.75));
        assert!(cpu_secs("# CPU\r\nused_cpu_sys:1.0\r\n").is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(
            bench_url("redis://127.0.0.1:6379/").as_deref(),
            Ok("redis://127.0.0.1:6379/13")
        );
        assert_eq!(
            bench_url("redis://:pw@cache:7000/2").as_deref(),
            Ok("redis://:pw@cache:7000/13")
        );
        assert_eq!(address("redis://:pw@cache/13"), "cache:6379");
    }
}
