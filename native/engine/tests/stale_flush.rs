//! A whole flush an earlier incarnation left beyond the point where recovery stopped. Its
//! writes were never durable in order (the flush before it was lost), so recovery stopped
//! short of it and the address it holds read as unwritten. A later incarnation writes
//! fewer pages there, and the next reopen scans past them onto the old flush: its
//! generation (older than the log's) must stop the scan, or the address would come back
//! written, with nobody having written it since.

mod common;

use common::{fresh_sim, open, payload, read, seen, write, Seen};
use corfu_engine::layout::{PageHeader, PAGE_BYTES};
use corfu_engine::SyncMode;

#[test]
fn a_whole_flush_of_an_earlier_incarnation_past_where_recovery_stopped_stays_dead() {
    let dev = fresh_sim(2 * 1024 * 1024, 9, 4096);
    let (data_start, format_id) = {
        let store = open(&dev, SyncMode::Always);
        (store.superblock().data_start as usize, store.superblock().format_id)
    };
    let region_before = dev.state.lock().unwrap().durable[data_start..].to_vec();
    // Incarnation 1: address 0 in one flush (page 0), address 1 in the next (page 1).
    {
        let mut store = open(&dev, SyncMode::Always);
        let epoch = store.superblock().epoch;
        write(&mut store, epoch, &[(0, payload(0, 1, 100))]);
        write(&mut store, epoch, &[(1, payload(1, 1, 100))]);
    }
    // Its power cut kept the second flush and lost the first: the data region as before,
    // but for page 1.
    {
        let mut s = dev.state.lock().unwrap();
        let page1 = s.durable[data_start + PAGE_BYTES..data_start + 2 * PAGE_BYTES].to_vec();
        let header = PageHeader::verify(format_id, &page1).expect("page 1 holds a flush");
        assert_eq!((header.seq, header.page_in_flush, header.flush_pages), (1, 0, 1));
        s.durable[data_start..].copy_from_slice(&region_before);
        s.durable[data_start + PAGE_BYTES..data_start + 2 * PAGE_BYTES].copy_from_slice(&page1);
    }
    // Incarnation 2: recovery stops at page 0; address 1 is unwritten. It writes address 0
    // anew: one flush, at page 0.
    {
        let mut store = open(&dev, SyncMode::Always);
        let epoch = store.superblock().epoch;
        assert_eq!(seen(&read(&mut store, epoch, &[1])), Seen::Unwritten);
        write(&mut store, epoch, &[(0, payload(0, 2, 100))]);
    }
    // Incarnation 3 scans page 0, then finds the whole old flush at page 1, of an older
    // generation.
    let mut store = open(&dev, SyncMode::Always);
    let epoch = store.superblock().epoch;
    assert_eq!(seen(&read(&mut store, epoch, &[0])), Seen::Data(payload(0, 2, 100)));
    assert_eq!(seen(&read(&mut store, epoch, &[1])), Seen::Unwritten, "the lost flush came back");
}
