//! A storage unit on a native front (crate::front): what is pure in it, no sockets and
//! no store. WRITE and READ, the unit's hot requests, are read here and answered by the
//! store's threads straight to the connection (WRITE by the I/O thread, READ by the read
//! service's); every other frame goes to the TypeScript server (src/unit/front.ts),
//! which answers it as it always has.
//!
//! Only a request this path can answer exactly as the TypeScript server would is taken:
//! a well-formed frame (docs/protocol.md, WRITE and READ), a WRITE's addresses all at
//! most `MAX_ADDRESS`. Anything else — a malformed frame, an address the unit refuses,
//! any other opcode, a response sent to a unit — is forwarded whole, and the TypeScript
//! decoder decides (answer, or close the connection saying why). So the malformed-input
//! rules stay in one place.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Code, EngineError};
use crate::front::wire::{answer_header, request_epoch, safe_u64_at, u32_at, HEADER_BYTES};
use crate::store::{ReadOutcome, WriteOutcome, MAX_ADDRESS};

pub const WRITE_OPCODE: u8 = 1;
pub const READ_OPCODE: u8 = 2;
/// Entries in one WRITE: 1 ..= this (docs/protocol.md, "Limits").
pub const MAX_ENTRIES: usize = 65_536;
/// Bytes per entry descriptor: address u64, length u32.
const DESCRIPTOR_BYTES: usize = 12;
/// An error message is cut at this many bytes (on a character boundary), as the
/// TypeScript encoder cuts it.
const MAX_MESSAGE_BYTES: usize = 65_535;

/// A WRITE this path takes: where its parts are in the frame.
#[derive(Debug, PartialEq, Eq)]
pub struct WriteFrame {
    pub epoch: u64,
    pub addresses: Vec<u64>,
    pub lengths: Vec<u32>,
    /// The payloads, back to back, within the frame.
    pub payloads: Range<usize>,
}

/// The epoch and entry count (1..=MAX_ENTRIES) of a vectored request with this opcode.
fn vectored(frame: &[u8], opcode: u8) -> Option<(u64, usize)> {
    let epoch = request_epoch(frame, opcode)?;
    let n = u32_at(frame.get(..HEADER_BYTES + 4)?, HEADER_BYTES) as usize;
    (1..=MAX_ENTRIES).contains(&n).then_some((epoch, n))
}

/// `frame` (one whole frame) as a WRITE this path may answer, or None: the TypeScript
/// server's then.
pub fn parse_write(frame: &[u8]) -> Option<WriteFrame> {
    let (epoch, n) = vectored(frame, WRITE_OPCODE)?;
    let descriptors = HEADER_BYTES + 4;
    if frame.len() < descriptors + n * DESCRIPTOR_BYTES {
        return None;
    }
    let mut addresses = Vec::with_capacity(n);
    let mut lengths = Vec::with_capacity(n);
    let mut total: usize = 0;
    for i in 0..n {
        let at = descriptors + i * DESCRIPTOR_BYTES;
        let address = safe_u64_at(frame, at)?;
        if address > MAX_ADDRESS {
            return None;
        }
        let length = u32_at(frame, at + 8);
        addresses.push(address);
        lengths.push(length);
        total += length as usize;
    }
    let start = descriptors + n * DESCRIPTOR_BYTES;
    (frame.len() - start == total).then_some(WriteFrame { epoch, addresses, lengths, payloads: start..frame.len() })
}

/// A READ this path takes: its epoch and addresses.
#[derive(Debug, PartialEq, Eq)]
pub struct ReadFrame {
    pub epoch: u64,
    pub addresses: Vec<u64>,
}

/// `frame` (one whole frame) as a READ this path may answer, or None.
pub fn parse_read(frame: &[u8]) -> Option<ReadFrame> {
    let (epoch, n) = vectored(frame, READ_OPCODE)?;
    if frame.len() != HEADER_BYTES + 4 + 8 * n {
        return None;
    }
    let addresses = (0..n).map(|i| safe_u64_at(frame, HEADER_BYTES + 4 + 8 * i)).collect::<Option<Vec<u64>>>()?;
    Some(ReadFrame { epoch, addresses })
}

