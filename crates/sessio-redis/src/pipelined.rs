//! [`PipelinedConnection`]: one socket to Redis that every call of a runtime shares, its
//! commands written back to back and its replies matched to them in order (Redis answers
//! in the order it reads).
//!
//! A call packs its command straight into the connection's outgoing buffer and waits for
//! its reply; the connection's [`Driver`], a task on the runtime that made the connection,
//! writes whatever the buffer holds in one `write`, reads whatever replies have come in,
//! parses them ([`crate::resp`]) and hands each to its caller. This replaces the `redis`
//! crate's multiplexed connection for a single Redis: with it, a `GET /me` with Redis
//! cost axum-cart 8.4k more instructions, mostly in the crate's parser (see `resp.rs`
//! for the figures). The cluster client keeps the crate's own connections.
//!
//! The connection is set up (`AUTH`, `SELECT`) before a caller gets it and speaks RESP2.
//! Once anything breaks it (an I/O error, bytes that are not RESP2, Redis closing it, its
//! driver dropped with its runtime, Redis silent too long: see [`Limits`]), every waiting
//! call and every later one fails at once with an I/O or parse error, which `single.rs`
//! takes as the sign to make a new one.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::resp::parse_reply;

/// The read buffer's size; it grows to hold a larger reply and shrinks back once that
/// reply is handed out.
const READ_BUFFER: usize = 16 * 1024;

/// The write buffers keep at most this much room between writes; a larger command's
/// room is given back once it is written.
const KEPT_WRITE_ROOM: usize = 64 * 1024;

/// How many calls may wait for replies on one connection. More means Redis is far behind
/// (a silent one is caught sooner: see [`Limits`]): the next call then fails with an I/O
/// error, which has the connection replaced, instead of every call adding to a queue that
/// nothing drains. Under the bench's 32 connections no more than a few dozen wait at once.
const MAX_WAITING: usize = 16 * 1024;

/// When a connection counts as dead although its socket is open: a silent network
/// partition, or a Redis that failed over to another host, leaves the socket open for many
/// minutes with nothing coming back, and since replies come in order, no call sent on it
/// would ever be answered again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// How long Redis may send nothing while a call that gave up waiting (its time limit)
    /// is still unanswered. Past it, the next call that gives up or is made breaks the
    /// connection, so that a new one is made: a store whose calls all time out is back
    /// within about two time limits of the path's return instead of never.
    silence: Duration,
    /// How many calls may wait for replies at once ([`MAX_WAITING`], lower in tests).
    max_waiting: usize,
}

impl Limits {
    /// Limits for calls bounded by `timeout`: Redis may be silent for as long as one call
    /// waits.
    pub(crate) fn for_calls_bounded_by(timeout: Duration) -> Self {
        Limits {
            silence: timeout,
            max_waiting: MAX_WAITING,
        }
    }
}

/// A command a new connection sends before any call, and the check of its reply.
pub(crate) type SetUpStep = (Cmd, fn(Value) -> RedisResult<()>);

/// A connection's handle: calls go through `&PipelinedConnection` (see the
/// [`ConnectionLike`] impl). Dropping it lets the driver end once the replies in flight
/// are in.
pub(crate) struct PipelinedConnection {
    queue: Arc<Queue>,
    db: i64,
}

/// What callers and the driver share.
struct Queue {
    state: Mutex<State>,
    limits: Limits,
    /// Set with `State::broken`, for the driver to read without the lock on every poll.
    broken: AtomicBool,
}

/// What a call waits for.
#[derive(Clone, Copy)]
enum Expects {
    /// One command's reply.
    One,
    /// A pipeline's `replies` replies (at least one), of which the first `skip` are
    /// dropped and the rest given as one array.
    Many { replies: usize, skip: usize },
}

struct State {
    /// Commands packed by callers, not yet taken by the driver.
    outgoing: Vec<u8>,
    /// One entry per command sent or about to be, in order.
    waiting: VecDeque<Waiting>,
    /// The driver's waker while it has nothing to write.
    driver: Option<Waker>,
    /// The driver's waker whatever it waits for, to end it when a call breaks the
    /// connection.
    driver_task: Option<Waker>,
    /// When a call gave up waiting while calls were waiting, if no reply has come since.
    silent_since: Option<Instant>,
    /// Set once the connection broke; every call fails with it from then on.
    broken: Option<RedisError>,
    /// The handle was dropped: no more commands will come.
    closed: bool,
}

