//! Writing uploads as a Parquet readings table (see [`crate::cells`]): one row per chunk,
//! the cells stored as they are. Ciphertexts are incompressible and never filtered on, so
//! their column has no compression, no dictionary and no statistics; row groups are cut at
//! [`ROW_GROUP_BYTES`] and batches at
//! [`BATCH_BYTES`].

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BinaryBuilder, Int64Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;

use crate::cells::{BATCH_BYTES, ROW_GROUP_BYTES, ROWS, readings_schema};

/// One stored upload: its `rows` file and public metadata.
#[derive(Clone, Copy, Debug)]
pub struct Upload<'a> {
    /// The vault's sequence number.
    pub seq: u64,
    /// The uploading device (none: the owner).
    pub device: Option<&'a str>,
    /// Start of its time range (Unix seconds).
    pub from: i64,
    /// End of its time range (Unix seconds).
    pub to: i64,
    /// The `rows` file.
    pub file: &'a [u8],
}

/// What a writer wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Uploads.
    pub uploads: u64,
    /// Rows (chunks).
    pub cells: u64,
    /// Records.
    pub records: u64,
    /// Row groups.
    pub row_groups: usize,
}

/// A Parquet readings file being written.
pub struct ReadingsWriter {
    writer: ArrowWriter<File>,
    pending: Pending,
    written: Written,
}

impl std::fmt::Debug for ReadingsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadingsWriter").field("written", &self.written).finish_non_exhaustive()
    }
}

/// Rows not yet handed to the Parquet writer.
#[derive(Default)]
struct Pending {
    upload: Vec<u64>,
    chunk: Vec<u32>,
    device: Vec<Option<String>>,
    from: Vec<i64>,
    to: Vec<i64>,
    records: Vec<u32>,
    cells: Vec<Vec<u8>>,
    bytes: usize,
}

impl Pending {
    /// Adds one row per chunk of `upload`; the rows added.
    fn push(&mut self, upload: &Upload<'_>) -> Result<Written> {
        let chunks = ringvault_app::rows::chunk_files(upload.file).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let mut added = Written { uploads: 1, cells: 0, records: 0, row_groups: 0 };
        for (k, (records, cell)) in chunks.into_iter().enumerate() {
            self.upload.push(upload.seq);
            self.chunk.push(u32::try_from(k).map_err(|_| DataFusionError::Execution("more than 2^32 chunks in one upload".into()))?);
            self.device.push(upload.device.map(str::to_string));
            self.from.push(upload.from);
            self.to.push(upload.to);
            self.records.push(u32::try_from(records).map_err(|_| DataFusionError::Execution("more than 2^32 records in one chunk".into()))?);
            self.bytes += cell.len();
            self.cells.push(cell);
            added.cells += 1;
            added.records += records as u64;
        }
        Ok(added)
    }

    fn take_batch(&mut self) -> Result<RecordBatch> {
        let p = std::mem::take(self);
        let mut rows = BinaryBuilder::with_capacity(p.cells.len(), p.bytes);
        for c in &p.cells {
            rows.append_value(c);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(p.upload)),
            Arc::new(UInt32Array::from(p.chunk)),
            Arc::new(StringArray::from(p.device)),
            Arc::new(Int64Array::from(p.from)),
            Arc::new(Int64Array::from(p.to)),
            Arc::new(UInt32Array::from(p.records)),
            Arc::new(rows.finish()),
        ];
        Ok(RecordBatch::try_new(readings_schema(), columns)?)
    }
}

/// The writer settings of a readings file.
fn properties() -> WriterProperties {
    let rows = ColumnPath::from(ROWS);
    WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_column_dictionary_enabled(rows.clone(), false)
        .set_column_statistics_enabled(rows, EnabledStatistics::None)
        .set_max_row_group_row_count(None)
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        // Cells are large: the page and row-group limits are checked after every few.
        .set_write_batch_size(4)
        .build()
}

impl ReadingsWriter {
    /// Creates (or truncates) the file at `path`.
    ///
    /// # Errors
    /// I/O and Parquet errors.
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| DataFusionError::Execution(format!("cannot create {}: {e}", path.display())))?;
        let writer = ArrowWriter::try_new(file, readings_schema(), Some(properties()))?;
        Ok(Self { writer, pending: Pending::default(), written: Written { uploads: 0, cells: 0, records: 0, row_groups: 0 } })
    }

    /// Adds an upload: one row per chunk of its `rows` file (checked to be one; its
    /// ciphertexts are validated by every query that reads them).
    ///
    /// # Errors
    /// [`DataFusionError::External`] with the application's error for a malformed file;
    /// Parquet errors.
    pub fn push(&mut self, upload: &Upload<'_>) -> Result<()> {
        let added = self.pending.push(upload)?;
        self.written.uploads += added.uploads;
        self.written.cells += added.cells;
        self.written.records += added.records;
        if self.pending.bytes >= BATCH_BYTES {
            self.write_pending()?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> Result<()> {
        if self.pending.cells.is_empty() {
            return Ok(());
        }
        let batch = self.pending.take_batch()?;
        self.writer.write(&batch)?;
        Ok(())
    }

    /// Writes what is pending and the file's footer, and syncs the file to disk.
    ///
    /// # Errors
    /// Parquet and I/O errors.
    pub fn finish(mut self) -> Result<Written> {
        self.write_pending()?;
        let meta = self.writer.finish()?;
        self.writer.inner().sync_all().map_err(|e| DataFusionError::Execution(format!("cannot sync a readings file: {e}")))?;
        Ok(Written { row_groups: meta.num_row_groups(), ..self.written })
    }
}

/// `uploads` as in-memory record batches of the readings schema, each of at most
/// [`BATCH_BYTES`] of cells (or one cell): a table for an embedded session without files.
///
/// # Errors
/// As [`ReadingsWriter::push`].
pub fn batches(uploads: &[Upload<'_>]) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    let mut pending = Pending::default();
    for u in uploads {
        pending.push(u)?;
        if pending.bytes >= BATCH_BYTES {
            out.push(pending.take_batch()?);
        }
    }
    if !pending.cells.is_empty() {
        out.push(pending.take_batch()?);
    }
    Ok(out)
}

/// Writes a running vault's stored uploads of `dataset` after `after` (all when `None`) into
/// a new readings file at `path`, paging through its listing (owner token). Returns what was
/// written and the last upload written: the `after` of the next, incremental, export.
///
/// # Errors
/// The vault's refusals and transport errors ([`DataFusionError::External`]); as
/// [`ReadingsWriter::push`].
pub fn export_vault(client: &ringvault_vault::client::Client, dataset: &str, after: Option<u64>, path: &Path) -> Result<(Written, Option<u64>)> {
    let vault = |e: ringvault_vault::client::ClientError| DataFusionError::External(Box::new(e));
    let mut writer = ReadingsWriter::create(path)?;
    let mut last = after;
    loop {
        let page = client.uploads(dataset, last).map_err(vault)?;
        let Some(end) = page.last().map(|u| u.upload) else { break };
        for u in &page {
            let file = client.upload_file(dataset, u.upload).map_err(vault)?;
            writer.push(&Upload { seq: u.upload, device: u.device.as_deref(), from: u.from, to: u.to, file: &file })?;
        }
        last = Some(end);
    }
    Ok((writer.finish()?, last))
}
