//! Opening a path as a unit's device: a block device or a regular file, O_DIRECT.
//! Every refusal is a typed error whose message says what to do.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use super::DeviceKind;
use crate::error::{EngineError, Result};

const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;
const BLKSSZGET: libc::c_ulong = 0x1268;
/// Regular files: 4 KiB satisfies O_DIRECT on every filesystem that supports it.
const FILE_ALIGN_BYTES: u32 = 4096;
const BUSY_RETRY_MS: u64 = 2000;

pub struct OpenedPath {
    pub file: File,
    pub kind: DeviceKind,
    pub size_bytes: u64,
    pub logical_block_bytes: u32,
    /// This open created the file (it did not exist before).
    pub created: bool,
}

pub enum Create {
    /// The path must exist.
    No,
    /// A regular file may be created, empty (format only: `size_file` gives it its size
    /// once format has checked what the file held).
    File,
}

fn is_mounted(path: &Path) -> bool {
    let Ok(canon) = std::fs::canonicalize(path) else { return false };
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else { return false };
    mounts.lines().any(|l| l.split_whitespace().next().and_then(|dev| std::fs::canonicalize(dev).ok()).is_some_and(|d| d == canon))
}

pub fn open_path(path: &Path, create: Create) -> Result<OpenedPath> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(EngineError::io(format!("cannot stat {shown}"), e)),
    };
    let is_block = meta.as_ref().is_some_and(|m| m.file_type().is_block_device());
    match (&meta, &create) {
        (None, Create::No) => {
            return Err(EngineError::NoDevice(format!("{shown} does not exist; give a block device, or pass --size to create a file")))
        }
        (Some(m), _) if !is_block && !m.file_type().is_file() => {
            return Err(EngineError::BadRequest(format!("{shown} is neither a block device nor a regular file")))
        }
        _ => {}
    }
    if is_block && is_mounted(path) {
        return Err(EngineError::DeviceBusy(format!("{shown} is mounted; unmount it first or pick another device")));
    }

    let mut opts = OpenOptions::new();
    opts.read(true).write(true);
    let mut flags = libc::O_DIRECT;
    if is_block {
        // Exclusive open: the kernel refuses it while the device is mounted or held by
        // another unit, so two units can never share one disk.
        flags |= libc::O_EXCL;
    } else if matches!(create, Create::File) {
        opts.create(true);
    }
    opts.custom_flags(flags);
    // After a unit is killed with I/O in flight, the kernel tears its io_uring down in
    // the background and the exclusive hold on the device lingers for milliseconds:
    // a restart retries briefly instead of failing. (A mount was refused above.)
    let mut attempt = opts.open(path);
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(BUSY_RETRY_MS);
    while is_block && matches!(&attempt, Err(e) if e.raw_os_error() == Some(libc::EBUSY)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
        attempt = opts.open(path);
    }
    let file = attempt.map_err(|e| match e.raw_os_error() {
        Some(libc::EBUSY) => EngineError::DeviceBusy(format!("{shown} is in use (mounted or opened by another unit)")),
        Some(libc::EINVAL) => EngineError::io(format!("{shown}: this filesystem does not support O_DIRECT"), e),
        _ => EngineError::io(format!("cannot open {shown}"), e),
    })?;

    if !is_block {
        // A unit owns its file: a second unit on the same file is refused.
        // SAFETY: plain flock on a valid fd.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(EngineError::DeviceBusy(format!("{shown} is locked by another unit")));
        }
    }

    let (size_bytes, logical_block_bytes) = if is_block {
        let mut size: u64 = 0;
        let mut lbs: libc::c_int = 0;
        // SAFETY: the ioctls write a u64 / an int into the pointers we pass.
        unsafe {
            if libc::ioctl(file.as_raw_fd(), BLKGETSIZE64, &mut size) != 0 {
                return Err(EngineError::io(format!("cannot size {shown}"), io::Error::last_os_error()));
            }
            if libc::ioctl(file.as_raw_fd(), BLKSSZGET, &mut lbs) != 0 {
                return Err(EngineError::io(format!("cannot get the block size of {shown}"), io::Error::last_os_error()));
            }
        }
        (size, lbs as u32)
    } else {
        let len = file.metadata().map_err(|e| EngineError::io(format!("cannot stat {shown}"), e))?.len();
        (len, FILE_ALIGN_BYTES)
    };
    if logical_block_bytes == 0 || logical_block_bytes as usize > crate::layout::PAGE_BYTES {
        return Err(EngineError::BadRequest(format!("{shown} has a logical block size of {logical_block_bytes} bytes; pages are 4096")));
    }
    Ok(OpenedPath {
        file,
        kind: if is_block { DeviceKind::Block } else { DeviceKind::File },
        size_bytes,
        logical_block_bytes,
        created: meta.is_none(),
    })
}

/// Sizes a unit's regular file to `size` bytes and reserves its blocks, so that a unit
/// never meets ENOSPC halfway through a flush. When the filesystem cannot hold it, the
/// file gets its old length back (a file this format created is removed): a refused
/// format must not leave the filesystem full.
pub fn size_file(path: &Path, file: &File, size: u64, created: bool) -> Result<()> {
    let shown = path.display();
    let old_len = file.metadata().map_err(|e| EngineError::io(format!("cannot stat {shown}"), e))?.len();
    let undo = || {
        if created {
            let _ = std::fs::remove_file(path);
        } else {
            let _ = file.set_len(old_len);
        }
    };
    if let Err(e) = file.set_len(size) {
        undo();
        return Err(EngineError::io(format!("cannot size {shown}"), e));
    }
    // SAFETY: fallocate on a valid fd.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, size as libc::off_t) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EOPNOTSUPP) {
            undo();
            return Err(EngineError::io(format!("cannot allocate {size} bytes for {shown}"), err));
        }
    }
    Ok(())
}
