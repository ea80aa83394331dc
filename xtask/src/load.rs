//! A closed-loop HTTP/1.1 load generator on std threads: a fixed number of keep-alive
//! connections, one thread each, each sending its next request as soon as the previous
//! answer is in, for a fixed time (or a fixed number of requests).
//!
//! Every latency is recorded in a [`Histogram`]; [`run`] returns requests/s, percentiles
//! and error counts. `cargo xtask bench` drives it; a soak test can reuse it as is:
//!
//! ```ignore
//! let stats = load::run(&LoadSpec {
//!     port,
//!     connections: 32,
//!     warmup: Duration::from_secs(1),
//!     limit: Limit::Time(Duration::from_secs(10)),
//!     setup: &|conn, client| client.login(&format!("user{conn}")),
//!     request: &|_conn, _seq, client| client.get("/me"),
//!     setup_every: None,
//! })?;
//! ```

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long each connection keeps sending.
#[derive(Clone, Copy)]
pub(crate) enum Limit {
    /// For this long after the warm-up.
    Time(Duration),
    /// This many measured requests per connection.
    Requests(u64),
}

/// What to run: where, how many connections, how long, and which requests.
pub(crate) struct LoadSpec<'a> {
    pub(crate) port: u16,
    pub(crate) connections: usize,
    /// Requests sent before measuring, not recorded.
    pub(crate) warmup: Duration,
    pub(crate) limit: Limit,
    /// Runs once per connection (given its number) before anything is sent, e.g. to
    /// log in for a cookie, and again every `setup_every` requests; never measured.
    pub(crate) setup: &'a (dyn Fn(usize, &mut Client) -> Result<(), String> + Sync),
    pub(crate) setup_every: Option<u64>,
    /// Sends the `seq`-th request of connection `conn` and returns its answer.
    pub(crate) request: &'a (dyn Fn(usize, u64, &mut Client) -> Result<Response, String> + Sync),
}

/// The outcome of a [`run`].
pub(crate) struct LoadStats {
    pub(crate) requests: u64,
    pub(crate) elapsed: Duration,
    pub(crate) latency: Histogram,
    /// Answers outside 2xx, and connections that failed (each counted once).
    pub(crate) bad_status: u64,
    pub(crate) failed_connections: u64,
    pub(crate) first_error: Option<String>,
}

impl LoadStats {
    pub(crate) fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `spec` and waits for every connection to finish.
pub(crate) fn run(spec: &LoadSpec<'_>) -> Result<LoadStats, String> {
    let barrier = Arc::new(Barrier::new(spec.connections + 1));
    let stop = AtomicBool::new(false);
    let results = thread::scope(|scope| {
        let handles: Vec<_> = (0..spec.connections)
            .map(|conn| {
                let barrier = Arc::clone(&barrier);
                let stop = &stop;
                scope.spawn(move || connection(spec, conn, &barrier, stop))
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        if let Limit::Time(duration) = spec.limit {
            thread::sleep(spec.warmup + duration);
            stop.store(true, Ordering::Relaxed);
        }
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("load thread panicked".into()))
            })
            .collect();
        (results, started.elapsed())
    });
    let (results, _) = results;
    let mut stats = LoadStats {
        requests: 0,
        elapsed: Duration::ZERO,
        latency: Histogram::new(),
        bad_status: 0,
        failed_connections: 0,
        first_error: None,
    };
    for result in results {
        match result {
            Ok(one) => {
                stats.requests += one.requests;
                stats.elapsed = stats.elapsed.max(one.elapsed);
                stats.latency.merge(&one.latency);
                stats.bad_status += one.bad_status;
                if one.first_error.is_some() && stats.first_error.is_none() {
                    stats.first_error = one.first_error;
                }
            }
            Err(err) => {
                stats.failed_connections += 1;
                stats.first_error.get_or_insert(err);
            }
        }
    }
    if stats.requests == 0 {
        return Err(format!(
            "no request completed: {}",
            stats.first_error.as_deref().unwrap_or("no error recorded")
        ));
    }
    Ok(stats)
}

