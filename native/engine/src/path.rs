//! The engine on a path: format, inspect and open a block device or a file.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::device::open::{open_path, size_file, Create};
use crate::device::uring::UringDevice;
use crate::device::{DeviceInfo, DeviceKind};
use crate::error::{EngineError, Result};
use crate::layout::{Superblock, DEFAULT_MAX_ENTRY_BYTES, MIN_DEVICE_BYTES, PAGE_BYTES, SUPERBLOCK_BYTES};
use crate::store::{format, read_superblock, refuse_formatted, FormatOptions, Store, SyncMode};

pub struct FormatRequest {
    /// Create (or resize) a regular file of this size; for a block device, use only
    /// this many bytes of it. `None`: the whole existing device or file.
    pub size_bytes: Option<u64>,
    pub max_entry_bytes: Option<u32>,
    pub cluster_id: Option<[u8; 16]>,
    pub unit_id: u64,
    pub force: bool,
    /// Write zeros over a regular file before formatting it. A file's blocks are reserved
    /// with fallocate, as unwritten extents: the first write to each block makes its
    /// fdatasync commit the filesystem's journal as well (fio on ext4 here: 214 µs per
    /// sync against 43 µs on written blocks), until the log has gone once around the
    /// device. Zeroing pays that once, at format. A block device has no such extents.
    pub zero: bool,
}

pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom fills the buffer we own.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), 8, 0) };
    assert_eq!(n, 8, "getrandom failed");
    u64::from_le_bytes(b)
}

fn device_for(path: &Path, create: Create) -> Result<(UringDevice, DeviceKind, bool)> {
    let opened = open_path(path, create)?;
    let info = DeviceInfo { size_bytes: opened.size_bytes, logical_block_bytes: opened.logical_block_bytes, kind: opened.kind };
    let dev = UringDevice::new(opened.file, info).map_err(|e| EngineError::io("cannot set up io_uring", e))?;
    Ok((dev, opened.kind, opened.created))
}

pub fn format_path(path: &Path, req: &FormatRequest) -> Result<Superblock> {
    let file_size = match req.size_bytes {
        Some(size) if size < MIN_DEVICE_BYTES => {
            return Err(EngineError::DeviceTooSmall(format!("--size {size} is below the minimum of {MIN_DEVICE_BYTES} bytes")))
        }
        Some(size) => Some(size / PAGE_BYTES as u64 * PAGE_BYTES as u64),
        None => None,
    };
    let create = if file_size.is_some() && !kind_is_block(path) { Create::File } else { Create::No };
    let (mut dev, kind, created) = device_for(path, create)?;
    if req.zero && kind != DeviceKind::File {
        return Err(EngineError::BadRequest(format!(
            "zeroing is for files: {} is a block device, which has no unwritten extents to convert",
            path.display()
        )));
    }
    // Refuse a formatted file before resizing or zeroing it: a refused format leaves it as it was.
    if kind == DeviceKind::File && (file_size.is_some() || req.zero) && !req.force && dev_size(&dev) >= 2 * SUPERBLOCK_BYTES as u64 {
        refuse_formatted(&mut dev)?;
    }
    if let (DeviceKind::File, Some(size)) = (kind, file_size) {
        size_file(path, dev.file(), size, created)?;
        dev = dev.with_size(size);
    }
    if req.zero {
        write_zeros(&mut dev).map_err(|e| EngineError::io(format!("cannot write zeros over {}", path.display()), e))?;
    }
    if kind == DeviceKind::Block {
        if let Some(size) = req.size_bytes {
            if size > dev_size(&dev) {
                return Err(EngineError::BadRequest(format!("--size {size} is larger than the device ({} bytes)", dev_size(&dev))));
            }
            dev = shrink(dev, size);
        }
    }
    let mut cluster_id = [0u8; 16];
    match req.cluster_id {
        Some(id) => cluster_id = id,
        None => {
            cluster_id[..8].copy_from_slice(&random_u64().to_le_bytes());
            cluster_id[8..].copy_from_slice(&random_u64().to_le_bytes());
        }
    }
    let opts = FormatOptions {
        max_entry_bytes: req.max_entry_bytes.unwrap_or(DEFAULT_MAX_ENTRY_BYTES),
        cluster_id,
        unit_id: req.unit_id,
        force: req.force,
        format_id: random_u64(),
        created_unix_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
    };
    format(&mut dev, &opts)
}

