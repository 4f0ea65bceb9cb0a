//! The readings table: one row per ciphertext chunk of an upload, its public metadata beside
//! it, and how its binary cells are read whatever Arrow type carries them.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `upload` | `UInt64` | the vault's sequence number of the upload |
//! | `chunk` | `UInt32` | the chunk's index within its upload |
//! | `device` | `Utf8`, nullable | the device that uploaded it (none: the owner) |
//! | `from`, `to` | `Int64` | the upload's time range (Unix seconds) |
//! | `records` | `UInt32` | records in the chunk |
//! | `rows` | `Binary` | the chunk as a `rows` file: its ciphertexts (one per used plaintext modulus) and their public metadata |
//!
//! A cell holds one chunk, not one ciphertext: a record's columns are spread over the plan's
//! plaintext moduli (a CRT space), and a cell must be read alone, with the metadata that checks
//! it. At the default preset a cell is 0.1–0.4 MB per used modulus.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::{DataFusionError, Result};

/// The column of the cells.
pub const ROWS: &str = "rows";

/// Bytes of cells in one record batch: what one task holds of a scan at a time, and well
/// under Ballista's 16 MiB gRPC message limit.
pub const BATCH_BYTES: usize = 8 << 20;

/// Bytes of cells in one Parquet row group (a unit of a scan's work).
pub const ROW_GROUP_BYTES: usize = 64 << 20;

/// The readings table's schema (see the module's table).
pub fn readings_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("upload", DataType::UInt64, false),
            Field::new("chunk", DataType::UInt32, false),
            Field::new("device", DataType::Utf8, true),
            Field::new("from", DataType::Int64, false),
            Field::new("to", DataType::Int64, false),
            Field::new("records", DataType::UInt32, false),
            Field::new(ROWS, DataType::Binary, false),
        ]))
    });
    SCHEMA.clone()
}

/// Rows of `cell_bytes`-byte cells in [`BATCH_BYTES`] (at least one).
pub fn batch_rows(cell_bytes: usize) -> usize {
    (BATCH_BYTES / cell_bytes.max(1)).max(1)
}

/// Whether `t` is a binary type the functions take (`Binary`, `LargeBinary`, `BinaryView`:
/// DataFusion reads Parquet binary columns back as views).
pub fn is_binary(t: &DataType) -> bool {
    matches!(t, DataType::Binary | DataType::LargeBinary | DataType::BinaryView)
}

/// The cells of a binary array, `None` for nulls.
///
/// # Errors
/// [`DataFusionError::Execution`] for an array of another type.
pub fn cells(array: &ArrayRef) -> Result<Vec<Option<&[u8]>>> {
    if let Some(a) = array.as_binary_opt::<i32>() {
        return Ok(a.iter().collect());
    }
    if let Some(a) = array.as_binary_opt::<i64>() {
        return Ok(a.iter().collect());
    }
    if let Some(a) = array.as_binary_view_opt() {
        return Ok(a.iter().collect());
    }
    Err(DataFusionError::Execution(format!("ciphertext cells must be Binary, LargeBinary or BinaryView, not {}", array.data_type())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BinaryArray, BinaryViewArray, LargeBinaryArray, StringArray};

    #[test]
    fn every_binary_type_reads_the_same_cells() {
        let values: Vec<Option<&[u8]>> = vec![Some(b"ab"), None, Some(b"")];
        let arrays: [ArrayRef; 3] = [
            Arc::new(BinaryArray::from(values.clone())),
            Arc::new(LargeBinaryArray::from(values.clone())),
            Arc::new(BinaryViewArray::from(values.clone())),
        ];
        for a in &arrays {
            assert!(is_binary(a.data_type()));
            assert_eq!(cells(a).unwrap(), values);
        }
        let text: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
        assert!(!is_binary(text.data_type()));
        assert!(cells(&text).unwrap_err().to_string().contains("not Utf8"));
    }

    #[test]
    fn batches_hold_at_least_one_cell() {
        assert_eq!(batch_rows(0), BATCH_BYTES);
        assert_eq!(batch_rows(BATCH_BYTES * 3), 1);
        assert_eq!(batch_rows(341_027), 24);
    }
}
