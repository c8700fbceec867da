//! The client's side of the two requests an append sends (docs/protocol.md): TOKEN to the
//! sequencer and WRITE to each replica, and their answers. The fronts read requests and
//! write answers (front/wire.rs); this writes requests and reads answers.

use crate::front::wire::{safe_u64_at, u32_at, HEADER_BYTES, LENGTH_PREFIX_BYTES, RESPONSE_BIT, WIRE_VERSION};

pub const TOKEN_OPCODE: u8 = 8;
pub const WRITE_OPCODE: u8 = 1;
/// Per WRITE entry: address u64 and length u32.
const WRITE_DESCRIPTOR_BYTES: usize = 12;
pub const STATUS_OK: u8 = 0;
pub const STATUS_SEALED: u8 = 4;
pub const STATUS_OVERLOADED: u8 = 7;
pub const STATUS_IO: u8 = 8;

fn header(out: &mut Vec<u8>, opcode: u8, request_id: u32, epoch: u64, body_bytes: usize) {
    let length = (HEADER_BYTES - LENGTH_PREFIX_BYTES + body_bytes) as u32;
    out.extend_from_slice(&length.to_le_bytes());
    out.push(WIRE_VERSION);
    out.push(opcode);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&request_id.to_le_bytes());
    out.extend_from_slice(&epoch.to_le_bytes());
}

/// TOKEN(count) under `epoch`, appended to `out`.
pub fn token_request(out: &mut Vec<u8>, request_id: u32, epoch: u64, count: u32) {
    header(out, TOKEN_OPCODE, request_id, epoch, 4);
    out.extend_from_slice(&count.to_le_bytes());
}

/// WRITE of `entries` (address, payload) under `epoch`, appended to `out`.
pub fn write_request<'a>(out: &mut Vec<u8>, request_id: u32, epoch: u64, entries: impl Iterator<Item = (u64, &'a [u8])> + Clone) {
    let (n, payload_bytes) = entries.clone().fold((0usize, 0usize), |(n, b), (_, p)| (n + 1, b + p.len()));
    header(out, WRITE_OPCODE, request_id, epoch, 4 + WRITE_DESCRIPTOR_BYTES * n + payload_bytes);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    for (address, p) in entries.clone() {
        out.extend_from_slice(&address.to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
    }
    for (_, p) in entries {
        out.extend_from_slice(p);
    }
}

/// The bytes a WRITE of `n` entries with `payload_bytes` in all takes on the wire.
pub fn write_request_bytes(n: usize, payload_bytes: usize) -> usize {
    HEADER_BYTES + 4 + WRITE_DESCRIPTOR_BYTES * n + payload_bytes
}

/// An answer as an append needs it.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer<'a> {
    /// TOKEN OK: the first of the tokens asked for.
    Token { first: u64 },
    /// WRITE OK: each entry's status byte, in request order.
    Write { statuses: &'a [u8] },
    /// A whole-request error: its status byte and message.
    Error { status: u8, message: String },
}

/// The request id of the whole answer frame `f`, and what it says for a request of
/// `opcode`; Err names what is wrong with it (the connection is then not to be trusted).
pub fn answer(f: &[u8], opcode: u8) -> Result<(u32, Answer<'_>), String> {
    if f.len() < HEADER_BYTES + 1 {
        return Err(format!("a {}-byte answer frame, shorter than a header and a status", f.len()));
    }
    if f[4] != WIRE_VERSION || f[5] != RESPONSE_BIT | opcode {
        return Err(format!("an answer with version {} and opcode 0x{:02x} where 0x{:02x} was expected", f[4], f[5], RESPONSE_BIT | opcode));
    }
    let id = u32_at(f, 8);
    let body = &f[HEADER_BYTES..];
    let status = body[0];
    if status != STATUS_OK {
        // status, unitEpoch u64, message length u16, message
        if body.len() < 11 {
            return Err(format!("a {}-byte error answer body, shorter than its 11 fixed bytes", body.len()));
        }
        let len = u16::from_le_bytes([body[9], body[10]]) as usize;
        let message = body.get(11..11 + len).ok_or("an error answer shorter than its message")?;
        return Ok((id, Answer::Error { status, message: String::from_utf8_lossy(message).into_owned() }));
    }
    match opcode {
        TOKEN_OPCODE => {
            let first =
                (body.len() == 9).then(|| safe_u64_at(body, 1)).flatten().ok_or("a TOKEN answer that is not 9 bytes with a safe first token")?;
            Ok((id, Answer::Token { first }))
        }
        _ => {
            if body.len() < 5 {
                return Err("a WRITE answer shorter than its entry count".into());
            }
            let n = u32_at(body, 1) as usize;
            if body.len() != 5 + 2 * n {
                return Err(format!("a WRITE answer of {n} entries in {} bytes", body.len()));
            }
            Ok((id, Answer::Write { statuses: &body[5..5 + n] }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/protocol.md's example, byte for byte.
    #[test]
    fn writes_the_documented_write_example() {
        let mut out = Vec::new();
        let entries = [(7u64, &b"ab"[..]), (1u64 << 40, &b"c"[..])];
        write_request(&mut out, 0x0102_0304, (1u64 << 32) + 5, entries.iter().copied());
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "2f000000010100000403020105000000010000000200000007000000000000000200000000000000000100000100000061626\
3"
        );
        assert_eq!(out.len(), write_request_bytes(2, 3));
    }

    fn frame(opcode: u8, id: u32, body: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        header(&mut f, opcode, id, 9, body.len());
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn reads_token_write_and_error_answers() {
        let mut body = vec![0u8];
        body.extend_from_slice(&77u64.to_le_bytes());
        assert_eq!(answer(&frame(0x88, 5, &body), TOKEN_OPCODE).unwrap(), (5, Answer::Token { first: 77 }));
        assert_eq!(answer(&frame(0x81, 6, &[0, 2, 0, 0, 0, 0, 1, 0, 1]), WRITE_OPCODE).unwrap(), (6, Answer::Write { statuses: &[0, 1] }));
        let mut err = vec![STATUS_SEALED];
        err.extend_from_slice(&3u64.to_le_bytes());
        err.extend_from_slice(&2u16.to_le_bytes());
        err.extend_from_slice(b"no");
        assert_eq!(answer(&frame(0x81, 7, &err), WRITE_OPCODE).unwrap(), (7, Answer::Error { status: STATUS_SEALED, message: "no".into() }));
    }

    #[test]
    fn refuses_answers_that_do_not_add_up() {
        assert!(answer(&frame(0x88, 1, &[0, 1, 2]), TOKEN_OPCODE).is_err(), "a short TOKEN answer");
        assert!(answer(&frame(0x81, 1, &[0, 3, 0, 0, 0, 0]), WRITE_OPCODE).is_err(), "3 entries, 1 status byte");
        assert!(answer(&frame(0x82, 1, &[0, 0, 0, 0, 0]), WRITE_OPCODE).is_err(), "a READ answer to a WRITE");
        assert!(answer(&frame(0x81, 1, &[4, 0, 0]), WRITE_OPCODE).is_err(), "a cut error answer");
        let mut body = vec![0u8];
        body.extend_from_slice(&(1u64 << 53).to_le_bytes());
        assert!(answer(&frame(0x88, 1, &body), TOKEN_OPCODE).is_err(), "a token past 2^53");
    }
}
