//! What the front does with the bytes a connection sent: pure, no sockets.
//!
//! A run of whole TOKEN requests at the head, of the epoch in force and with a count of
//! 1..=max, is answered here, exactly as the TypeScript fast path (src/sequencer/
//! token-run.ts) answers it: an OK answer per frame, its request id and epoch echoed,
//! the tokens taken in one go in frame order. The first whole frame that is anything
//! else goes to the state machine, whole, and the connection waits for its answer
//! (requests are answered in arrival order). A length field out of bounds is a protocol
//! error, found as soon as its four bytes are in.
//!
//! Wire (docs/protocol.md): a TOKEN request is 24 bytes (length 20, version 1, opcode 8,
//! flags 0, request id u32, epoch u64, count u32); its OK answer is 29 bytes (length 25,
//! version 1, opcode 0x88, flags 0, request id, epoch, status 0, first token u64).

use super::gate::Gate;
use crate::front::wire::{answer_header, request_epoch, u32_at, whole_frame, HEADER_BYTES, LENGTH_PREFIX_BYTES};
use crate::front::Next;

pub const TOKEN_OPCODE: u8 = 8;
pub const TOKEN_REQUEST_BYTES: usize = HEADER_BYTES + 4;
pub const TOKEN_ANSWER_BYTES: usize = HEADER_BYTES + 1 + 8;
pub const TOKEN_ANSWER_OPCODE: u8 = 0x80 | TOKEN_OPCODE;

/// Space a scan reuses from one call to the next: a run's counts and first tokens.
#[derive(Debug, Default)]
pub struct Scratch {
    pub counts: Vec<u32>,
    pub firsts: Vec<u64>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Scan {
    /// Bytes answered (whole TOKEN frames).
    pub consumed: usize,
    /// TOKEN frames answered.
    pub answered: usize,
    pub next: Next,
}

/// The epoch and count of the TOKEN request at the head of `b` if it is one this path
/// may answer (the gate then checks the epoch).
fn fast_token(b: &[u8], max_count: u32) -> Option<(u64, u32)> {
    if b.len() < TOKEN_REQUEST_BYTES || u32_at(b, 0) != (TOKEN_REQUEST_BYTES - LENGTH_PREFIX_BYTES) as u32 {
        return None;
    }
    let epoch = request_epoch(b, TOKEN_OPCODE)?;
    let n = u32_at(b, HEADER_BYTES);
    (1..=max_count).contains(&n).then_some((epoch, n))
}

/// Answers what it can at the head of `input` into `out`; `scratch` is reused space. A
/// run is the TOKENs of one epoch (the first's) in a row, checked against the gate's
/// under its lock.
pub fn scan(input: &[u8], gate: &Gate, max_count: u32, out: &mut Vec<u8>, scratch: &mut Scratch) -> Scan {
    let Scratch { counts, firsts } = scratch;
    let mut consumed = 0;
    let mut answered = 0;
    counts.clear();
    let mut at = 0;
    let mut epoch = None;
    while let Some((e, n)) = fast_token(&input[at..], max_count) {
        if *epoch.get_or_insert(e) != e {
            break;
        }
        counts.push(n);
        at += TOKEN_REQUEST_BYTES;
    }
    if let Some(epoch) = epoch {
        if !gate.take_run(epoch, counts, firsts) {
            firsts.clear();
        }
        for (i, first) in firsts.iter().enumerate() {
            let from = i * TOKEN_REQUEST_BYTES;
            write_answer(out, &input[from..from + HEADER_BYTES], *first);
        }
        consumed = firsts.len() * TOKEN_REQUEST_BYTES;
        answered = firsts.len();
        if firsts.len() < counts.len() {
            // Not the epoch in force, or the token space ends: the state machine answers.
            return Scan { consumed, answered, next: Next::Forward(TOKEN_REQUEST_BYTES) };
        }
    }
    let next = match whole_frame(&input[consumed..]) {
        Err(why) => Next::Malformed(why),
        Ok(None) => Next::Need,
        Ok(Some(len)) => Next::Forward(len),
    };
    Scan { consumed, answered, next }
}

/// An OK TOKEN answer to the request whose header is `head`.
fn write_answer(out: &mut Vec<u8>, head: &[u8], first: u64) {
    answer_header(out, head, TOKEN_ANSWER_BYTES - HEADER_BYTES);
    out.push(0);
    out.extend_from_slice(&first.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::wire::MAX_LENGTH_FIELD;

    fn token(id: u32, epoch: u64, n: u32) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&20u32.to_le_bytes());
        f.extend_from_slice(&[1, 8, 0, 0]);
        f.extend_from_slice(&id.to_le_bytes());
        f.extend_from_slice(&epoch.to_le_bytes());
        f.extend_from_slice(&n.to_le_bytes());
        f
    }