/// One connection's loop: set up, warm up, measure.
fn connection(
    spec: &LoadSpec<'_>,
    conn: usize,
    barrier: &Barrier,
    stop: &AtomicBool,
) -> Result<LoadStats, String> {
    let client = Client::connect(spec.port);
    let mut client = match client.and_then(|mut c| (spec.setup)(conn, &mut c).map(|()| c)) {
        Ok(client) => client,
        Err(err) => {
            barrier.wait();
            return Err(err);
        }
    };
    barrier.wait();
    let warm_until = Instant::now() + spec.warmup;
    let mut seq = 0u64;
    let mut since_setup = 0u64;
    let mut step = |client: &mut Client, seq: u64| -> Result<(Duration, u16), String> {
        if spec.setup_every.is_some_and(|n| since_setup >= n) {
            client.clear_cookies();
            (spec.setup)(conn, client)?;
            since_setup = 0;
        }
        since_setup += 1;
        let sent = Instant::now();
        let response = (spec.request)(conn, seq, client)?;
        Ok((sent.elapsed(), response.status))
    };
    while Instant::now() < warm_until && !stop.load(Ordering::Relaxed) {
        step(&mut client, seq)?;
        seq += 1;
    }
    let mut stats = LoadStats {
        requests: 0,
        elapsed: Duration::ZERO,
        latency: Histogram::new(),
        bad_status: 0,
        failed_connections: 0,
        first_error: None,
    };
    let started = Instant::now();
    loop {
        match spec.limit {
            Limit::Time(_) if stop.load(Ordering::Relaxed) => break,
            Limit::Requests(n) if stats.requests >= n => break,
            _ => {}
        }
        let (took, status) = step(&mut client, seq)?;
        seq += 1;
        stats.requests += 1;
        stats.latency.record(took);
        if !(200..300).contains(&status) {
            stats.bad_status += 1;
            stats
                .first_error
                .get_or_insert_with(|| format!("status {status}"));
        }
    }
    stats.elapsed = started.elapsed();
    Ok(stats)
}

/// One keep-alive HTTP/1.1 connection with a cookie jar.
pub(crate) struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    cookies: Vec<(String, String)>,
    out: Vec<u8>,
}

/// An answer: status, `Set-Cookie` headers, body.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) set_cookies: Vec<String>,
    pub(crate) body: Vec<u8>,
}

impl Client {
    pub(crate) fn connect(port: u16) -> Result<Client, String> {
        let attempt = || -> io::Result<Client> {
            let stream = TcpStream::connect(("127.0.0.1", port))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_write_timeout(Some(IO_TIMEOUT))?;
            Ok(Client {
                reader: BufReader::with_capacity(16 * 1024, stream.try_clone()?),
                writer: stream,
                cookies: Vec::new(),
                out: Vec::with_capacity(1024),
            })
        };
        attempt().map_err(|err| format!("connect to 127.0.0.1:{port}: {err}"))
    }

    pub(crate) fn get(&mut self, path: &str) -> Result<Response, String> {
        self.send("GET", path, None)
    }

    pub(crate) fn post_json(&mut self, path: &str, body: &str) -> Result<Response, String> {
        self.send("POST", path, Some(body))
    }