/// Zeros over the whole device in 1 MiB writes (a few in flight), then one data sync.
fn write_zeros(dev: &mut UringDevice) -> std::io::Result<()> {
    use crate::aligned::AlignedBuf;
    use crate::device::{Batch, Device, WriteOp};
    const CHUNK_BYTES: u64 = 1 << 20;
    const CHUNKS_IN_FLIGHT: u64 = 8;
    let size = dev_size(dev) / PAGE_BYTES as u64 * PAGE_BYTES as u64;
    let zeros = AlignedBuf::zeroed(CHUNK_BYTES as usize);
    let mut offset = 0u64;
    while offset < size {
        let writes: Vec<WriteOp<'_>> = (0..CHUNKS_IN_FLIGHT)
            .map(|i| offset + i * CHUNK_BYTES)
            .take_while(|&o| o < size)
            .map(|o| WriteOp { offset: o, buf: &zeros[..(size - o).min(CHUNK_BYTES) as usize] })
            .collect();
        offset += writes.len() as u64 * CHUNK_BYTES;
        dev.submit(Batch { reads: &mut [], writes: &writes, sync: offset >= size })?;
    }
    Ok(())
}

fn kind_is_block(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_block_device())
}

fn dev_size(dev: &UringDevice) -> u64 {
    use crate::device::Device;
    dev.info().size_bytes
}

fn shrink(dev: UringDevice, size: u64) -> UringDevice {
    dev.with_size(size / PAGE_BYTES as u64 * PAGE_BYTES as u64)
}

pub struct Inspection {
    pub superblock: Superblock,
    pub kind: DeviceKind,
    pub used_pages: u64,
    /// What the index rebuilt by the read-only recovery takes in memory, and the
    /// addresses it holds: what a unit opening the device now would carry.
    pub index_bytes: u64,
    pub addresses: u64,
}

/// Reads the superblock alone: what a unit needs to know of its device before it opens
/// it (cluster, unit, format), without the recovery `inspect_path` runs.
pub fn superblock_path(path: &Path) -> Result<(Superblock, DeviceKind)> {
    let (mut dev, kind, _) = device_for(path, Create::No)?;
    let sb = read_superblock(&mut dev)?.ok_or_else(|| {
        EngineError::NotFormatted(format!("{} holds no Corfu superblock; run `corfu format {}`", path.display(), path.display()))
    })?;
    Ok((sb, kind))
}

/// Reads the superblock and recovers the index (read-only: the checkpoint, the summaries
/// and the pages since), to report usage and the index's size.
pub fn inspect_path(path: &Path) -> Result<Inspection> {
    let (mut dev, kind, _) = device_for(path, Create::No)?;
    let sb = read_superblock(&mut dev)?.ok_or_else(|| {
        EngineError::NotFormatted(format!("{} holds no Corfu superblock; run `corfu format {}`", path.display(), path.display()))
    })?;
    let geo = crate::reader::Geometry::of(&sb, crate::device::Device::info(&dev).logical_block_bytes);
    let recovered = crate::recovery::recover(&mut dev, &sb, &geo)?;
    Ok(Inspection {
        used_pages: recovered.next_seq - sb.head_seq,
        index_bytes: recovered.index.memory_bytes() as u64,
        addresses: recovered.index.len(),
        superblock: sb,
        kind,
    })
}

pub fn open_store(path: &Path, sync: SyncMode) -> Result<Store<UringDevice>> {
    let (dev, _, _) = device_for(path, Create::No)?;
    Store::open(dev, sync).map_err(|e| match e {
        EngineError::NotFormatted(_) => {
            EngineError::NotFormatted(format!("{} holds no Corfu superblock; run `corfu format {}` first", path.display(), path.display()))
        }
        other => other,
    })
}
