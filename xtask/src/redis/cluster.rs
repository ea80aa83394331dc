//! The Redis Cluster of `cargo xtask redis`: three primaries on 127.0.0.1:17101-17103 (bus
//! ports 27101-27103), no replicas, nothing saved to disk, each node's config file, cluster
//! state and log under `target/redis-cluster/<port>/`.
//!
//! Order: `SESSIO_REDIS_CLUSTER_URLS` if set (every node must be healthy); else the nodes
//! on those ports if they form a healthy cluster (each says `cluster_state:ok`, serves all
//! 16384 slots with three primaries and knows the other two); else the nodes this command
//! started earlier are shut down, the directory wiped, three new nodes started and joined
//! with `CLUSTER ADDSLOTS` and `CLUSTER MEET` (what `redis-cli --cluster create` does,
//! without needing redis-cli), and awaited until the cluster says it is ok. The nodes keep
//! running; stop them with `redis-cli -p <port> shutdown nosave`.

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{self, Path};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use super::{local, tcp_address, PROBE_TIMEOUT};

/// The client ports; each node's cluster bus listens on its port + 10000.
const PORTS: [u16; 3] = [17101, 17102, 17103];
const SLOTS: usize = 16384;
/// Starting three nodes and letting them agree takes a second or two; allow for a loaded
/// machine.
const FORM_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

/// The node URLs, comma-separated, of a healthy cluster; starts one if needed.
pub(crate) fn ensure() -> Result<String, String> {
    if let Ok(urls) = std::env::var("SESSIO_REDIS_CLUSTER_URLS") {
        for url in urls.split(',') {
            let addr = tcp_address(url).ok_or_else(|| {
                format!("SESSIO_REDIS_CLUSTER_URLS: {url} is not a redis://host:port URL")
            })?;
            healthy(&addr, None).map_err(|err| {
                format!("SESSIO_REDIS_CLUSTER_URLS: {url} is not a healthy cluster node: {err}")
            })?;
        }
        return Ok(urls);
    }
    let urls = PORTS
        .map(|port| format!("redis://127.0.0.1:{port}/"))
        .join(",");
    let problems: Vec<String> = PORTS
        .iter()
        .filter_map(|&port| healthy(&local(port), Some(PORTS.len())).err())
        .collect();
    if problems.is_empty() {
        return Ok(urls);
    }
    let dir = path::absolute(crate::target_dir().join("redis-cluster"))
        .map_err(|err| format!("cannot resolve the target directory: {err}"))?;
    eprintln!(
        "note: no healthy Redis Cluster on 127.0.0.1:{}-{} ({}); starting one under {}",
        PORTS[0],
        PORTS[2],
        problems.join("; "),
        dir.display()
    );
    for port in PORTS {
        stop_ours(port, &dir)?;
    }
    match fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => return Err(format!("cannot empty {}: {err}", dir.display())),
    }
    for port in PORTS {
        start(port, &dir)?;
    }
    form()?;
    let deadline = Instant::now() + FORM_TIMEOUT;
    loop {
        let problems: Vec<String> = PORTS
            .iter()
            .filter_map(|&port| healthy(&local(port), Some(PORTS.len())).err())
            .collect();
        if problems.is_empty() {
            return Ok(urls);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the Redis Cluster is not ok {FORM_TIMEOUT:?} after forming it ({}); see the \
                 logs under {}",
                problems.join("; "),
                dir.display()
            ));
        }
        thread::sleep(POLL);
    }
}

/// `Ok` when the node at `addr` reports a working cluster serving every slot; with `nodes`,
/// also that it has that many primaries and knows that many nodes (the cluster started
/// here, not one the user pointed at).
fn healthy(addr: &str, nodes: Option<usize>) -> Result<(), String> {
    let info = command(addr, &["CLUSTER", "INFO"])?;
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
            .unwrap_or("missing")
    };
    let mut expected = vec![
        ("cluster_state", "ok".to_owned()),
        ("cluster_slots_ok", SLOTS.to_string()),
    ];
    if let Some(nodes) = nodes {
        expected.push(("cluster_size", nodes.to_string()));
        expected.push(("cluster_known_nodes", nodes.to_string()));
    }
    let wrong: Vec<String> = expected
        .iter()
        .filter(|(name, want)| field(name) != want)
        .map(|(name, want)| format!("{name}:{} (want {want})", field(name)))
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("{addr}: {}", wrong.join(", ")))
    }
}

/// Shuts down the node on `port` if this command started it (its config file is ours);
/// refuses to touch anything else listening there.
fn stop_ours(port: u16, dir: &Path) -> Result<(), String> {
    let addr = local(port);
    let Ok(info) = command(&addr, &["INFO", "server"]) else {
        return Ok(()); // nothing answers: the port is free, or not a Redis (start says so)
    };
    let config = conf_path(dir, port);
    let ours = info
        .lines()
        .find_map(|line| line.strip_prefix("config_file:"))
        .is_some_and(|file| Path::new(file.trim()) == config);
    if !ours {
        return Err(format!(
            "{addr} answers but is not a node of a healthy cluster, nor one this command \
             started (its config file is not {}); stop it, or set SESSIO_REDIS_CLUSTER_URLS \
             to a healthy cluster",
            config.display()
        ));
    }
    // The server closes the connection instead of answering.
    let _ = command(&addr, &["SHUTDOWN", "NOSAVE"]);
    let deadline = Instant::now() + FORM_TIMEOUT;
    while command(&addr, &["PING"]).is_ok() {
        if Instant::now() >= deadline {
            return Err(format!("{addr} did not shut down"));
        }
        thread::sleep(POLL);
    }
    Ok(())
}

