//! `service` (feature `macro`): an HTTP JSON service under load. The server
//! is hyper (HTTP/1.1, keep-alive) on a tokio runtime with WORKERS worker
//! threads; each `POST /order` carries a JSON order (a user, 4–12 items,
//! a note; 0.4–1.2 KB) that the handler parses with serde_json into owned
//! structs, prices, records per user in a shared `HashMap` (the service's
//! long-lived state) and answers with a JSON reply.
//!
//! The load generator is our own and runs in a forked process (so the
//! server's peak RSS is its own): CONNS keep-alive connections, one blocking
//! thread each, each sending the next request as soon as the previous reply
//! is read (a closed loop: bounded load), for WARMUP then SECS seconds;
//! requests finished during SECS count. ops = requests; throughput =
//! requests per second.
//!
//! Extra figures: `p50_ms`, `p99_ms` (latency of the counted requests),
//! `server_rss_kib` (the server process's peak RSS; the `RESULT` line's
//! `peak_rss_kib` is the same).

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

use super::{positive, Workload};
use crate::cli::Args;
use crate::measure::{extra, peak_rss_kib, Outcome};
use crate::rng::Rng;

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "service",
    usage: "[--conns 64] [--secs 5] [--warmup 1] [--workers 2] [--seed 42]",
    about: "hyper HTTP JSON server (2 tokio workers) driven over loopback by a closed-loop load generator",
    run,
    uses_allocator: true,
};

#[derive(Debug, Deserialize)]
struct OrderItem {
    sku: String,
    qty: u32,
    price: f64,
}

#[derive(Debug, Deserialize)]
struct Order {
    user: String,
    items: Vec<OrderItem>,
    note: String,
}

#[derive(Debug, Serialize)]
struct Reply {
    user: String,
    total: f64,
    lines: Vec<String>,
    orders_by_user: u64,
    note_words: usize,
}

/// The service's long-lived state: orders per user.
type State = Arc<Mutex<HashMap<String, u64>>>;

async fn handle(req: Request<Incoming>, state: State) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    let order: Order = match serde_json::from_slice(&body) {
        Ok(o) => o,
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    let total = order.items.iter().map(|i| f64::from(i.qty) * i.price).sum();
    let lines = order.items.iter().map(|i| format!("{} x{}", i.sku.to_uppercase(), i.qty)).collect();
    let orders_by_user = {
        let mut map = state.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(order.user.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let reply = Reply { user: order.user, total, lines, orders_by_user, note_words: order.note.split(' ').count() };
    let json = serde_json::to_vec(&reply).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(json)));
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    Ok(resp)
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}

/// Latency histogram: 64 buckets per power of two of microseconds (about
/// 1% resolution), no allocation while recording.
struct Histogram {
    counts: Vec<u64>,
}

const SUB: u32 = 64;

impl Histogram {
    fn new() -> Histogram {
        Histogram { counts: vec![0; (64 * SUB) as usize] }
    }

    fn bucket(us: u64) -> usize {
        if us < u64::from(SUB) {
            return us as usize;
        }
        let msb = 63 - us.leading_zeros();
        let shift = msb - SUB.trailing_zeros();
        ((shift + 1) * SUB + ((us >> shift) as u32 - SUB)) as usize
    }

    /// The smallest value of bucket `b` (inverse of [`Histogram::bucket`]).
    fn value(b: usize) -> u64 {
        let b = b as u32;
        if b < SUB {
            return u64::from(b);
        }
        let shift = b / SUB - 1;
        (u64::from(SUB) + u64::from(b % SUB)) << shift
    }

    fn record(&mut self, us: u64) {
        let b = Self::bucket(us).min(self.counts.len() - 1);
        self.counts[b] += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The value at quantile `q` (0..=1), microseconds.
    fn quantile(&self, q: f64) -> u64 {
        let want = ((self.total() as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return Self::value(b);
            }
        }
        0
    }
}

/// The request bodies the load generator cycles through.
fn bodies(seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed, 7);
    (0..64)
        .map(|_| {
            let items: Vec<String> = (0..rng.range(4, 12))
                .map(|_| {
                    format!(
                        r#"{{"sku":"sku-{:05}","qty":{},"price":{}.{:02}}}"#,
                        rng.below(20_000),
                        rng.range(1, 9),
                        rng.range(1, 500),
                        rng.below(100)
                    )
                })
                .collect();
            let note: Vec<&str> = (0..rng.range(5, 40)).map(|i| ["fast", "gift", "wrap", "leave at door"][i % 4]).collect();
            let body = format!(
                r#"{{"user":"user-{:04}","items":[{}],"note":"{}"}}"#,
                rng.below(5000),
                items.join(","),
                note.join(" ")
            );
            let mut req = format!(
                "POST /order HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            req.extend_from_slice(body.as_bytes());
            req
        })
        .collect()
}

/// Reads one HTTP/1.1 response (headers + Content-Length body) into `buf`.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<u16, String> {
    buf.clear();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = std::str::from_utf8(&buf[..end]).map_err(|_| "bad header bytes")?;
        let code: u16 = head.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or("bad status line")?;
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
            })
            .ok_or("no content-length")?;
        while buf.len() < end + 4 + len {
            let n = s.read(&mut chunk).map_err(|e| format!("read body: {e}"))?;
            if n == 0 {
                return Err("server closed mid-body".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        return Ok(code);
    }
}

/// The load generator (runs in the forked process): returns
/// (requests counted, seconds counted, histogram) or an error.
fn load(
    addr: SocketAddr,
    conns: usize,
    warmup: Duration,
    secs: Duration,
    seed: u64,
) -> Result<(u64, f64, Histogram), String> {
    let bodies = Arc::new(bodies(seed));
    let start = Instant::now() + Duration::from_millis(50);
    let count_from = start + warmup;
    let stop = count_from + secs;
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            let bodies = Arc::clone(&bodies);
            std::thread::spawn(move || -> Result<Histogram, String> {
                let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
                s.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
                let mut hist = Histogram::new();
                let mut buf = Vec::with_capacity(16 * 1024);
                let mut i = c;
                std::thread::sleep(start.saturating_duration_since(Instant::now()));
                loop {
                    let t0 = Instant::now();
                    if t0 >= stop {
                        return Ok(hist);
                    }
                    s.write_all(&bodies[i % bodies.len()]).map_err(|e| format!("write: {e}"))?;
                    let code = read_response(&mut s, &mut buf)?;
                    if code != 200 {
                        return Err(format!("HTTP {code}"));
                    }
                    let t1 = Instant::now();
                    if t0 >= count_from && t1 <= stop {
                        hist.record((t1 - t0).as_micros() as u64);
                    }
                    i += 7;
                }
            })
        })
        .collect();
    let mut all = Histogram::new();
    for h in handles {
        all.merge(&h.join().map_err(|_| "load thread panicked")??);
    }
    Ok((all.total(), secs.as_secs_f64(), all))
}