/// A call waiting for its replies.
struct Waiting {
    expects: Expects,
    /// Given the reply, or the replies as one array when there are several.
    answer: oneshot::Sender<RedisResult<Value>>,
}

impl PipelinedConnection {
    /// Starts a connection on `stream`, sets it up with `setup` (sent before anything
    /// else, each reply checked by `check`), and spawns its driver on the current runtime
    /// with `spawn`, which lets the caller wrap it.
    pub(crate) async fn start<S>(
        stream: S,
        db: i64,
        setup: &[SetUpStep],
        limits: Limits,
        spawn: impl FnOnce(Pin<Box<dyn Future<Output = ()> + Send>>),
    ) -> RedisResult<Self>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let queue = Arc::new(Queue {
            limits,
            broken: AtomicBool::new(false),
            state: Mutex::new(State {
                outgoing: Vec::new(),
                waiting: VecDeque::new(),
                driver: None,
                driver_task: None,
                silent_since: None,
                broken: None,
                closed: false,
            }),
        });
        spawn(Box::pin(Driver::new(stream, Arc::clone(&queue))));
        let conn = PipelinedConnection { queue, db };
        for (cmd, check) in setup {
            check(
                conn.call(|out| cmd.write_packed_command(out), Expects::One)
                    .await?,
            )?;
        }
        Ok(conn)
    }

    /// Packs a command (or several) into the outgoing buffer, wakes the driver, and waits
    /// for the replies it `expects`.
    async fn call(&self, pack: impl FnOnce(&mut Vec<u8>), expects: Expects) -> RedisResult<Value> {
        let (answer, reply) = oneshot::channel();
        let driver = {
            let mut state = self.queue.lock();
            if let Some(err) = &state.broken {
                return Err(err.clone());
            }
            if let Some(err) = self.queue.too_long_silent(&state) {
                drop(state);
                self.queue.break_with(&err);
                return Err(err);
            }
            if state.waiting.len() >= self.queue.limits.max_waiting {
                return Err(RedisError::from(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{} calls are waiting for Redis on this connection: it has stopped \
                         answering or is far behind",
                        state.waiting.len()
                    ),
                )));
            }
            pack(&mut state.outgoing);
            state.waiting.push_back(Waiting { expects, answer });
            state.driver.take()
        };
        if let Some(driver) = driver {
            driver.wake();
        }
        let mut waiting = GiveUpWatch {
            queue: &self.queue,
            answered: false,
        };
        let result = reply.await.unwrap_or_else(|_| Err(driver_gone()));
        waiting.answered = true;
        result
    }
}

/// Tells the queue when its call is dropped before its reply came (its time limit ran
/// out): the one sign a caller has that Redis may have gone silent.
struct GiveUpWatch<'a> {
    queue: &'a Queue,
    answered: bool,
}

impl Drop for GiveUpWatch<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.queue.gave_up();
        }
    }
}

impl std::fmt::Debug for PipelinedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelinedConnection")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl Drop for PipelinedConnection {
    fn drop(&mut self) {
        let driver = {
            let mut state = self.queue.lock();
            state.closed = true;
            state.driver.take()
        };
        if let Some(driver) = driver {
            driver.wake();
        }
    }
}