/// The answer to the READ whose header is `head`, as the TypeScript server encodes it:
/// statuses, kinds (the engine's bytes are the wire's: 0 none, 1 data, 2 junk), lengths,
/// then the payloads; or the whole-request error.
pub fn read_answer(out: &mut Vec<u8>, head: &[u8], result: &Result<ReadOutcome, EngineError>) {
    match result {
        Ok(o) => {
            let n = o.status.len();
            debug_assert!(o.kinds.len() == n && o.lengths.len() == n);
            debug_assert_eq!(o.lengths.iter().map(|&l| l as usize).sum::<usize>(), o.data.len());
            answer_header(out, head, 1 + 4 + 6 * n + o.data.len());
            out.push(Code::Ok as u8);
            out.extend_from_slice(&(n as u32).to_le_bytes());
            out.extend_from_slice(&o.status);
            out.extend_from_slice(&o.kinds);
            for l in &o.lengths {
                out.extend_from_slice(&l.to_le_bytes());
            }
            out.extend_from_slice(&o.data);
        }
        Err(e) => error_answer(out, head, e),
    }
}

/// The answer to the WRITE whose header is `head`, as the TypeScript server encodes it:
/// statuses and `written` bytes, or the whole-request error (ERR_SEALED with the unit's
/// epoch) with the engine's message.
pub fn write_answer(out: &mut Vec<u8>, head: &[u8], result: &Result<WriteOutcome, EngineError>) {
    match result {
        Ok(o) => {
            let n = o.status.len();
            debug_assert_eq!(o.written.len(), n);
            answer_header(out, head, 1 + 4 + 2 * n);
            out.push(Code::Ok as u8);
            out.extend_from_slice(&(n as u32).to_le_bytes());
            out.extend_from_slice(&o.status);
            out.extend_from_slice(&o.written);
        }
        Err(e) => error_answer(out, head, e),
    }
}