fn run(mut args: Args) -> Result<Outcome, String> {
    let conns = positive("--conns", args.take_or("conns", 64)?)?;
    let secs = Duration::from_secs_f64(args.take_or("secs", 5.0)?);
    let warmup = Duration::from_secs_f64(args.take_or("warmup", 1.0)?);
    let workers = positive("--workers", args.take_or("workers", 2)?)?;
    let seed: u64 = args.take_or("seed", 42)?;
    args.finish()?;

    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("local_addr: {e}"))?;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe` writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    // Fork while this process has one thread (no runtime yet), so the child
    // may run freely; it only runs the load generator and `_exit`s.
    // SAFETY: single-threaded here; the child does not return into our
    // caller (it ends in `_exit`).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(listener);
        // SAFETY: the read end is ours (inherited) and closed once.
        unsafe { libc::close(fds[0]) };
        let line = match load(addr, conns, warmup, secs, seed) {
            Ok((n, s, h)) => format!("OK {n} {s} {} {}\n", h.quantile(0.5), h.quantile(0.99)),
            Err(e) => format!("ERR {e}\n"),
        };
        // SAFETY: `fds[1]` is the pipe's write end, owned by this process;
        // the `File` takes it over.
        let mut w = unsafe { std::fs::File::from_raw_fd(fds[1]) };
        let _ = w.write_all(line.as_bytes());
        drop(w);
        // SAFETY: ends the forked child without running the parent's
        // destructors or atexit handlers a second time.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: the write end belongs to the child now; close our copy.
    unsafe { libc::close(fds[1]) };
    // SAFETY: `fds[0]` is the pipe's read end, owned here; the `File` takes it.
    let mut from_load = unsafe { std::fs::File::from_raw_fd(fds[0]) };

    listener.set_nonblocking(true).map_err(|e| format!("nonblocking: {e}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_io()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let state: State = Arc::new(Mutex::new(HashMap::new()));
    rt.spawn(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("listener: {e}");
                return;
            }
        };
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(req, Arc::clone(&state)));
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    let mut report = String::new();
    let read = from_load.read_to_string(&mut report);
    let mut status = 0;
    // SAFETY: `pid` is our forked child; `status` is writable.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let server_rss = peak_rss_kib();
    rt.shutdown_timeout(Duration::from_secs(1));
    read.map_err(|e| format!("reading the load generator: {e}"))?;
    let fields: Vec<&str> = report.split_whitespace().collect();
    match fields.first() {
        Some(&"OK") if fields.len() == 5 => {
            let parse = |i: usize| fields[i].parse::<f64>().map_err(|_| format!("load generator said {report:?}"));
            let (n, s, p50, p99) = (parse(1)?, parse(2)?, parse(3)?, parse(4)?);
            if n == 0.0 {
                return Err("no request completed".into());
            }
            extra("p50_ms", p50 / 1000.0);
            extra("p99_ms", p99 / 1000.0);
            extra("server_rss_kib", server_rss as f64);
            Ok(Outcome { ops: n as u64, secs: s })
        }
        _ => Err(format!("load generator failed: {}", report.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn histogram_buckets_round_trip() {
        for us in [0u64, 1, 63, 64, 65, 127, 128, 1000, 2500, 1_000_000] {
            let b = Histogram::bucket(us);
            let lo = Histogram::value(b);
            assert!(lo <= us && us - lo <= us / 60 + 1, "{us}: bucket {b} starts at {lo}");
        }
        let mut h = Histogram::new();
        for us in 1..=100 {
            h.record(us * 10);
        }
        assert_eq!(h.total(), 100);
        let p99 = h.quantile(0.99);
        assert!((970..=990).contains(&p99), "{p99}");
    }
}