impl ConnectionLike for &PipelinedConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let conn: &PipelinedConnection = self;
        Box::pin(conn.call(|out| cmd.write_packed_command(out), Expects::One))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let conn: &PipelinedConnection = self;
        Box::pin(async move {
            if offset + count == 0 {
                return Ok(Vec::new());
            }
            let packed = pipeline.get_packed_pipeline();
            let expects = Expects::Many {
                replies: offset + count,
                skip: offset,
            };
            match conn
                .call(|out| out.extend_from_slice(&packed), expects)
                .await?
            {
                Value::Array(replies) => Ok(replies),
                _ => Err(RedisError::from((
                    ErrorKind::Client,
                    "a pipeline's replies did not come as a list",
                ))),
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.db
    }
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state whole: every change is a push, a
        // pop or a swap.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the connection broken with `err`, fails every waiting call and wakes the
    /// driver to end.
    fn break_with(&self, err: &RedisError) {
        let (waiting, driver) = {
            let mut state = self.lock();
            state.broken.get_or_insert_with(|| err.clone());
            self.broken.store(true, Ordering::Release);
            state.outgoing = Vec::new();
            (std::mem::take(&mut state.waiting), state.driver_task.take())
        };
        for call in waiting {
            // A call that gave up (its timeout) has dropped its receiver.
            let _ = call.answer.send(Err(err.clone()));
        }
        if let Some(driver) = driver {
            driver.wake();
        }
    }

    /// A call gave up waiting: starts the silence, or breaks the connection when Redis
    /// has sent nothing for longer than the limit while calls waited.
    fn gave_up(&self) {
        let silent = {
            let mut state = self.lock();
            if state.broken.is_some() || state.waiting.is_empty() {
                // Its reply came as it gave up, and nothing else waits: nothing is owed.
                return;
            }
            let silent = self.too_long_silent(&state);
            state.silent_since.get_or_insert_with(Instant::now);
            silent
        };
        if let Some(err) = silent {
            self.break_with(&err);
        }
    }

    /// The error that breaks the connection when Redis has been silent too long.
    fn too_long_silent(&self, state: &State) -> Option<RedisError> {
        let since = state.silent_since?;
        let silence = since.elapsed();
        (silence >= self.limits.silence).then(|| {
            RedisError::from(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "Redis has sent nothing on this connection for {silence:?} while calls \
                     waited (a silent network partition or a Redis that moved): it is \
                     given up"
                ),
            ))
        })
    }
}

fn driver_gone() -> RedisError {
    RedisError::from(io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the Redis connection's driver stopped (its runtime ended or the connection broke)",
    ))
}

/// Writes the commands callers packed and hands out the replies; ends when the
/// connection breaks or when its handle is dropped and no call waits.
struct Driver<S> {
    stream: S,
    queue: Arc<Queue>,
    /// Commands taken from the queue, written up to `written`.
    writing: Vec<u8>,
    written: usize,
    /// Bytes read, parsed up to `parsed`, filled up to `filled`.
    read: Vec<u8>,
    parsed: usize,
    filled: usize,
    /// Replies parsed from the last read, not yet given out.
    replies: Vec<Value>,
    /// The replies gathered so far for the first waiting call, when it wants several.
    gathered: Vec<Value>,
    /// Calls answered by the last read, sent their replies after the lock is released.
    answered: Vec<(oneshot::Sender<RedisResult<Value>>, Value)>,
}

