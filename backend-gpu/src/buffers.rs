//! Device buffers: a pool that recycles freed buffers of the same size, and the host transfers
//! (upload by `Queue::write_buffer`; download through mappable staging buffers, the only place
//! the backend waits for the device).

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringvault_core::Error;

use crate::context::{Context, gpu_error};

/// What a pooled buffer is for (its usages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// Batch storage: storage binding, copy source and destination.
    Storage,
    /// Download staging: mappable for reading, copy destination.
    Staging,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Storage => "ringvault batch",
            Kind::Staging => "ringvault download",
        }
    }

    fn usages(self) -> wgpu::BufferUsages {
        match self {
            Kind::Storage => wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            Kind::Staging => wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        }
    }
}

#[derive(Debug, Default)]
struct Free {
    buffers: HashMap<(Kind, u64), Vec<wgpu::Buffer>>,
    bytes: u64,
}

/// Freed buffers by exact size, up to a byte budget. Reuse is safe without waiting: the queue
/// orders every later use after the work already submitted on the buffer.
#[derive(Debug)]
pub(crate) struct Pool {
    device: wgpu::Device,
    free: Mutex<Free>,
    budget: u64,
}

impl Pool {
    pub(crate) fn new(device: wgpu::Device, budget: u64) -> Self {
        Self { device, free: Mutex::new(Free::default()), budget }
    }

    /// A buffer of exactly `bytes` bytes (contents unspecified: recycled or zero). Call inside
    /// [`Context::scoped`] so that an allocation failure is an `Err`.
    pub(crate) fn take(self: &Arc<Self>, kind: Kind, bytes: u64) -> PooledBuffer {
        let recycled = self.free.lock().ok().and_then(|mut free| {
            let b = free.buffers.get_mut(&(kind, bytes)).and_then(Vec::pop);
            if b.is_some() {
                free.bytes -= bytes;
            }
            b
        });
        let buffer = recycled.unwrap_or_else(|| {
            self.device.create_buffer(&wgpu::BufferDescriptor { label: Some(kind.label()), size: bytes, usage: kind.usages(), mapped_at_creation: false })
        });
        PooledBuffer { buffer: Some(buffer), kind, pool: self.clone() }
    }

    fn give(&self, kind: Kind, buffer: wgpu::Buffer) {
        let size = buffer.size();
        if let Ok(mut free) = self.free.lock()
            && free.bytes + size <= self.budget
        {
            free.bytes += size;
            free.buffers.entry((kind, size)).or_default().push(buffer);
            return;
        }
        buffer.destroy();
    }
}

/// A device buffer that goes back to its pool when dropped.
#[derive(Debug)]
pub(crate) struct PooledBuffer {
    buffer: Option<wgpu::Buffer>,
    kind: Kind,
    pool: Arc<Pool>,
}

impl PooledBuffer {
    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        // Present from construction until drop.
        self.buffer.as_ref().unwrap_or_else(|| unreachable!("pooled buffer used after drop"))
    }
}

impl PooledBuffer {
    /// Destroys the buffer instead of returning it to the pool.
    pub(crate) fn discard(mut self) {
        if let Some(b) = self.buffer.take() {
            b.destroy();
        }
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            self.pool.give(self.kind, b);
        }
    }
}

/// How long a download waits for its mapping callbacks after the device went idle (another
/// thread's poll may have collected them and be about to run them).
const MAP_WAIT: Duration = Duration::from_secs(1);
/// Polls before a download gives up.
const MAP_POLLS: usize = 120;

/// Copies `chunks` (buffer, bytes) back to the host, in order, and waits for the device.
///
/// # Errors
/// A failed copy, map or poll (device lost).
pub(crate) fn download(ctx: &Context, pool: &Arc<Pool>, chunks: &[(&wgpu::Buffer, u64)]) -> Result<Vec<u32>, Error> {
    let (tx, rx) = mpsc::channel();
    let staging = ctx.scoped("download", || {
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("download") });
        let staging: Vec<PooledBuffer> = chunks
            .iter()
            .map(|&(src, bytes)| {
                let s = pool.take(Kind::Staging, bytes);
                encoder.copy_buffer_to_buffer(src, 0, s.buffer(), 0, bytes);
                s
            })
            .collect();
        ctx.queue.submit([encoder.finish()]);
        for (i, s) in staging.iter().enumerate() {
            let tx = tx.clone();
            s.buffer().map_async(wgpu::MapMode::Read, .., move |r| {
                // The receiver lives until every callback ran or the download gave up.
                let _ = tx.send((i, r));
            });
        }
        Ok(staging)
    })?;
    drop(tx);
    let result = wait_mapped(ctx, &rx, staging.len()).and_then(|()| read_mapped(&staging, chunks));
    if result.is_err() {
        // A buffer whose mapping failed or is still pending must not be reused.
        staging.into_iter().for_each(PooledBuffer::discard);
    }
    result
}

/// Polls until `count` mapping callbacks have reported success. Callbacks run on whichever
/// thread's poll collects them, so after a poll the missing ones are awaited briefly and the
/// device polled again.
fn wait_mapped(ctx: &Context, rx: &mpsc::Receiver<(usize, Result<(), wgpu::BufferAsyncError>)>, count: usize) -> Result<(), Error> {
    let mut mapped = 0;
    for _ in 0..MAP_POLLS {
        ctx.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| gpu_error(format!("waiting for the device: {e}")))?;
        while mapped < count {
            match rx.recv_timeout(if mapped == 0 { MAP_WAIT } else { MAP_WAIT / 10 }) {
                Ok((i, r)) => {
                    r.map_err(|e| gpu_error(format!("mapping download buffer {i}: {e}")))?;
                    mapped += 1;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(gpu_error(format!("only {mapped} of {count} download buffers were mapped"))),
            }
        }
        if mapped == count {
            return ctx.check_alive();
        }
    }
    Err(gpu_error(format!("only {mapped} of {count} download buffers were mapped")))
}

/// Reads and unmaps the mapped staging buffers.
fn read_mapped(staging: &[PooledBuffer], chunks: &[(&wgpu::Buffer, u64)]) -> Result<Vec<u32>, Error> {
    let total: u64 = chunks.iter().map(|c| c.1).sum();
    let mut out: Vec<u32> = Vec::with_capacity((total / 4) as usize);
    for s in staging {
        {
            let view = s.buffer().get_mapped_range(..).map_err(|e| gpu_error(format!("reading download buffer: {e}")))?;
            match bytemuck::try_cast_slice::<u8, u32>(&view) {
                Ok(words) => out.extend_from_slice(words),
                // Mapped ranges are aligned in practice; stay correct if one is not.
                Err(_) => out.extend(view.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            }
        }
        s.buffer().unmap();
    }
    Ok(out)
}
