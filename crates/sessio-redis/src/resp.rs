//! RESP2 replies parsed from the bytes a connection has read so far, into the `redis`
//! crate's [`Value`], so that the rest of the store reads them as it reads any reply.
//!
//! Written because the `redis` crate's streaming parser (built on `combine`) was the
//! largest single cost of a read with Redis: 4.9k instructions of its own per `GET /me`
//! on axum-cart, against 1.9k for this parser and `pipelined.rs` together; the whole
//! request went from 52.6k instructions to 44.2k (callgrind, whole server, one
//! keep-alive connection, 5 000 requests). This parser walks the bytes once, allocates
//! only the values it returns, and leaves error replies, which are rare and whose kinds
//! the `redis` crate defines, to that crate's own parser.
//!
//! A connection's own commands never ask for RESP3 (`HELLO 3`), so a reply starting with
//! any byte other than RESP2's five is a protocol error: the peer is not Redis, or the
//! stream lost its place.

use redis::{ParsingError, RedisError, RedisResult, Value};

/// The deepest nesting of arrays accepted: Redis's own replies nest two deep at most; a
/// script's reply is limited by Lua's stack. Bounds the parser's recursion.
const MAX_DEPTH: usize = 128;

/// The longest bulk string accepted: Redis's own limit (`proto-max-bulk-len`, 512 MB).
const MAX_BULK_LEN: usize = 512 * 1024 * 1024;

/// Parses the first reply in `bytes`: `Ok(Some((reply, length)))` when `bytes` holds all
/// of it (`length` bytes), `Ok(None)` when more bytes are needed, `Err` when the bytes are
/// not RESP2.
pub(crate) fn parse_reply(bytes: &[u8]) -> RedisResult<Option<(Value, usize)>> {
    let mut reader = Reader { bytes, at: 0 };
    match reader.value(0) {
        Ok(value) => Ok(Some((value, reader.at))),
        Err(Stop::Incomplete) => Ok(None),
        Err(Stop::Invalid(what)) => Err(not_resp(what)),
        Err(Stop::Redis(err)) => Err(err),
    }
}

fn not_resp(what: String) -> RedisError {
    RedisError::from(ParsingError::from(format!("not a RESP2 reply: {what}")))
}

/// Why parsing stopped short of a value.
enum Stop {
    /// The reply goes on past the bytes read so far.
    Incomplete,
    /// The bytes are not RESP2.
    Invalid(String),
    /// The `redis` crate refused an error reply's line.
    Redis(RedisError),
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn value(&mut self, depth: usize) -> Result<Value, Stop> {
        let start = self.at;
        let kind = *self.bytes.get(self.at).ok_or(Stop::Incomplete)?;
        self.at += 1;
        match kind {
            b'+' => {
                let line = self.line()?;
                if line == b"OK" {
                    return Ok(Value::Okay);
                }
                let text = std::str::from_utf8(line)
                    .map_err(|_| Stop::Invalid("a simple string that is not UTF-8".into()))?;
                Ok(Value::SimpleString(text.to_owned()))
            }
            b'-' => {
                self.line()?;
                // The whole line, type byte and CRLF included, as the crate parses it.
                redis::parse_redis_value(&self.bytes[start..self.at]).map_err(Stop::Redis)
            }
            b':' => Ok(Value::Int(self.integer()?)),
            b'$' => {
                let Some(len) = self.length("bulk string")? else {
                    return Ok(Value::Nil);
                };
                if len > MAX_BULK_LEN {
                    return Err(Stop::Invalid(format!("a bulk string of {len} bytes")));
                }
                let end = self.at + len;
                let body = self.bytes.get(self.at..end).ok_or(Stop::Incomplete)?;
                match self.bytes.get(end..end + 2) {
                    Some(b"\r\n") => {}
                    Some(_) => {
                        return Err(Stop::Invalid("a bulk string longer than its length".into()))
                    }
                    None => return Err(Stop::Incomplete),
                }
                let body = body.to_vec();
                self.at = end + 2;
                Ok(Value::BulkString(body))
            }
            b'*' => {
                let Some(len) = self.length("array")? else {
                    return Ok(Value::Nil);
                };
                if depth == MAX_DEPTH {
                    return Err(Stop::Invalid(format!("arrays nested {MAX_DEPTH} deep")));
                }
                // Every element takes three bytes at least: no more room than those read
                // could fill, however large a length the peer claims.
                let mut items = Vec::with_capacity(len.min((self.bytes.len() - self.at) / 3));
                for _ in 0..len {
                    items.push(self.value(depth + 1)?);
                }
                Ok(Value::Array(items))
            }
            other => Err(Stop::Invalid(format!(
                "a reply starting with byte {other:#04x}"
            ))),
        }
    }

    /// The rest of the line, without its CRLF, which it steps over.
    fn line(&mut self) -> Result<&[u8], Stop> {
        let rest = &self.bytes[self.at..];
        let newline = memchr::memchr(b'\n', rest).ok_or(Stop::Incomplete)?;
        if newline == 0 || rest[newline - 1] != b'\r' {
            return Err(Stop::Invalid("a line not ended by CRLF".into()));
        }
        self.at += newline + 1;
        Ok(&rest[..newline - 1])
    }