impl<S> Driver<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn new(stream: S, queue: Arc<Queue>) -> Self {
        Driver {
            stream,
            queue,
            writing: Vec::new(),
            written: 0,
            read: vec![0; READ_BUFFER],
            parsed: 0,
            filled: 0,
            replies: Vec::new(),
            gathered: Vec::new(),
            answered: Vec::new(),
        }
    }

    /// Takes the commands packed since the last write; `Ready` when the handle is gone
    /// and nothing is left to do, else registers the waker when there is nothing to take.
    fn take_outgoing(&mut self, cx: &Context<'_>) -> Poll<()> {
        if self.writing.capacity() > KEPT_WRITE_ROOM {
            self.writing = Vec::new();
        }
        self.writing.clear();
        self.written = 0;
        let mut state = self.queue.lock();
        match &state.driver_task {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.driver_task = Some(cx.waker().clone()),
        }
        if state.outgoing.is_empty() {
            if state.closed && state.waiting.is_empty() {
                return Poll::Ready(());
            }
            match &state.driver {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => state.driver = Some(cx.waker().clone()),
            }
        } else {
            std::mem::swap(&mut state.outgoing, &mut self.writing);
            // Busy until it finds the buffer empty again, and looks again before that.
            state.driver = None;
        }
        Poll::Pending
    }

    /// Writes as much of `writing` as the socket takes; whether it wrote anything.
    fn write(&mut self, cx: &mut Context<'_>) -> RedisResult<bool> {
        let mut wrote = false;
        while self.written < self.writing.len() {
            match Pin::new(&mut self.stream).poll_write(cx, &self.writing[self.written..]) {
                Poll::Ready(Ok(0)) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Poll::Ready(Ok(n)) => {
                    self.written += n;
                    wrote = true;
                }
                Poll::Ready(Err(err)) => return Err(err.into()),
                Poll::Pending => break,
            }
        }
        if wrote {
            // A no-op on sockets; kept for streams that buffer.
            if let Poll::Ready(Err(err)) = Pin::new(&mut self.stream).poll_flush(cx) {
                return Err(err.into());
            }
        }
        Ok(wrote)
    }

    /// Reads what has arrived and answers the calls whose replies are complete; whether
    /// it read anything.
    fn read(&mut self, cx: &mut Context<'_>) -> RedisResult<bool> {
        if self.filled == self.read.len() {
            if self.parsed > 0 {
                self.read.copy_within(self.parsed..self.filled, 0);
                self.filled -= self.parsed;
                self.parsed = 0;
            } else {
                // One reply larger than the buffer.
                self.read.resize(self.read.len() * 2, 0);
            }
        }
        let mut buf = ReadBuf::new(&mut self.read[self.filled..]);
        match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(err)) => return Err(err.into()),
            Poll::Pending => return Ok(false),
        }
        let n = buf.filled().len();
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "Redis closed the connection",
            )
            .into());
        }
        self.filled += n;
        self.answer()?;
        Ok(true)
    }

    /// Parses every complete reply read and gives each to its call; the replies before
    /// bytes that are not RESP2 are given out before the error is returned.
    fn answer(&mut self) -> RedisResult<()> {
        let mut result = Ok(());
        loop {
            match parse_reply(&self.read[self.parsed..self.filled]) {
                Ok(Some((value, len))) => {
                    self.parsed += len;
                    self.replies.push(value);
                }
                Ok(None) => break,
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
        }
        if self.parsed == self.filled {
            self.parsed = 0;
            self.filled = 0;
            if self.read.len() > READ_BUFFER {
                self.read = vec![0; READ_BUFFER];
            }
        }
        if self.replies.is_empty() {
            return result;
        }
        {
            let mut state = self.queue.lock();
            state.silent_since = None;
            for value in self.replies.drain(..) {
                let Some(call) = state.waiting.pop_front() else {
                    result = Err(RedisError::from((
                        ErrorKind::Client,
                        "Redis sent a reply no command asked for",
                    )));
                    break;
                };
                let Expects::Many { replies, skip } = call.expects else {
                    self.answered.push((call.answer, value));
                    continue;
                };
                self.gathered.push(value);
                if self.gathered.len() < replies {
                    state.waiting.push_front(call);
                    continue;
                }
                let mut gathered = std::mem::take(&mut self.gathered);
                gathered.drain(..skip);
                self.answered.push((call.answer, Value::Array(gathered)));
            }
        }
        for (answer, value) in self.answered.drain(..) {
            // A call that gave up (its timeout) has dropped its receiver.
            let _ = answer.send(Ok(value));
        }
        result
    }

    fn drive(&mut self, cx: &mut Context<'_>) -> RedisResult<Poll<()>> {
        loop {
            if self.written == self.writing.len() && self.take_outgoing(cx).is_ready() {
                return Ok(Poll::Ready(()));
            }
            let wrote = self.write(cx)?;
            let read = self.read(cx)?;
            if !wrote && !read {
                return Ok(Poll::Pending);
            }
        }
    }
}

impl<S> Future for Driver<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let driver = self.get_mut();
        if driver.queue.broken.load(Ordering::Acquire) {
            // Broken by a call (Redis silent too long): the socket goes with the driver.
            return Poll::Ready(());
        }
        match driver.drive(cx) {
            Ok(poll) => poll,
            Err(err) => {
                driver.queue.break_with(&err);
                Poll::Ready(())
            }
        }
    }
}

