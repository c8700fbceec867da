//! The frame header as the native fronts read it (docs/protocol.md, "Frame"): what
//! they need to find whole frames and answer the few requests they take themselves.

use crate::shared::WIRE_MAX_FRAME_BYTES;

pub const WIRE_VERSION: u8 = 1;
/// Length field, version, opcode, flags, request id, epoch.
pub const HEADER_BYTES: usize = 20;
pub const LENGTH_PREFIX_BYTES: usize = 4;
pub const MIN_LENGTH_FIELD: u32 = (HEADER_BYTES - LENGTH_PREFIX_BYTES) as u32;
pub const MAX_LENGTH_FIELD: u32 = (WIRE_MAX_FRAME_BYTES as usize - LENGTH_PREFIX_BYTES) as u32;
/// A u64 field's high 32 bits at most this: every u64 on the wire is a JavaScript safe integer.
pub const MAX_SAFE_HIGH: u32 = 0x1f_ffff;
/// A response's opcode is its request's with this bit set.
pub const RESPONSE_BIT: u8 = 0x80;

pub fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// The u64 at `at` if it is a safe integer (at most 2^53 - 1).
pub fn safe_u64_at(b: &[u8], at: usize) -> Option<u64> {
    let high = u32_at(b, at + 4);
    (high <= MAX_SAFE_HIGH).then(|| u64::from(high) << 32 | u64::from(u32_at(b, at)))
}

/// The epoch of the request at the head of `b` if it has this opcode, version 1, no flags
/// and a safe epoch (every request a front answers itself starts so); None otherwise.
pub fn request_epoch(b: &[u8], opcode: u8) -> Option<u64> {
    if b.len() < HEADER_BYTES || b[4] != WIRE_VERSION || b[5] != opcode || b[6] != 0 || b[7] != 0 {
        return None;
    }
    safe_u64_at(b, 12)
}

/// The whole frame at the head of `b`: Ok(Some(len)), Ok(None) when not all in yet, Err
/// when its length field is out of bounds.
pub fn whole_frame(b: &[u8]) -> Result<Option<usize>, String> {
    if b.len() < LENGTH_PREFIX_BYTES {
        return Ok(None);
    }
    let length = u32_at(b, 0);
    if length > MAX_LENGTH_FIELD {
        return Err(format!("frame length {length} exceeds the maximum {MAX_LENGTH_FIELD}"));
    }
    if length < MIN_LENGTH_FIELD {
        return Err(format!("frame length {length} is below the header's {MIN_LENGTH_FIELD}"));
    }
    let whole = length as usize + LENGTH_PREFIX_BYTES;
    Ok((b.len() >= whole).then_some(whole))
}

/// The header of an answer to the request whose header is `head`: `body_bytes` follow it.
/// Request id and epoch are echoed (docs/protocol.md: an answer carries the request's epoch).
pub fn answer_header(out: &mut Vec<u8>, head: &[u8], body_bytes: usize) {
    let length = (HEADER_BYTES - LENGTH_PREFIX_BYTES + body_bytes) as u32;
    out.extend_from_slice(&length.to_le_bytes());
    out.push(WIRE_VERSION);
    out.push(RESPONSE_BIT | head[5]);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&head[8..HEADER_BYTES]);
}
