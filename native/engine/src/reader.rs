//! Reading records back: one aligned read per record (two if it wraps the circle), all
//! of a round's reads in one submission, then verification of every header and checksum.

use crate::aligned::AlignedBuf;
use crate::device::ReadOp;
use crate::index::Slot;
use crate::layout::{RecordHeader, RecordKind, PAGE_BODY_BYTES, PAGE_BYTES, PAGE_HEADER_BYTES, RECORD_HEADER_BYTES};

#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    pub data_start: u64,
    pub data_pages: u64,
    pub logical_block_bytes: u64,
}

impl Geometry {
    pub fn of(sb: &crate::layout::Superblock, logical_block_bytes: u32) -> Self {
        Geometry { data_start: sb.data_start, data_pages: sb.data_pages, logical_block_bytes: logical_block_bytes as u64 }
    }

    fn page_offset(&self, pos: u64) -> u64 {
        self.data_start + pos * PAGE_BYTES as u64
    }
}

#[derive(Clone, Copy, Debug)]
struct Segment {
    disk: u64,
    buf_at: usize,
    len: usize,
}

struct Job {
    address: u64,
    slot: Slot,
    segments: [Option<Segment>; 2],
}

#[derive(Default)]
pub struct RecordReads {
    jobs: Vec<Job>,
    buf: Option<AlignedBuf>,
    total: usize,
}

fn align_down(x: u64, a: u64) -> u64 {
    x / a * a
}
fn align_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

/// Pages a record starting at body offset `off` with `len` payload bytes spans.
fn pages_spanned(off: usize, len: usize) -> u64 {
    (off + RECORD_HEADER_BYTES + len).div_ceil(PAGE_BODY_BYTES) as u64
}

impl RecordReads {
    /// Queues a read; returns its job number.
    pub fn add(&mut self, geo: &Geometry, address: u64, slot: Slot) -> usize {
        let (pos, off) = (slot.pos as u64, slot.off as usize);
        let k = pages_spanned(off, slot.len as usize);
        let mut segments = [None, None];
        if pos + k <= geo.data_pages {
            let end_in_last = off + RECORD_HEADER_BYTES + slot.len as usize - (k as usize - 1) * PAGE_BODY_BYTES;
            let lo = align_down(geo.page_offset(pos) + (PAGE_HEADER_BYTES + off) as u64, geo.logical_block_bytes);
            let hi = align_up(geo.page_offset(pos + k - 1) + (PAGE_HEADER_BYTES + end_in_last) as u64, geo.logical_block_bytes);
            segments[0] = Some(Segment { disk: lo, buf_at: self.total, len: (hi - lo) as usize });
            self.total += (hi - lo) as usize;
        } else {
            // Wraps the circle: whole pages on both sides (rare, so kept simple).
            let first = geo.data_pages - pos;
            let a = Segment { disk: geo.page_offset(pos), buf_at: self.total, len: first as usize * PAGE_BYTES };
            self.total += a.len;
            let b = Segment { disk: geo.page_offset(0), buf_at: self.total, len: (k - first) as usize * PAGE_BYTES };
            self.total += b.len;
            segments = [Some(a), Some(b)];
        }
        self.jobs.push(Job { address, slot, segments });
        self.jobs.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The read ops over one buffer for all queued jobs.
    pub fn ops(&mut self) -> Vec<ReadOp<'_>> {
        if self.jobs.is_empty() {
            return Vec::new();
        }
        let buf = self.buf.insert(AlignedBuf::zeroed(self.total));
        let mut ops = Vec::with_capacity(self.jobs.len());
        let mut rest: &mut [u8] = buf;
        for job in &self.jobs {
            for seg in job.segments.iter().flatten() {
                let (head, tail) = rest.split_at_mut(seg.len);
                ops.push(ReadOp { offset: seg.disk, buf: head });
                rest = tail;
            }
        }
        ops
    }

    /// The verified payload of job `j`; `None` if the bytes on the device do not match
    /// what the index says is there (damage, or a page reused after a trim).
    pub fn payload(&self, geo: &Geometry, j: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.payload_into(geo, j, &mut out).then_some(out)
    }

    /// Appends the verified payload of job `j` to `out` (nothing on failure).
    pub fn payload_into(&self, geo: &Geometry, j: usize, out: &mut Vec<u8>) -> bool {
        let job = &self.jobs[j];
        let buf = self.buf.as_ref().expect("ops() ran");
        let (off, len) = (job.slot.off as usize, job.slot.len as usize);
        let total = RECORD_HEADER_BYTES + len;
        let k = pages_spanned(off, len);
        let start = out.len();
        out.reserve(len);
        let mut header = [0u8; RECORD_HEADER_BYTES];
        let mut s = 0usize; // position in the record stream
        for p_i in 0..k as usize {
            let p = (job.slot.pos as u64 + p_i as u64) % geo.data_pages;
            let from = if p_i == 0 { off } else { 0 };
            let to = PAGE_BODY_BYTES.min(off + total - p_i * PAGE_BODY_BYTES);
            let disk = geo.page_offset(p) + (PAGE_HEADER_BYTES + from) as u64;
            let n = to - from;
            let Some(seg) = job.segments.iter().flatten().find(|sg| disk >= sg.disk && disk + n as u64 <= sg.disk + sg.len as u64) else {
                out.truncate(start);
                return false;
            };
            let at = seg.buf_at + (disk - seg.disk) as usize;
            let mut piece = &buf[at..at + n];
            if s < RECORD_HEADER_BYTES {
                let h = (RECORD_HEADER_BYTES - s).min(piece.len());
                header[s..s + h].copy_from_slice(&piece[..h]);
                piece = &piece[h..];
                s += h;
            }
            out.extend_from_slice(piece);
            s += piece.len();
        }
        debug_assert_eq!(s, total);
        let ok = RecordHeader::decode(&header).is_some_and(|h| {
            matches!(h.kind, RecordKind::Data | RecordKind::Junk | RecordKind::Summary)
                && h.address == job.address
                && h.length as usize == len
                && h.compute_crc(&out[start..]) == h.crc
        });
        if !ok {
            out.truncate(start);
        }
        ok
    }
}
