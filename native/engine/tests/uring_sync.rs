//! The io_uring device's choice of sync on a real file: a synchronous batch with `sync`
//! runs a data sync; a synced flush is made durable by its own RWF_DSYNC writes unless an
//! unsynced write is outstanding, when it runs a data sync after them (`SyncCover`). A
//! power cut cannot be staged on a real file, so this checks the choice and the bytes;
//! what each choice keeps through a cut is the crash-testing device's (tests/sync_cover.rs
//! and the power-loss campaigns).

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;

use corfu_engine::aligned::AlignedBuf;
use corfu_engine::device::uring::UringDevice;
use corfu_engine::device::{Batch, Device, DeviceInfo, DeviceKind, WriteOp};

const BLOCK: usize = 4096;

fn block(byte: u8) -> AlignedBuf {
    let mut b = AlignedBuf::zeroed(BLOCK);
    b.fill(byte);
    b
}

#[test]
fn synced_flushes_sync_themselves_unless_an_unsynced_write_is_outstanding() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev.img");
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).custom_flags(libc::O_DIRECT).open(&path).unwrap();
    file.set_len(16 * BLOCK as u64).unwrap();
    let info = DeviceInfo { size_bytes: 16 * BLOCK as u64, logical_block_bytes: BLOCK as u32, kind: DeviceKind::File };
    let mut dev = UringDevice::new(file, info).unwrap();
    let bufs: Vec<AlignedBuf> = (1..=5).map(block).collect();
    let at = |i: usize| WriteOp { offset: (i * BLOCK) as u64, buf: &bufs[i] };

    dev.submit(Batch { reads: &mut [], writes: &[at(0)], sync: true }).unwrap();
    assert_eq!(dev.syncs(), (1, 0), "a synced batch runs a data sync");
    dev.submit(Batch { reads: &mut [], writes: &[at(1)], sync: false }).unwrap();
    assert_eq!(dev.syncs(), (1, 0), "an unsynced one does not");
    // SAFETY (each start_writes): the buffers outlive the test's tickets.
    let t = unsafe { dev.start_writes(&[at(2)], true) }.unwrap();
    dev.finish_writes(t).unwrap();
    assert_eq!(dev.syncs(), (2, 0), "after an unsynced write, a synced flush runs a data sync that covers it");
    let t = unsafe { dev.start_writes(&[at(3)], true) }.unwrap();
    let u = unsafe { dev.start_writes(&[at(4)], true) }.unwrap();
    dev.finish_writes(t).unwrap();
    dev.finish_writes(u).unwrap();
    assert_eq!(dev.syncs(), (2, 2), "with nothing unsynced, two synced flushes sync themselves");

    let mut back = AlignedBuf::zeroed(5 * BLOCK);
    dev.read_at(0, &mut back).unwrap();
    for (i, chunk) in back.chunks(BLOCK).enumerate() {
        assert!(chunk.iter().all(|&b| b == i as u8 + 1), "block {i} reads back what was written");
    }
}