impl<S> Drop for Driver<S> {
    fn drop(&mut self) {
        // Ended by a break (already recorded), by the handle's drop (nothing waits), or
        // dropped unfinished with its runtime: calls then fail instead of waiting forever.
        self.queue.break_with(&driver_gone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio::task::JoinHandle;

    /// The tests' limits: Redis may be silent for a second.
    const LIMITS: Limits = Limits {
        silence: Duration::from_secs(1),
        max_waiting: MAX_WAITING,
    };

    /// A connection on one end of an in-memory pipe; the test plays Redis on the other.
    async fn connection(capacity: usize) -> (PipelinedConnection, DuplexStream, JoinHandle<()>) {
        let (client, server) = tokio::io::duplex(capacity);
        let mut driver = None;
        let conn = PipelinedConnection::start(client, 0, &[], LIMITS, |d| {
            driver = Some(tokio::spawn(d));
        })
        .await
        .expect("no set-up to fail");
        (conn, server, driver.expect("spawned"))
    }

    fn get(key: &str) -> Cmd {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        cmd
    }

    async fn query(conn: &PipelinedConnection, cmd: Cmd) -> RedisResult<Value> {
        cmd.query_async::<Value>(&mut &*conn).await
    }

    /// Reads from the pipe until `expected` has come, and fails on anything else.
    async fn expect_bytes(server: &mut DuplexStream, expected: &[u8]) {
        let mut got = vec![0; expected.len()];
        server.read_exact(&mut got).await.expect("the commands");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }

    #[tokio::test]
    async fn replies_go_to_their_calls_in_order_and_commands_go_out_together() {
        let (conn, mut server, _driver) = connection(4096).await;
        let calls = async {
            tokio::join!(
                query(&conn, get("a")),
                query(&conn, get("b")),
                query(&conn, get("c"))
            )
        };
        let redis = async {
            // The three calls are queued before the driver runs: one write carries them.
            let mut got = vec![0; 4096];
            let n = server.read(&mut got).await.expect("the commands");
            assert_eq!(
                &got[..n],
                [get("a"), get("b"), get("c")]
                    .iter()
                    .flat_map(Cmd::get_packed_command)
                    .collect::<Vec<u8>>()
            );
            // The replies come back cut in odd places.
            for part in [&b"$1\r\nA\r"[..], b"\n:2\r\n$-", b"1\r\n"] {
                server.write_all(part).await.expect("a reply");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let ((a, b, c), ()) = tokio::join!(calls, redis);
        assert_eq!(a.expect("a"), Value::BulkString(b"A".to_vec()));
        assert_eq!(b.expect("b"), Value::Int(2));
        assert_eq!(c.expect("c"), Value::Nil);
    }

    #[tokio::test]
    async fn past_the_limit_of_waiting_calls_a_call_fails_at_once() {
        let (client, mut server) = tokio::io::duplex(4096);
        let limits = Limits {
            max_waiting: 2,
            ..LIMITS
        };
        let conn = PipelinedConnection::start(client, 0, &[], limits, |d| {
            tokio::spawn(d);
        })
        .await
        .expect("no set-up to fail");
        let conn = Arc::new(conn);
        let waiting: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|key| {
                let conn = Arc::clone(&conn);
                tokio::spawn(async move { query(&conn, get(key)).await })
            })
            .collect();
        let both = [get("a"), get("b")]
            .iter()
            .flat_map(Cmd::get_packed_command)
            .count();
        let mut sent = vec![0; both];
        server.read_exact(&mut sent).await.expect("both commands");

        let refused = query(&conn, get("c")).await.expect_err("two already wait");
        assert_eq!(refused.kind(), ErrorKind::Io);
        assert!(
            refused.to_string().contains("2 calls are waiting"),
            "{refused}"
        );

        server
            .write_all(b":1\r\n:2\r\n")
            .await
            .expect("the replies");
        for (call, expected) in waiting.into_iter().zip([1, 2]) {
            let reply = call.await.expect("the call ends").expect("its reply");
            assert_eq!(reply, Value::Int(expected));
        }
        let answered = async {
            expect_bytes(&mut server, &get("d").get_packed_command()).await;
            server.write_all(b":4\r\n").await.expect("the reply");
        };
        let (reply, ()) = tokio::join!(query(&conn, get("d")), answered);
        assert_eq!(reply.expect("room again"), Value::Int(4));
    }

    #[tokio::test]
    async fn a_reply_larger_than_the_buffer_comes_whole() {
        let (conn, mut server, _driver) = connection(64 * 1024).await;
        let big = vec![b'x'; 3 * READ_BUFFER + 17];
        let redis = async {
            expect_bytes(&mut server, &get("big").get_packed_command()).await;
            let mut reply = format!("${}\r\n", big.len()).into_bytes();
            reply.extend_from_slice(&big);
            reply.extend_from_slice(b"\r\n");
            server.write_all(&reply).await.expect("the reply");
        };
        let (reply, ()) = tokio::join!(query(&conn, get("big")), redis);
        assert_eq!(reply.expect("the value"), Value::BulkString(big));
    }

    /// Two calls, `GET a` and `GET b`, while the pipe's other end sends `replies`.
    async fn two_calls_answered_with(
        conn: &PipelinedConnection,
        server: &mut DuplexStream,
        replies: &[u8],
    ) -> (RedisResult<Value>, RedisResult<Value>) {
        let redis = async {
            server.write_all(replies).await.expect("the replies");
        };
        let (both, ()) = tokio::join!(
            async { tokio::join!(query(conn, get("a")), query(conn, get("b"))) },
            redis
        );
        both
    }

    #[tokio::test]
    async fn error_replies_are_errors_of_their_call_only() {
        let (conn, mut server, _driver) = connection(4096).await;
        let (first, second) =
            two_calls_answered_with(&conn, &mut server, b"-ERR wrong kind of value\r\n+OK\r\n")
                .await;
        let err = first.expect_err("an error reply");
        assert_eq!(
            err.kind(),
            ErrorKind::Server(redis::ServerErrorKind::ResponseError)
        );
        assert_eq!(second.expect("the next reply"), Value::Okay);
    }

    #[tokio::test]
    async fn a_pipeline_gets_its_replies_past_the_offset() {
        let (conn, mut server, _driver) = connection(4096).await;
        let mut pipe = redis::pipe();
        pipe.cmd("PING").cmd("PING").cmd("PING");
        let redis = async {
            server
                .write_all(b"+PONG\r\n:1\r\n*1\r\n:2\r\n")
                .await
                .expect("the replies");
        };
        let mut handle = &conn;
        let (replies, ()) = tokio::join!(handle.req_packed_commands(&pipe, 1, 2), redis);
        assert_eq!(
            replies.expect("the replies"),
            [Value::Int(1), Value::Array(vec![Value::Int(2)])]
        );
    }

    #[tokio::test]
    async fn bytes_that_are_not_resp2_break_the_connection_for_every_call() {
        let (conn, mut server, driver) = connection(4096).await;
        let (first, second) =
            two_calls_answered_with(&conn, &mut server, b":1\r\nHTTP/1.1 400 Bad Request\r\n")
                .await;
        assert_eq!(first.expect("the reply before the garbage"), Value::Int(1));
        assert_eq!(second.expect_err("garbage").kind(), ErrorKind::Parse);
        driver.await.expect("the driver ends");
        let later = query(&conn, get("c")).await.expect_err("broken");
        assert_eq!(later.kind(), ErrorKind::Parse, "the first failure is kept");
    }

    #[tokio::test]
    async fn redis_closing_the_connection_fails_the_calls_waiting_and_later_ones() {
        let (conn, server, driver) = connection(4096).await;
        let waiting = tokio::spawn(async move {
            let result = query(&conn, get("a")).await;
            (result, conn)
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(server);
        let (result, conn) = waiting.await.expect("the call ends");
        let err = result.expect_err("closed");
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.is_unrecoverable_error());
        driver.await.expect("the driver ends");
        assert_eq!(
            query(&conn, get("b")).await.expect_err("closed").kind(),
            ErrorKind::Io
        );
    }

    /// A call on `conn` that gives up after 100 ms, its command read by the test's Redis,
    /// which does not answer.
    async fn give_up_on(conn: &PipelinedConnection, server: &mut DuplexStream, key: &str) {
        let sent = async { expect_bytes(server, &get(key).get_packed_command()).await };
        let call = tokio::time::timeout(Duration::from_millis(100), query(conn, get(key)));
        let (gave_up, ()) = tokio::join!(call, sent);
        assert!(
            gave_up.is_err(),
            "no reply, so the call gives up: {gave_up:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_redis_silent_past_the_limit_while_calls_wait_breaks_the_connection() {
        let (conn, mut server, driver) = connection(4096).await;
        give_up_on(&conn, &mut server, "a").await;
        // Within the limit, giving up again changes nothing: Redis may be slow.
        tokio::time::sleep(Duration::from_millis(500)).await;
        give_up_on(&conn, &mut server, "b").await;

        tokio::time::sleep(Duration::from_millis(500)).await;
        let err = tokio::time::timeout(Duration::from_secs(5), query(&conn, get("c")))
            .await
            .expect("fails at once, without waiting for a reply")
            .expect_err("silent for a second");
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.to_string().contains("has sent nothing"), "{err}");
        let later = query(&conn, get("d")).await.expect_err("broken for good");
        assert_eq!(later.to_string(), err.to_string());
        // The driver ends with the connection, its socket with it, though the handle lives.
        tokio::time::timeout(Duration::from_secs(5), driver)
            .await
            .expect("the driver ends")
            .expect("without panicking");
        let mut rest = Vec::new();
        server
            .read_to_end(&mut rest)
            .await
            .expect("the pipe closes");
        assert!(rest.is_empty(), "nothing more was sent: {rest:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reply_after_a_call_gave_up_ends_the_silence() {
        let (conn, mut server, _driver) = connection(4096).await;
        give_up_on(&conn, &mut server, "a").await;
        // The late reply goes nowhere, but shows that Redis answers.
        server.write_all(b":1\r\n").await.expect("the late reply");
        tokio::time::sleep(Duration::from_secs(5)).await;
        give_up_on(&conn, &mut server, "b").await;
        let answered = async {
            expect_bytes(&mut server, &get("c").get_packed_command()).await;
            server
                .write_all(b":2\r\n:3\r\n")
                .await
                .expect("the replies");
        };
        let (reply, ()) = tokio::join!(query(&conn, get("c")), answered);
        assert_eq!(reply.expect("the connection still serves"), Value::Int(3));
    }

    #[tokio::test]
    async fn dropping_the_handle_ends_the_driver_once_the_replies_are_in() {
        let (conn, mut server, driver) = connection(4096).await;
        let redis = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            server.write_all(b":7\r\n").await.expect("the reply");
            server
        };
        let (reply, server) = tokio::join!(query(&conn, get("a")), redis);
        assert_eq!(reply.expect("the reply"), Value::Int(7));
        drop(conn);
        tokio::time::timeout(Duration::from_secs(5), driver)
            .await
            .expect("the driver ends")
            .expect("without panicking");
        drop(server);
    }

    #[test]
    fn a_call_whose_driver_went_with_its_runtime_fails_instead_of_waiting() {
        let first = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (conn, server, _driver) = first.block_on(connection(4096));
        drop(first);
        let second = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let err = second
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(5), query(&conn, get("a"))).await
            })
            .expect("an answer, not a hang")
            .expect_err("no driver");
        assert_eq!(err.kind(), ErrorKind::Io);
        drop(server);
    }

    #[tokio::test]
    async fn set_up_commands_go_first_and_their_refusal_is_the_connections_error() {
        fn refused(reply: Value) -> RedisResult<()> {
            reply.extract_error().map(drop)
        }
        let (client, mut server) = tokio::io::duplex(4096);
        let mut auth = redis::cmd("AUTH");
        auth.arg("secret");
        let expected = auth.get_packed_command();
        let setup: [SetUpStep; 1] = [(auth, refused)];
        let start = PipelinedConnection::start(client, 0, &setup, LIMITS, |d| {
            tokio::spawn(d);
        });
        let redis = async {
            expect_bytes(&mut server, &expected).await;
            server
                .write_all(b"-WRONGPASS invalid username-password pair\r\n")
                .await
                .expect("the reply");
        };
        let (started, ()) = tokio::join!(start, redis);
        let err = started.expect_err("refused");
        assert!(err.to_string().contains("WRONGPASS"), "{err}");
    }
}