    /// `POST /login` as `user` with the cart apps' stand-in password; keeps the cookie.
    pub(crate) fn login(&mut self, user: &str) -> Result<(), String> {
        let body = format!(r#"{{"user":"{user}","password":"pw-{user}"}}"#);
        let response = self.post_json("/login", &body)?;
        if response.status != 200 {
            return Err(format!(
                "POST /login answered {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ));
        }
        Ok(())
    }

    pub(crate) fn clear_cookies(&mut self) {
        self.cookies.clear();
    }

    pub(crate) fn has_cookies(&self) -> bool {
        !self.cookies.is_empty()
    }

    /// Puts a cookie in the jar as if a server had set it.
    pub(crate) fn add_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(n, _)| n != name);
        self.cookies.push((name.to_owned(), value.to_owned()));
    }

    /// Sends one request with the jar's cookies; reads the answer and updates the jar.
    pub(crate) fn send(
        &mut self,
        method: &str,
        path: &str,
        json: Option<&str>,
    ) -> Result<Response, String> {
        self.out.clear();
        let out = &mut self.out;
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nhost: 127.0.0.1\r\n");
        for (i, (name, value)) in self.cookies.iter().enumerate() {
            out.extend_from_slice(if i == 0 { b"cookie: " } else { b"; " });
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        }
        if !self.cookies.is_empty() {
            out.extend_from_slice(b"\r\n");
        }
        if let Some(body) = json {
            let head = format!(
                "content-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(body.as_bytes());
        } else {
            out.extend_from_slice(b"\r\n");
        }
        self.writer
            .write_all(&self.out)
            .map_err(|err| format!("{method} {path}: write: {err}"))?;
        let response = self
            .read_response()
            .map_err(|err| format!("{method} {path}: read: {err}"))?;
        for header in &response.set_cookies {
            self.keep_cookie(header);
        }
        Ok(response)
    }

    fn keep_cookie(&mut self, header: &str) {
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|pair| pair.trim().split_once('=')) else {
            return;
        };
        let removed = parts.any(|attr| attr.trim().eq_ignore_ascii_case("max-age=0"));
        self.cookies.retain(|(n, _)| n != name);
        if !removed && !value.is_empty() {
            self.cookies.push((name.to_owned(), value.to_owned()));
        }
    }

    fn read_response(&mut self) -> io::Result<Response> {
        let mut line = String::new();
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
        if self.reader.read_line(&mut line)? == 0 {
            return Err(bad("connection closed"));
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no status line"))?;
        let mut length = None;
        let mut chunked = false;
        let mut set_cookies = Vec::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(bad("connection closed in headers"));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("set-cookie") {
                set_cookies.push(value.to_owned());
            }
        }
        let body = if chunked {
            self.read_chunked()?
        } else {
            let mut body = vec![0; length.unwrap_or(0)];
            self.reader.read_exact(&mut body)?;
            body
        };
        Ok(Response {
            status,
            set_cookies,
            body,
        })
    }

    fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                line.clear();
                self.reader.read_line(&mut line)?;
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size + 2, 0);
            self.reader.read_exact(&mut body[start..])?;
            body.truncate(start + size);
        }
    }
}

/// Latencies in nanoseconds, log-linear buckets: 32 per power of two (about 3 % wide).
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;

impl Histogram {
    pub(crate) fn new() -> Histogram {
        Histogram {
            counts: vec![0; (64 - SUB_BITS as usize + 1) * SUB as usize],
            total: 0,
        }
    }

    pub(crate) fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket(nanos)] += 1;
        self.total += 1;
    }

    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    /// The latency below which `q` (0..=1) of the recorded ones fall (bucket's low end).
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        let rank = ((self.total as f64 * q).ceil() as u64).clamp(1, self.total.max(1));
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_nanos(low_end(index));
            }
        }
        Duration::ZERO
    }
}

fn bucket(nanos: u64) -> usize {
    if nanos < SUB {
        return nanos as usize;
    }
    let exp = 63 - nanos.leading_zeros();
    let mantissa = nanos >> (exp - SUB_BITS);
    ((exp - SUB_BITS) as u64 * SUB + mantissa) as usize
}

fn low_end(index: usize) -> u64 {
    let index = index as u64;
    if index < 2 * SUB {
        return index;
    }
    let shift = index / SUB - 1;
    (index % SUB + SUB) << shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for nanos in [
            0,
            1,
            31,
            32,
            63,
            64,
            65,
            1000,
            123_456,
            9_999_999,
            u64::MAX / 2,
        ] {
            let index = bucket(nanos);
            assert!(index >= last, "{nanos}");
            last = index;
            let low = low_end(index);
            assert!(
                low <= nanos && nanos - low <= nanos / 32 + 1,
                "{nanos} -> {low}"
            );
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::new();
        for micros in 1..=100 {
            h.record(Duration::from_micros(micros));
        }
        let p50 = h.quantile(0.5).as_micros();
        let p99 = h.quantile(0.99).as_micros();
        assert!((48..=50).contains(&p50), "{p50}");
        assert!((96..=99).contains(&p99), "{p99}");
    }
}