    fn integer(&mut self) -> Result<i64, Stop> {
        let line = self.line()?;
        let invalid = || Stop::Invalid("an integer that is not one".into());
        let (negative, digits) = match line {
            [b'-', digits @ ..] => (true, digits),
            digits => (false, digits),
        };
        if digits.is_empty() {
            return Err(invalid());
        }
        let mut value: i64 = 0;
        for &digit in digits {
            if !digit.is_ascii_digit() {
                return Err(invalid());
            }
            // Built negative, so that i64::MIN fits.
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_sub(i64::from(digit - b'0')))
                .ok_or_else(invalid)?;
        }
        if negative {
            Ok(value)
        } else {
            value.checked_neg().ok_or_else(invalid)
        }
    }

    /// A bulk string's or an array's length; `None` for RESP2's null (`-1`).
    fn length(&mut self, of: &str) -> Result<Option<usize>, Stop> {
        match self.integer()? {
            -1 => Ok(None),
            len => usize::try_from(len)
                .map(Some)
                .map_err(|_| Stop::Invalid(format!("an {of} of length {len}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::{ErrorKind, ServerErrorKind};

    fn parsed(bytes: &[u8]) -> (Value, usize) {
        match parse_reply(bytes) {
            Ok(Some(done)) => done,
            other => panic!("{bytes:?}: {other:?}"),
        }
    }

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn every_resp2_type_is_read_as_the_redis_crate_reads_it() {
        let cases: &[&[u8]] = &[
            b"+OK\r\n",
            b"+PONG\r\n",
            b":0\r\n",
            b":-42\r\n",
            b":9223372036854775807\r\n",
            b":-9223372036854775808\r\n",
            b"$5\r\nhello\r\n",
            b"$0\r\n\r\n",
            b"$-1\r\n",
            b"$4\r\na\r\nb\r\n",
            b"*-1\r\n",
            b"*0\r\n",
            b"*3\r\n$1\r\nm\r\n:7\r\n*2\r\n$-1\r\n+x\r\n",
            b"-ERR unknown command\r\n",
            b"-NOSCRIPT No matching script\r\n",
            b"-OOM command not allowed\r\n",
        ];
        for &bytes in cases {
            let expected = redis::parse_redis_value(bytes).expect("the crate reads it");
            assert_eq!(parsed(bytes), (expected, bytes.len()), "{bytes:?}");
        }
    }

    #[test]
    fn an_error_reply_keeps_its_kind() {
        let (value, _) = parsed(b"-NOSCRIPT No matching script. Use EVAL.\r\n");
        let err = value.extract_error().expect_err("an error reply");
        assert_eq!(err.kind(), ErrorKind::Server(ServerErrorKind::NoScript));
    }

    #[test]
    fn a_reply_cut_anywhere_asks_for_more_and_then_reads_whole() {
        let reply = b"*4\r\n$1\r\nm\r\n$11\r\nhello world\r\n:12\r\n*1\r\n-ERR x\r\n";
        for cut in 0..reply.len() {
            assert!(
                matches!(parse_reply(&reply[..cut]), Ok(None)),
                "cut at {cut}"
            );
        }
        let (value, len) = parsed(reply);
        assert_eq!(len, reply.len());
        let Value::Array(items) = value else {
            panic!("an array")
        };
        assert_eq!(items[..3], [bulk("m"), bulk("hello world"), Value::Int(12)]);
    }

    #[test]
    fn only_the_first_of_several_replies_is_taken() {
        let bytes = b"$2\r\nab\r\n:1\r\n+OK\r\n";
        let (first, len) = parsed(bytes);
        assert_eq!((first, len), (bulk("ab"), 8));
        assert_eq!(parsed(&bytes[len..]), (Value::Int(1), 4));
    }

    #[test]
    fn bytes_that_are_not_resp2_are_refused() {
        let cases: &[&[u8]] = &[
            b"HTTP/1.1 400 Bad Request\r\n",
            b"%1\r\n+a\r\n+b\r\n",
            b":12x\r\n",
            b":\r\n",
            b":99999999999999999999\r\n",
            b"$3\r\nabcd\r\n",
            b"$-2\r\n",
            b"*-5\r\n",
            b"+OK\n",
            b"+\xff\r\n",
        ];
        for &bytes in cases {
            let err = parse_reply(bytes).expect_err("not RESP2");
            assert_eq!(err.kind(), ErrorKind::Parse, "{bytes:?}");
            assert!(err.is_unrecoverable_error(), "{bytes:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_and_huge_claims_allocate_nothing_up_front() {
        let deep = b"*1\r\n".repeat(MAX_DEPTH + 1);
        assert!(parse_reply(&deep).is_err());
        let not_too_deep = [b"*1\r\n".repeat(MAX_DEPTH), b":1\r\n".to_vec()].concat();
        assert!(matches!(parse_reply(&not_too_deep), Ok(Some(_))));
        // Claims four billion elements, sends one: waits for more without reserving them.
        assert!(matches!(parse_reply(b"*4000000000\r\n:1\r\n"), Ok(None)));
        assert!(parse_reply(b"$4000000000\r\n").is_err());
    }
}
