//! A closed-loop HTTP/1.1 load generator with no dependencies, for `bench/run.py`.
//!
//! `C` connections (one thread each, keep-alive) send requests drawn by weight from a plan
//! file, each waiting for its answer before sending the next, for a given time. Latencies are
//! kept in full (no histogram buckets), per label; the 2xx answers are counted per plan line,
//! so a write benchmark can check that every acknowledged write is in the database.
//!
//! Plan file: one request per line, tab-separated:
//! `label  weight  METHOD  path  body  [Header: value]...` (body `-` for none).
//!
//! ```text
//! loadgen --addr 127.0.0.1:8080 --plan plan.tsv --connections 32 --duration 10 --warmup 2
//! ```
//! With `--once`, the lines are sent in order, each exactly once (no weights): a write
//! benchmark where every request must be a different object.
//! Prints one JSON object on stdout.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Line {
    label: String,
    weight: u64,
    /// The request's bytes, ready to write.
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Tally {
    /// label → latencies in microseconds
    latencies: BTreeMap<String, Vec<u64>>,
    status: BTreeMap<u16, u64>,
    /// transport errors (connect, reset, malformed answer)
    errors: u64,
    /// per plan line: 2xx answers
    ok: Vec<u64>,
    /// the first few non-2xx answers, to tell what went wrong
    samples: Vec<String>,
}

fn usage() -> ! {
    eprintln!("usage: loadgen --addr HOST:PORT --plan FILE [--connections N] [--duration S] [--warmup S] [--max-requests N] [--once]");
    std::process::exit(2)
}

fn parse_plan(text: &str, host: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = raw.split('\t').collect();
        if f.len() < 5 {
            eprintln!(
                "plan line {}: expected label, weight, method, path, body",
                i + 1
            );
            std::process::exit(2);
        }
        let weight = f[1].parse().unwrap_or(1);
        let body = if f[4] == "-" { "" } else { f[4] };
        let mut req = format!("{} {} HTTP/1.1\r\nHost: {host}\r\n", f[2], f[3]);
        for h in &f[5..] {
            req.push_str(h);
            req.push_str("\r\n");
        }
        if f[2] != "GET" || !body.is_empty() {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        req.push_str(body);
        lines.push(Line {
            label: f[0].to_string(),
            weight,
            bytes: req.into_bytes(),
        });
    }
    lines
}

/// xorshift64*: enough to spread requests over the plan.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Reads one answer; returns its status and whether the server will close the connection.
fn read_response(r: &mut BufReader<TcpStream>) -> std::io::Result<(u16, bool)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "status line"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "content-length" => length = v.parse::<u64>().ok(),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "connection" => close = v.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let n = u64::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "chunk"))?;
            if n == 0 {
                // trailers end with an empty line
                loop {
                    line.clear();
                    r.read_line(&mut line)?;
                    if line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            std::io::copy(&mut r.by_ref().take(n + 2), &mut std::io::sink())?;
        }
    } else if let Some(n) = length {
        let got = std::io::copy(&mut r.by_ref().take(n), &mut std::io::sink())?;
        if got < n {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "body",
            ));
        }
    } else if status >= 200 && status != 204 && status != 304 {
        std::io::copy(r, &mut std::io::sink())?;
        close = true;
    }
    Ok((status, close))
}