fn conf_path(dir: &Path, port: u16) -> std::path::PathBuf {
    dir.join(port.to_string()).join("redis.conf")
}

/// Writes the node's config file and starts it as a daemon; waits until it answers.
fn start(port: u16, dir: &Path) -> Result<(), String> {
    let node_dir = dir.join(port.to_string());
    fs::create_dir_all(&node_dir)
        .map_err(|err| format!("cannot create {}: {err}", node_dir.display()))?;
    let quoted = |path: &Path| -> Result<String, String> {
        let text = path.to_str().filter(|t| !t.contains(['"', '\\', '\n']));
        text.map(|t| format!("\"{t}\""))
            .ok_or_else(|| format!("{}: a path redis.conf cannot hold", path.display()))
    };
    let conf = conf_path(dir, port);
    let text = format!(
        "# Written by `cargo xtask redis`: one node of a throwaway test cluster.\n\
         port {port}\n\
         bind 127.0.0.1\n\
         cluster-enabled yes\n\
         cluster-config-file nodes.conf\n\
         cluster-node-timeout 5000\n\
         save \"\"\n\
         appendonly no\n\
         daemonize yes\n\
         dir {}\n\
         logfile {}\n\
         pidfile {}\n",
        quoted(&node_dir)?,
        quoted(&node_dir.join("redis.log"))?,
        quoted(&node_dir.join("redis.pid"))?,
    );
    fs::write(&conf, text).map_err(|err| format!("cannot write {}: {err}", conf.display()))?;
    let mut cmd = Command::new("redis-server");
    cmd.arg(&conf);
    eprintln!("note: {}", crate::shown(&cmd));
    match cmd.status() {
        Ok(status) if status.success() => {}
        Ok(status) => {
            return Err(format!(
                "redis-server on port {port} failed ({status}); see {}",
                node_dir.join("redis.log").display()
            ))
        }
        Err(err) if err.kind() == ErrorKind::NotFound => {
            return Err(
                "redis-server is not installed: run `apt-get install redis-server`, \
                 or set SESSIO_REDIS_CLUSTER_URLS"
                    .to_owned(),
            );
        }
        Err(err) => return Err(format!("could not start redis-server: {err}")),
    }
    let deadline = Instant::now() + FORM_TIMEOUT;
    loop {
        match command(&local(port), &["PING"]) {
            Ok(_) => return Ok(()),
            Err(err) if Instant::now() >= deadline => {
                return Err(format!(
                    "redis-server on port {port} does not answer ({err}); see {}",
                    node_dir.join("redis.log").display()
                ));
            }
            Err(_) => thread::sleep(POLL),
        }
    }
}

/// Gives each node a third of the slots and a config epoch of its own (so none has to win
/// an epoch collision first), then introduces the other two to the first.
fn form() -> Result<(), String> {
    for (i, port) in PORTS.iter().enumerate() {
        let addr = local(*port);
        command(
            &addr,
            &["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()],
        )?;
        let slots: Vec<String> = slots_of(i).map(|slot| slot.to_string()).collect();
        let mut args = vec!["CLUSTER", "ADDSLOTS"];
        args.extend(slots.iter().map(String::as_str));
        command(&addr, &args)?;
    }
    for port in &PORTS[1..] {
        command(
            &local(PORTS[0]),
            &["CLUSTER", "MEET", "127.0.0.1", &port.to_string()],
        )?;
    }
    Ok(())
}

/// The slots node `i` serves: a third of them each, in order, as redis-cli splits them.
fn slots_of(i: usize) -> std::ops::Range<usize> {
    SLOTS * i / PORTS.len()..SLOTS * (i + 1) / PORTS.len()
}

/// Sends one command and reads one reply: a status or bulk string's text, or an integer's
/// digits. An error reply is an `Err` naming the command.
fn command(addr: &str, args: &[&str]) -> Result<String, String> {
    let sock: SocketAddr = addr.parse().map_err(|err| format!("{addr}: {err}"))?;
    let stream =
        TcpStream::connect_timeout(&sock, PROBE_TIMEOUT).map_err(|err| format!("{addr}: {err}"))?;
    let io = |err: std::io::Error| format!("{addr}: {err}");
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).map_err(io)?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    (&stream).write_all(request.as_bytes()).map_err(io)?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).map_err(io)? == 0 {
        return Err(format!("{addr} closed the connection"));
    }
    let line = line.trim_end();
    let name = args.iter().take(2).copied().collect::<Vec<_>>().join(" ");
    match line.split_at_checked(1) {
        Some(("+" | ":", rest)) => Ok(rest.to_owned()),
        Some(("-", error)) => Err(format!("{addr}: {name}: {error}")),
        Some(("$", len)) => {
            let len: usize = len
                .parse()
                .map_err(|_| format!("{addr}: {name}: bad reply {line:?}"))?;
            let mut body = vec![0; len + 2];
            reader.read_exact(&mut body).map_err(io)?;
            body.truncate(len);
            Ok(String::from_utf8_lossy(&body).into_owned())
        }
        _ => Err(format!("{addr}: {name}: unexpected reply {line:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nodes_split_every_slot_between_them() {
        let ranges: Vec<_> = (0..PORTS.len()).map(slots_of).collect();
        assert_eq!(ranges, [0..5461, 5461..10922, 10922..16384]);
    }
}
