//! The flush being built: records packed into a run of new pages, in an aligned buffer
//! that goes to the device in one write (two if it wraps the circle).

use crate::aligned::AlignedBuf;
use crate::layout::{
    pages_for_stream, PageHeader, RecordHeader, RecordKind, MAX_FLUSH_PAGES, PAGE_BODY_BYTES, PAGE_BYTES, PAGE_HEADER_BYTES, RECORD_HEADER_BYTES,
};

pub struct FlushBuilder {
    buf: AlignedBuf,
    /// Page sequence number of the first page of this flush.
    pub start_seq: u64,
    /// Bytes of the record stream used so far.
    pub stream_len: usize,
    /// Highest address recorded in this flush: the head may pass it once trimmed.
    pub max_addr: Option<u64>,
    pub records: usize,
}

pub const MAX_STREAM_BYTES: usize = MAX_FLUSH_PAGES * PAGE_BODY_BYTES;
/// What `seal` copies over the unused end of a flush's last page (less than a page body).
static ZEROS: [u8; PAGE_BODY_BYTES] = [0; PAGE_BODY_BYTES];
/// Records in one flush at most: bounds the summary a round can add to.
pub const MAX_FLUSH_RECORDS: usize = 16 * 1024;

/// Copies `src` into a stream laid over `pages` (page headers skipped), starting at `s`.
pub fn stream_write(pages: &mut [u8], mut s: usize, mut src: &[u8]) {
    while !src.is_empty() {
        let (page, in_page) = (s / PAGE_BODY_BYTES, s % PAGE_BODY_BYTES);
        let n = src.len().min(PAGE_BODY_BYTES - in_page);
        let at = page * PAGE_BYTES + PAGE_HEADER_BYTES + in_page;
        pages[at..at + n].copy_from_slice(&src[..n]);
        src = &src[n..];
        s += n;
    }
}

/// Copies stream bytes `[s, s + out.len())` out of `pages`.
pub fn stream_read(pages: &[u8], mut s: usize, mut out: &mut [u8]) {
    while !out.is_empty() {
        let (page, in_page) = (s / PAGE_BODY_BYTES, s % PAGE_BODY_BYTES);
        let n = out.len().min(PAGE_BODY_BYTES - in_page);
        let at = page * PAGE_BYTES + PAGE_HEADER_BYTES + in_page;
        out[..n].copy_from_slice(&pages[at..at + n]);
        out = &mut out[n..];
        s += n;
    }
}

impl FlushBuilder {
    pub fn new(start_seq: u64) -> Self {
        FlushBuilder { buf: AlignedBuf::zeroed(MAX_FLUSH_PAGES * PAGE_BYTES), start_seq, stream_len: 0, max_addr: None, records: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    pub fn pages(&self) -> usize {
        pages_for_stream(self.stream_len)
    }

    /// Pages the flush would need with one more record of `payload_bytes`.
    pub fn pages_with(&self, payload_bytes: usize) -> usize {
        pages_for_stream(self.stream_len + RECORD_HEADER_BYTES + payload_bytes)
    }

    pub fn fits(&self, payload_bytes: usize) -> bool {
        self.records < MAX_FLUSH_RECORDS && self.stream_len + RECORD_HEADER_BYTES + payload_bytes <= MAX_STREAM_BYTES
    }

    /// Appends a record; returns its stream offset.
    pub fn push(&mut self, header: &RecordHeader, payload: &[u8]) -> usize {
        assert!(self.fits(payload.len()), "caller checks fits() first");
        assert_eq!(header.length as usize, payload.len());
        let s = self.stream_len;
        stream_write(&mut self.buf, s, &header.encode());
        stream_write(&mut self.buf, s + RECORD_HEADER_BYTES, payload);
        self.stream_len += RECORD_HEADER_BYTES + payload.len();
        if !matches!(header.kind, RecordKind::Summary | RecordKind::Checkpoint) {
            self.max_addr = Some(self.max_addr.map_or(header.address, |m| m.max(header.address)));
        }
        self.records += 1;
        s
    }

    /// Payload bytes of a record staged at stream offset `s`.
    pub fn payload(&self, s: usize, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        stream_read(&self.buf, s + RECORD_HEADER_BYTES, &mut out);
        out
    }

    /// Seals every page (header + checksum) and returns the bytes to write.
    pub fn seal(&mut self, generation: u64, format_id: u64) -> &[u8] {
        let n = self.pages();
        assert!((1..=MAX_FLUSH_PAGES).contains(&n));
        // The parser stops at the first zero record kind: the stream past the last record,
        // to the end of the last page, must be zero. Zeroed here, not at reset: clearing
        // every used page after each round cost about a tenth of the I/O thread's time
        // (perf, 16-page rounds), and only the last page's tail needs it.
        let tail = self.stream_len..n * PAGE_BODY_BYTES;
        if !tail.is_empty() {
            stream_write(&mut self.buf, tail.start, &ZEROS[..tail.len()]);
        }
        for i in 0..n {
            let h = PageHeader { seq: self.start_seq + i as u64, generation, flush_pages: n as u32, page_in_flush: i as u32 };
            h.seal_page(format_id, &mut self.buf[i * PAGE_BYTES..(i + 1) * PAGE_BYTES]);
        }
        &self.buf[..n * PAGE_BYTES]
    }

    /// Starts the next flush at `start_seq`. The old bytes stay: `push` overwrites them and
    /// `seal` zeroes what follows the last record.
    pub fn reset(&mut self, start_seq: u64) {
        self.start_seq = start_seq;
        self.stream_len = 0;
        self.max_addr = None;
        self.records = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_crosses_page_boundaries() {
        let mut pages = vec![0u8; 3 * PAGE_BYTES];
        let data: Vec<u8> = (0..6000u32).map(|i| i as u8).collect();
        stream_write(&mut pages, 4000, &data);
        let mut back = vec![0u8; 6000];
        stream_read(&pages, 4000, &mut back);
        assert_eq!(back, data);
        // Headers stay untouched.
        assert!(pages[PAGE_BYTES..PAGE_BYTES + PAGE_HEADER_BYTES].iter().all(|&b| b == 0));
    }

    /// A flush reuses its buffer: what a longer earlier flush left past the new last record
    /// must read as zero (the parser's end of stream), or recovery would parse old bytes.
    #[test]
    fn sealed_flush_is_zero_past_its_last_record() {
        let mut f = FlushBuilder::new(0);
        let long = vec![0xabu8; 3 * PAGE_BODY_BYTES];
        f.push(&RecordHeader::new(7, RecordKind::Data, &long), &long);
        f.seal(1, 9);
        f.reset(f.pages() as u64);
        let short = vec![0xcdu8; 100];
        f.push(&RecordHeader::new(8, RecordKind::Data, &short), &short);
        let end = f.stream_len;
        let pages = f.seal(1, 9).to_vec();
        assert_eq!(pages.len(), PAGE_BYTES);
        let mut rest = vec![0xffu8; PAGE_BODY_BYTES - end];
        stream_read(&pages, end, &mut rest);
        assert!(rest.iter().all(|&b| b == 0), "stale bytes after the last record");
        let mut back = vec![0u8; 100];
        stream_read(&pages, RECORD_HEADER_BYTES, &mut back);
        assert_eq!(back, short);
    }
}