fn connect(addr: &str) -> std::io::Result<(TcpStream, BufReader<TcpStream>)> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let r = BufReader::with_capacity(64 * 1024, s.try_clone()?);
    Ok((s, r))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut addr, mut plan, mut conns, mut duration, mut warmup, mut max) = (
        String::new(),
        String::new(),
        32usize,
        10.0f64,
        1.0f64,
        u64::MAX,
    );
    let mut once = false;
    while let Some(a) = args.next() {
        if a == "--once" {
            once = true;
            continue;
        }
        let v = args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--addr" => addr = v,
            "--plan" => plan = v,
            "--connections" => conns = v.parse().unwrap_or_else(|_| usage()),
            "--duration" => duration = v.parse().unwrap_or_else(|_| usage()),
            "--warmup" => warmup = v.parse().unwrap_or_else(|_| usage()),
            "--max-requests" => max = v.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if addr.is_empty() || plan.is_empty() || conns == 0 {
        usage();
    }
    let text = std::fs::read_to_string(&plan).unwrap_or_else(|e| {
        eprintln!("{plan}: {e}");
        std::process::exit(2)
    });
    let lines = Arc::new(parse_plan(&text, &addr));
    if lines.is_empty() {
        eprintln!("{plan}: no requests");
        std::process::exit(2);
    }
    let total_weight: u64 = lines.iter().map(|l| l.weight).sum();
    let tally = Arc::new(Mutex::new(Tally {
        ok: vec![0; lines.len()],
        ..Tally::default()
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let next_line = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup);
    let end = measure_from + Duration::from_secs_f64(duration);
    let mut handles = Vec::new();
    for c in 0..conns {
        let (lines, tally, stop, sent, addr, next_line) = (
            lines.clone(),
            tally.clone(),
            stop.clone(),
            sent.clone(),
            addr.clone(),
            next_line.clone(),
        );
        handles.push(std::thread::spawn(move || {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((c as u64 + 1) * 0x1000_0001));
            let mut local = Tally {
                ok: vec![0; lines.len()],
                ..Tally::default()
            };
            let mut conn = None;
            while !stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let measuring = now >= measure_from;
                if measuring && sent.fetch_add(1, Ordering::Relaxed) >= max {
                    break;
                }
                let i = if once {
                    let i = next_line.fetch_add(1, Ordering::Relaxed);
                    if i >= lines.len() {
                        break;
                    }
                    i
                } else {
                    let mut pick = rng.next() % total_weight;
                    let mut i = 0;
                    while pick >= lines[i].weight {
                        pick -= lines[i].weight;
                        i += 1;
                    }
                    i
                };
                let line = &lines[i];
                if conn.is_none() {
                    match connect(&addr) {
                        Ok(x) => conn = Some(x),
                        Err(_) => {
                            local.errors += 1;
                            std::thread::sleep(Duration::from_millis(10));
                            continue;
                        }
                    }
                }
                let Some((w, r)) = conn.as_mut() else {
                    continue;
                };
                let t = Instant::now();
                let res = w.write_all(&line.bytes).and_then(|_| read_response(r));
                let us = t.elapsed().as_micros() as u64;
                match res {
                    Ok((status, close)) => {
                        if measuring {
                            local
                                .latencies
                                .entry(line.label.clone())
                                .or_default()
                                .push(us);
                            *local.status.entry(status).or_default() += 1;
                        }
                        if (200..300).contains(&status) {
                            local.ok[i] += 1;
                        } else if local.samples.len() < 5 {
                            local.samples.push(format!("{} {}", status, line.label));
                        }
                        if close {
                            conn = None;
                        }
                    }
                    Err(_) => {
                        local.errors += 1;
                        conn = None;
                    }
                }
            }
            let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
            for (k, v) in local.latencies {
                t.latencies.entry(k).or_default().extend(v);
            }
            for (k, v) in local.status {
                *t.status.entry(k).or_default() += v;
            }
            t.errors += local.errors;
            for (a, b) in t.ok.iter_mut().zip(local.ok) {
                *a += b;
            }
            if t.samples.len() < 5 {
                t.samples.extend(local.samples);
            }
        }));
    }
    for h in handles {
        let _ = h.join();
    }
    let elapsed = Instant::now()
        .min(end)
        .saturating_duration_since(measure_from)
        .as_secs_f64()
        .max(1e-9);
    let t = tally.lock().unwrap_or_else(|e| e.into_inner());
    let mut all: Vec<u64> = t.latencies.values().flatten().copied().collect();
    let mut out = format!(
        "{{\"connections\":{conns},\"seconds\":{elapsed:.3},\"errors\":{},",
        t.errors
    );
    out.push_str(&format!("\"all\":{},", stats(&mut all, elapsed)));
    out.push_str("\"labels\":{");
    let mut first = true;
    for (k, v) in &t.latencies {
        let mut v = v.clone();
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&format!("{}:{}", quote(k), stats(&mut v, elapsed)));
    }
    out.push_str("},\"status\":{");
    let s: Vec<String> = t
        .status
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    out.push_str(&s.join(","));
    out.push_str("},\"ok_per_line\":[");
    let s: Vec<String> = t.ok.iter().map(|v| v.to_string()).collect();
    out.push_str(&s.join(","));
    out.push_str("],\"samples\":[");
    let s: Vec<String> = t.samples.iter().map(|v| quote(v)).collect();
    out.push_str(&s.join(","));
    out.push_str("]}");
    println!("{out}");
}

fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if (c as u32) < 0x20 => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn stats(v: &mut [u64], secs: f64) -> String {
    if v.is_empty() {
        return "{\"n\":0}".to_string();
    }
    v.sort_unstable();
    let pct = |p: f64| {
        let k = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v[k.min(v.len() - 1)] as f64 / 1000.0
    };
    let mean = v.iter().sum::<u64>() as f64 / v.len() as f64 / 1000.0;
    format!(
        "{{\"n\":{},\"rps\":{:.1},\"mean_ms\":{:.3},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
        v.len(),
        v.len() as f64 / secs,
        mean,
        pct(50.0),
        pct(90.0),
        pct(99.0),
        pct(100.0)
    )
}