/// A whole-request error answer to the request whose header is `head`.
pub fn error_answer(out: &mut Vec<u8>, head: &[u8], e: &EngineError) {
    let text = e.to_string();
    let mut cut = text.len().min(MAX_MESSAGE_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let message = &text.as_bytes()[..cut];
    let unit_epoch = match e {
        EngineError::Sealed { unit_epoch, .. } => *unit_epoch,
        _ => 0,
    };
    answer_header(out, head, 1 + 8 + 2 + message.len());
    out.push(e.code() as u8);
    out.extend_from_slice(&unit_epoch.to_le_bytes());
    out.extend_from_slice(&(message.len() as u16).to_le_bytes());
    out.extend_from_slice(message);
}

/// Error codes that fit a status byte (docs/protocol.md, "Error codes").
pub const CODES: usize = 24;

/// What the WRITEs (or the READs) answered by this path add to the unit's metrics, read at
/// scrape time (src/admin/unit.ts): the same counters and latency histogram the TypeScript
/// server's answers feed. Written by the store's threads; read by the JS thread.
pub struct OpMetrics {
    pub requests: AtomicU64,
    pub entries: AtomicU64,
    pub payload_bytes: AtomicU64,
    /// Whole-request errors by code.
    pub request_errors: [AtomicU64; CODES],
    /// Entries answered with a non-OK status, by code.
    pub entry_errors: [AtomicU64; CODES],
    /// Latency bucket upper bounds, in nanoseconds (a histogram's `le`), ascending.
    bounds_ns: Vec<u64>,
    /// Observations at or below each bound (not cumulative), the last one past them all.
    buckets: Vec<AtomicU64>,
    pub latency_sum_ns: AtomicU64,
}

impl OpMetrics {
    pub fn new(bounds_ns: Vec<u64>) -> OpMetrics {
        assert!(bounds_ns.windows(2).all(|w| w[0] < w[1]), "latency bounds must ascend");
        let buckets = (0..=bounds_ns.len()).map(|_| AtomicU64::new(0)).collect();
        OpMetrics {
            requests: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            payload_bytes: AtomicU64::new(0),
            request_errors: std::array::from_fn(|_| AtomicU64::new(0)),
            entry_errors: std::array::from_fn(|_| AtomicU64::new(0)),
            bounds_ns,
            buckets,
            latency_sum_ns: AtomicU64::new(0),
        }
    }

    /// One answered request of `entries` entries: its entry statuses and `payload_bytes`
    /// (a WRITE's payloads, a READ's data answered), or its whole-request error, after
    /// `latency_ns`. As the TypeScript metrics: a refused request counts only as a request
    /// and its error.
    pub fn record(&self, entries: usize, payload_bytes: usize, result: Result<&[u8], &EngineError>, latency_ns: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match result {
            Err(e) => {
                self.request_errors[e.code() as usize].fetch_add(1, Ordering::Relaxed);
            }
            Ok(statuses) => {
                self.entries.fetch_add(entries as u64, Ordering::Relaxed);
                self.payload_bytes.fetch_add(payload_bytes as u64, Ordering::Relaxed);
                for &s in statuses {
                    if s != 0 {
                        self.entry_errors[usize::from(s).min(CODES - 1)].fetch_add(1, Ordering::Relaxed);
                    }
                }
                let bucket = self.bounds_ns.partition_point(|&b| b < latency_ns);
                self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
                self.latency_sum_ns.fetch_add(latency_ns, Ordering::Relaxed);
            }
        }
    }

    /// Observations per bucket (not cumulative), the last past every bound.
    pub fn buckets(&self) -> Vec<u64> {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(id: u32, epoch: u64, entries: &[(u64, &[u8])]) -> Vec<u8> {
        let body: usize = 4 + entries.iter().map(|(_, p)| 12 + p.len()).sum::<usize>();
        let mut f = Vec::new();
        f.extend_from_slice(&((16 + body) as u32).to_le_bytes());
        f.extend_from_slice(&[1, 1, 0, 0]);
        f.extend_from_slice(&id.to_le_bytes());
        f.extend_from_slice(&epoch.to_le_bytes());
        f.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for (a, p) in entries {
            f.extend_from_slice(&a.to_le_bytes());
            f.extend_from_slice(&(p.len() as u32).to_le_bytes());
        }
        for (_, p) in entries {
            f.extend_from_slice(p);
        }
        f
    }

    #[test]
    fn takes_a_well_formed_write() {
        let f = write(9, 3, &[(10, b"ab"), (11, b""), (12, b"xyz")]);
        let w = parse_write(&f).expect("taken");
        assert_eq!(w.epoch, 3);
        assert_eq!(w.addresses, vec![10, 11, 12]);
        assert_eq!(w.lengths, vec![2, 0, 3]);
        assert_eq!(&f[w.payloads], b"abxyz");
    }

    #[test]
    fn leaves_anything_odd_to_the_typescript_server() {
        let good = write(1, 1, &[(5, b"p")]);
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut f = good.clone();
        f[4] = 2;
        cases.push(("version", f));
        let mut f = good.clone();
        f[5] = 2;
        cases.push(("opcode READ", f));
        let mut f = good.clone();
        f[5] = 0x81;
        cases.push(("a response", f));
        let mut f = good.clone();
        f[6] = 1;
        cases.push(("flags", f));
        let mut f = good.clone();
        f[19] = 0x80;
        cases.push(("epoch above 2^53 - 1", f));
        cases.push(("address 2^53 - 1", write(1, 1, &[((1 << 53) - 1, b"p")])));
        let mut f = good.clone();
        f[20..24].copy_from_slice(&0u32.to_le_bytes());
        cases.push(("no entries", f));
        let mut f = good.clone();
        f[32] = 2;
        cases.push(("lengths past the frame", f));
        let mut f = good.clone();
        f.push(0);
        cases.push(("bytes after the payloads", f));
        cases.push(("short", good[..22].to_vec()));
        for (why, f) in cases {
            assert_eq!(parse_write(&f), None, "{why}");
        }
    }

    #[test]
    fn answers_as_the_typescript_encoder() {
        let head = write(7, 5, &[(1, b"a")]);
        let mut out = Vec::new();
        write_answer(&mut out, &head[..HEADER_BYTES], &Ok(WriteOutcome { status: vec![0, 1], written: vec![0, 2] }));
        let mut want = vec![25, 0, 0, 0, 1, 0x81, 0, 0, 7, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(&[0, 2, 0, 0, 0, 0, 1, 0, 2]);
        assert_eq!(out, want);

        out.clear();
        write_answer(&mut out, &head[..HEADER_BYTES], &Err(EngineError::Sealed { unit_epoch: 9, request_epoch: 5 }));
        let message = b"unit is at epoch 9, request carried 5";
        assert_eq!(u32_at(&out, 0) as usize, 16 + 11 + message.len());
        assert_eq!(out[20], Code::Sealed as u8);
        assert_eq!(&out[21..29], &9u64.to_le_bytes());
        assert_eq!(&out[29..31], &(message.len() as u16).to_le_bytes());
        assert_eq!(&out[31..], message);
    }

    #[test]
    fn takes_a_well_formed_read_and_answers_it_as_the_typescript_encoder() {
        let mut f = Vec::new();
        f.extend_from_slice(&(16u32 + 4 + 16).to_le_bytes());
        f.extend_from_slice(&[1, 2, 0, 0]);
        f.extend_from_slice(&4u32.to_le_bytes());
        f.extend_from_slice(&6u64.to_le_bytes());
        f.extend_from_slice(&2u32.to_le_bytes());
        f.extend_from_slice(&7u64.to_le_bytes());
        f.extend_from_slice(&9u64.to_le_bytes());
        assert_eq!(parse_read(&f), Some(ReadFrame { epoch: 6, addresses: vec![7, 9] }));
        let mut longer = f.clone();
        longer.push(0);
        assert_eq!(parse_read(&longer), None, "a body longer than its layout");
        let mut unsafe_address = f.clone();
        unsafe_address[39] = 0x20;
        assert_eq!(parse_read(&unsafe_address), None, "an address above 2^53 - 1");

        let mut out = Vec::new();
        let o = ReadOutcome { status: vec![0, 2], kinds: vec![1, 0], lengths: vec![3, 0], data: b"abc".to_vec() };
        read_answer(&mut out, &f[..HEADER_BYTES], &Ok(o));
        let mut want = vec![16 + 5 + 12 + 3, 0, 0, 0, 1, 0x82, 0, 0, 4, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(&[0, 2, 0, 0, 0, 0, 2, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(b"abc");
        assert_eq!(out, want);
    }

    #[test]
    fn metrics_count_as_the_typescript_observer() {
        let m = OpMetrics::new(vec![1_000, 1_000_000]);
        m.record(2, 10, Ok(&[0, 1]), 500);
        m.record(1, 4, Ok(&[0]), 1_000);
        m.record(1, 4, Ok(&[0]), 2_000_000);
        m.record(3, 9, Err(&EngineError::Sealed { unit_epoch: 2, request_epoch: 1 }), 50);
        assert_eq!(m.requests.load(Ordering::Relaxed), 4);
        assert_eq!(m.entries.load(Ordering::Relaxed), 4);
        assert_eq!(m.payload_bytes.load(Ordering::Relaxed), 18);
        assert_eq!(m.entry_errors[Code::Written as usize].load(Ordering::Relaxed), 1);
        assert_eq!(m.request_errors[Code::Sealed as usize].load(Ordering::Relaxed), 1);
        // A bound is inclusive (Prometheus's `le`).
        assert_eq!(m.buckets(), vec![2, 0, 1]);
        assert_eq!(m.latency_sum_ns.load(Ordering::Relaxed), 2_001_500);
    }
}