    fn run(input: &[u8], gate: &Gate) -> (Scan, Vec<u8>) {
        let mut out = Vec::new();
        let s = scan(input, gate, 65_536, &mut out, &mut Scratch::default());
        (s, out)
    }

    #[test]
    fn answers_a_run_and_stops_at_a_partial_frame() {
        let g = Gate::new(7, 100);
        let mut input = [token(1, 7, 1), token(2, 7, 3), token(3, 7, 1)].concat();
        input.truncate(input.len() - 5);
        let (s, out) = run(&input, &g);
        assert_eq!(s, Scan { consumed: 48, answered: 2, next: Next::Need });
        assert_eq!(out.len(), 2 * TOKEN_ANSWER_BYTES);
        assert_eq!(&out[..8], &[25, 0, 0, 0, 1, 0x88, 0, 0]);
        assert_eq!(&out[8..12], &1u32.to_le_bytes());
        assert_eq!(&out[12..20], &7u64.to_le_bytes());
        assert_eq!(out[20], 0);
        assert_eq!(&out[21..29], &100u64.to_le_bytes());
        assert_eq!(&out[29 + 21..29 + 29], &101u64.to_le_bytes());
        assert_eq!(g.peek(), 104);
    }

    #[test]
    fn forwards_the_first_frame_it_does_not_answer() {
        let g = Gate::new(7, 0);
        for (bad, why) in [
            (token(2, 6, 1), "wrong epoch"),
            (token(2, 7, 0), "count 0"),
            (token(2, 7, 65_537), "count too big"),
            (token(2, (1 << 53) + 7, 1), "unsafe epoch"),
        ] {
            let input = [token(1, 7, 1), bad, token(3, 7, 1)].concat();
            let (s, out) = run(&input, &g);
            assert_eq!(s, Scan { consumed: 24, answered: 1, next: Next::Forward(24) }, "{why}");
            assert_eq!(out.len(), TOKEN_ANSWER_BYTES);
        }
        let mut other = token(4, 7, 1);
        other[5] = 9; // PING with a body: not a TOKEN, whole, the state machine's
        let (s, _) = run(&other, &g);
        assert_eq!(s.next, Next::Forward(24));
    }

    #[test]
    fn a_closed_gate_forwards_tokens() {
        let g = Gate::new(7, 0);
        g.close_epoch();
        let (s, out) = run(&token(1, 7, 1), &g);
        assert_eq!(s, Scan { consumed: 0, answered: 0, next: Next::Forward(24) });
        assert!(out.is_empty());
    }

    #[test]
    fn a_bad_length_is_malformed_at_four_bytes() {
        let g = Gate::new(0, 0);
        let (s, _) = run(&(MAX_LENGTH_FIELD + 1).to_le_bytes(), &g);
        assert!(matches!(s.next, Next::Malformed(ref m) if m.contains("exceeds")));
        let (s, _) = run(&15u32.to_le_bytes(), &g);
        assert!(matches!(s.next, Next::Malformed(ref m) if m.contains("below")));
        let (s, _) = run(&16u32.to_le_bytes(), &g);
        assert_eq!(s.next, Next::Need);
    }
}
