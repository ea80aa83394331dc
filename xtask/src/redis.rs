//! `cargo xtask redis`: make sure a Redis server and a Redis Cluster answer, starting them
//! if they do not; prints `SESSIO_REDIS_URL=…` and `SESSIO_REDIS_CLUSTER_URLS=…`, the
//! variables the tests read.
//!
//! The single server: `SESSIO_REDIS_URL` if set; else a server on 127.0.0.1:6379; else one
//! an earlier run started under `target/redis`; else a new `redis-server` there, on 6379 if
//! free. The cluster: see [`cluster`]. What is started here keeps running; stop a server
//! with `redis-cli -p <port> shutdown nosave`.

mod cluster;

use std::fs;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{self, Path};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

const DEFAULT_PORT: u16 = 6379;
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
const START_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn run() -> Result<(), String> {
    let url = ensure()?;
    let cluster_urls = ensure_cluster()?;
    println!("SESSIO_REDIS_URL={url}");
    println!("SESSIO_REDIS_CLUSTER_URLS={cluster_urls}");
    Ok(())
}

/// The node URLs, comma-separated, of a healthy three-primary Redis Cluster (the value of
/// `SESSIO_REDIS_CLUSTER_URLS`, which the cluster tests read); starts one if needed.
pub(crate) fn ensure_cluster() -> Result<String, String> {
    cluster::ensure()
}

/// The URL of a Redis server that answers `PING`; starts one if needed.
pub(crate) fn ensure() -> Result<String, String> {
    if let Ok(url) = std::env::var("SESSIO_REDIS_URL") {
        let Some(addr) = tcp_address(&url) else {
            eprintln!("note: not probing SESSIO_REDIS_URL={url} (not a redis:// URL)");
            return Ok(url);
        };
        ping(&addr).map_err(|err| format!("SESSIO_REDIS_URL={url} does not answer: {err}"))?;
        return Ok(url);
    }
    if ping(&local(DEFAULT_PORT)).is_ok() {
        return Ok(url(DEFAULT_PORT));
    }
    let dir = path::absolute(crate::target_dir().join("redis"))
        .map_err(|err| format!("cannot resolve the target directory: {err}"))?;
    let port_file = dir.join("port");
    let earlier = fs::read_to_string(&port_file).ok();
    if let Some(port) = earlier.and_then(|port| port.trim().parse::<u16>().ok()) {
        if ping(&local(port)).is_ok() {
            return Ok(url(port));
        }
    }
    let port = start(&dir)?;
    fs::write(&port_file, port.to_string())
        .map_err(|err| format!("cannot write {}: {err}", port_file.display()))?;
    Ok(url(port))
}

/// Starts a throwaway `redis-server` (nothing saved to disk) and waits until it answers.
fn start(dir: &Path) -> Result<u16, String> {
    fs::create_dir_all(dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    let port = free_port().map_err(|err| format!("no free port for Redis: {err}"))?;
    let log = dir.join("redis.log");
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "yes"])
        .arg("--logfile")
        .arg(&log)
        .arg("--pidfile")
        .arg(dir.join(format!("redis-{port}.pid")))
        .arg("--dir")
        .arg(dir);
    eprintln!(
        "note: no Redis answers; starting one: {}",
        crate::shown(&cmd)
    );
    match cmd.status() {
        Ok(status) if status.success() => {}
        Ok(status) => {
            return Err(format!(
                "redis-server failed ({status}); see {}",
                log.display()
            ))
        }
        Err(err) if err.kind() == ErrorKind::NotFound => {
            return Err("no Redis answers and redis-server is not installed: \
                 run `apt-get install redis-server`, or set SESSIO_REDIS_URL"
                .to_owned());
        }
        Err(err) => return Err(format!("could not start redis-server: {err}")),
    }
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match ping(&local(port)) {
            Ok(()) => return Ok(port),
            Err(err) if Instant::now() >= deadline => {
                return Err(format!(
                    "redis-server on port {port} does not answer after {START_TIMEOUT:?} ({err}); \
                     see {}",
                    log.display()
                ));
            }
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// 6379 if nothing listens there, else any port the system hands out.
fn free_port() -> io::Result<u16> {
    let listener =
        TcpListener::bind(local(DEFAULT_PORT)).or_else(|_| TcpListener::bind(local(0)))?;
    Ok(listener.local_addr()?.port())
}

/// Sends an inline `PING`; a server that wants a password (`-NOAUTH`) still counts as up.
fn ping(addr: &str) -> Result<(), String> {
    let mut last_err = format!("{addr} resolves to no address");
    let addrs = addr
        .to_socket_addrs()
        .map_err(|err| format!("{addr}: {err}"))?;
    for sock in addrs {
        let attempt = || -> io::Result<Vec<u8>> {
            let mut stream = TcpStream::connect_timeout(&sock, PROBE_TIMEOUT)?;
            stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
            stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
            stream.write_all(b"PING\r\n")?;
            let mut reply = Vec::new();
            let mut buf = [0u8; 64];
            while !reply.ends_with(b"\r\n") {
                let n = stream.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                reply.extend_from_slice(&buf[..n]);
            }
            Ok(reply)
        };
        match attempt() {
            Ok(reply) if reply.starts_with(b"+PONG") || reply.starts_with(b"-NOAUTH") => {
                return Ok(());
            }
            Ok(reply) if reply.is_empty() => {
                last_err = format!("{sock} closed the connection without answering PING");
            }
            Ok(reply) => {
                let reply = String::from_utf8_lossy(&reply);
                last_err = format!("{sock} answered {:?} instead of +PONG", reply.trim_end());
            }
            Err(err) => last_err = format!("{sock}: {err}"),
        }
    }
    Err(last_err)
}

/// `host:port` of a `redis://[user:password@]host[:port][/db]` URL.
fn tcp_address(url: &str) -> Option<String> {
    let rest = url.strip_prefix("redis://")?;
    let authority = rest.split('/').next()?;
    let host_port = authority.rsplit('@').next()?;
    let has_port = host_port.rsplit(']').next()?.contains(':');
    Some(if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:{DEFAULT_PORT}")
    })
}

fn local(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_address_of_urls() {
        let addr = |url| tcp_address(url);
        assert_eq!(
            addr("redis://127.0.0.1:6380/"),
            Some("127.0.0.1:6380".into())
        );
        assert_eq!(addr("redis://:pw@cache/2"), Some("cache:6379".into()));
        assert_eq!(addr("redis://[::1]:7000"), Some("[::1]:7000".into()));
        assert_eq!(addr("redis://[::1]"), Some("[::1]:6379".into()));
        assert_eq!(addr("redis+unix:///tmp/redis.sock"), None);
    }
}
