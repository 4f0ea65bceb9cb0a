//! Reading a CSV file of records into fixed-point columns (the owner's side of `encrypt`).
//!
//! The first line is the header; records are read by the `csv` crate (fields may be quoted,
//! `""` for a quote inside; lines end with `\n` or `\r\n`). A column whose cells are all non-numeric text is not
//! encrypted (it is reported); in a numeric column, an empty or non-numeric cell (`NaN`,
//! `inf`, words) is an error naming its line and column, or is skipped with `skip_missing`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use ringvault_core::encoding::FixedPoint;
use ringvault_core::stats::PlainColumn;

/// Most decimals detected automatically (more are rounded; `--decimals` may ask for up to 18).
pub const MAX_DETECTED_DECIMALS: u32 = 9;

/// Why a CSV could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// No header line.
    #[error("the CSV file is empty (it needs a header line and at least one record)")]
    Empty,
    /// A header without records.
    #[error("the CSV file has a header but no records")]
    NoRecords,
    /// A record with another number of fields than the header.
    #[error("line {line}: {found} fields, but the header has {expected}")]
    Ragged {
        /// 1-based line number.
        line: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields on this line.
        found: usize,
    },
    /// Bytes the CSV reader could not read (invalid UTF-8).
    #[error("line {line}: {reason}")]
    Unreadable {
        /// 1-based line number.
        line: usize,
        /// The reader's message.
        reason: String,
    },
    /// An unterminated quoted field.
    #[error("line {line}: a quoted field is not closed")]
    Unterminated {
        /// 1-based line where the field starts.
        line: usize,
    },
    /// A cell that is not a number in a numeric column.
    #[error("line {line}, column {column:?}: {value:?} is not a number (use --skip-missing to skip such cells)")]
    NotANumber {
        /// 1-based line number.
        line: usize,
        /// Column name.
        column: String,
        /// The cell.
        value: String,
    },
    /// A number too large for fixed point at the column's scale.
    #[error("line {line}, column {column:?}: {value:?} is too large to encrypt")]
    TooLarge {
        /// 1-based line number.
        line: usize,
        /// Column name.
        column: String,
        /// The cell.
        value: String,
    },
    /// An empty cell in a numeric column.
    #[error("line {line}, column {column:?}: the cell is empty (use --skip-missing to skip such cells)")]
    EmptyCell {
        /// 1-based line number.
        line: usize,
        /// Column name.
        column: String,
    },
    /// Two columns with one name.
    #[error("column {0:?} appears twice in the header")]
    DuplicateColumn(String),
    /// `--decimals` names a column the file lacks, or asks for too many decimals.
    #[error("--decimals {0}")]
    BadDecimals(String),
    /// No numeric column at all.
    #[error("the CSV file has no numeric column to encrypt")]
    NoNumericColumn,
}

/// A record: the 1-based line it starts on, and its fields.
pub type Record = (usize, Vec<String>);

/// Counts the quote characters read through it: the csv crate reads an unclosed quote to the
/// end of its input, so an odd count at the end is a quoted field that is not closed (doubled
/// quotes come in pairs).
struct QuoteCount<R> {
    inner: R,
    quotes: usize,
}

impl<R: Read> Read for QuoteCount<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.quotes += buf[..n].iter().filter(|&&b| b == b'"').count();
        Ok(n)
    }
}

/// Calls `f` with every non-blank record of `source` in order, with the 1-based line it starts
/// on (through the `csv` crate: RFC 4180 quoting, `\n` or `\r\n`), reading it once, in a
/// buffer of constant size.
///
/// # Errors
/// [`CsvError::Unreadable`], [`CsvError::Unterminated`], or the first error of `f`.
fn for_each_record<R: Read, E: From<CsvError>>(source: R, mut f: impl FnMut(usize, &::csv::StringRecord) -> Result<(), E>) -> Result<(), E> {
    let mut reader = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(QuoteCount { inner: source, quotes: 0 });
    let mut record = ::csv::StringRecord::new();
    let mut last_line = 1;
    loop {
        let line = reader.position().line() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line() as usize);
                last_line = line;
                if record.len() == 1 && record[0].trim().is_empty() {
                    continue;
                }
                f(line, &record)?;
            }
            Err(e) => return Err(CsvError::Unreadable { line: e.position().map_or(line, |p| p.line() as usize), reason: e.to_string() }.into()),
        }
    }
    if reader.get_ref().quotes % 2 == 1 {
        return Err(CsvError::Unterminated { line: last_line }.into());
    }
    Ok(())
}

/// The header's fields and the records, each with the 1-based line number it starts on
/// (blank lines skipped).
///
/// # Errors
/// The [`CsvError`] of the first problem.
pub fn parse(text: &str) -> Result<(Vec<String>, Vec<Record>), CsvError> {
    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for_each_record(text.as_bytes(), |line, r| {
        match &header {
            None => header = Some(checked_header(r)?),
            Some(h) => rows.push((line, checked_fields(h.len(), line, r)?.iter().map(str::to_string).collect())),
        }
        Ok::<(), CsvError>(())
    })?;
    let header = header.ok_or(CsvError::Empty)?;
    if rows.is_empty() {
        return Err(CsvError::NoRecords);
    }
    Ok((header, rows))
}

/// The header's names, trimmed, refused when one appears twice.
fn checked_header(r: &::csv::StringRecord) -> Result<Vec<String>, CsvError> {
    let header: Vec<String> = r.iter().map(|h| h.trim().to_string()).collect();
    for (i, h) in header.iter().enumerate() {
        if header[..i].contains(h) {
            return Err(CsvError::DuplicateColumn(h.clone()));
        }
    }
    Ok(header)
}

/// The record, refused when it has another number of fields than the header.
fn checked_fields(expected: usize, line: usize, r: &::csv::StringRecord) -> Result<&::csv::StringRecord, CsvError> {
    if r.len() != expected {
        return Err(CsvError::Ragged { line, expected, found: r.len() });
    }
    Ok(r)
}

/// Digits after the decimal point of a plain decimal number, or `None` when `text` is not one
/// (scientific notation is accepted and expanded).
fn decimal_digits(text: &str) -> Option<u32> {
    let s = normalized(text)?;
    Some(s.split_once('.').map_or(0, |(_, f)| f.len() as u32))
}

/// The cell as a plain decimal (`1e-3` → `0.001`), or `None` when it is not a finite number.
fn normalized(text: &str) -> Option<String> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    if FixedPoint::new(0).ok()?.parse(s).is_ok() {
        return Some(s.to_string());
    }
    let x: f64 = s.parse().ok()?;
    x.is_finite().then(|| format!("{x}"))
}

/// What reading a CSV produced.
#[derive(Debug)]
pub struct CsvTable {
    /// The numeric columns, fixed point.
    pub columns: Vec<PlainColumn>,
    /// Text columns that were not encrypted.
    pub skipped_columns: Vec<String>,
    /// Cells skipped (`--skip-missing`), per column.
    pub skipped_cells: BTreeMap<String, usize>,
}

impl fmt::Display for CsvTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let records = self.columns.first().map_or(0, |c| c.values.len());
        write!(f, "{records} records, {} numeric columns", self.columns.len())?;
        for c in &self.columns {
            write!(f, "\n  {:<24} {} decimals", c.name, c.decimals)?;
            if let Some(n) = self.skipped_cells.get(&c.name) {
                write!(f, ", {n} cells skipped")?;
            }
        }
        if !self.skipped_columns.is_empty() {
            write!(f, "\n  not encrypted (text): {}", self.skipped_columns.join(", "))?;
        }
        Ok(())
    }
}

/// What a first pass over a CSV file decides: which columns are numeric and at which scale,
/// and how many records there are (no value is kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvLayout {
    /// The numeric columns: their field index in each record, name and decimals.
    pub numeric: Vec<(usize, String, u32)>,
    /// Text columns that are not encrypted.
    pub skipped_columns: Vec<String>,
    /// Records (non-blank lines after the header).
    pub records: usize,
    header_len: usize,
}

/// The first pass: reads `source` once and decides each column's kind and decimals (detected,
/// at most [`MAX_DETECTED_DECIMALS`], unless `decimals` gives them).
///
/// # Errors
/// The [`CsvError`] of the first structural problem (cells are checked by [`read_chunks`]).
pub fn scan<R: Read>(source: R, decimals: &BTreeMap<String, u32>) -> Result<CsvLayout, CsvError> {
    let mut header: Option<Vec<String>> = None;
    // Per column: any numeric cell, and the most decimal digits seen.
    let mut seen: Vec<(bool, u32)> = Vec::new();
    let mut records = 0usize;
    for_each_record(source, |line, r| {
        let Some(h) = &header else {
            let h = checked_header(r)?;
            seen = vec![(false, 0); h.len()];
            header = Some(h);
            return Ok::<(), CsvError>(());
        };
        for (s, cell) in seen.iter_mut().zip(checked_fields(h.len(), line, r)?.iter()) {
            if let Some(d) = decimal_digits(cell) {
                *s = (true, s.1.max(d));
            }
        }
        records += 1;
        Ok(())
    })?;
    let header = header.ok_or(CsvError::Empty)?;
    if records == 0 {
        return Err(CsvError::NoRecords);
    }
    for (name, &d) in decimals {
        if !header.contains(name) {
            return Err(CsvError::BadDecimals(format!("names column {name:?}, which the file does not have")));
        }
        if d > FixedPoint::MAX_DECIMALS {
            return Err(CsvError::BadDecimals(format!("{name}={d}: at most {} decimals", FixedPoint::MAX_DECIMALS)));
        }
    }
    let mut layout = CsvLayout { numeric: Vec::new(), skipped_columns: Vec::new(), records, header_len: header.len() };
    for (j, (name, (numeric, digits))) in header.into_iter().zip(seen).enumerate() {
        if !numeric {
            layout.skipped_columns.push(name);
            continue;
        }
        let d = decimals.get(&name).copied().unwrap_or(digits.min(MAX_DETECTED_DECIMALS));
        layout.numeric.push((j, name, d));
    }
    if layout.numeric.is_empty() {
        return Err(CsvError::NoNumericColumn);
    }
    Ok(layout)
}

/// The second pass: reads `source` (the same bytes [`scan`] read) once more and calls `f`
/// with the numeric columns of every `chunk_records` records in order (the last chunk may be
/// shorter), in fixed point. At most one chunk of values is held at a time.
/// Returns the cells skipped per column (`skip_missing`).
///
/// # Errors
/// A [`CsvError`] naming the line and column of the first bad cell (a file that changed
/// since [`scan`] gives [`CsvError::Ragged`] or a count error), or the first error of `f`.
pub fn read_chunks<R: Read, E: From<CsvError>>(
    source: R,
    layout: &CsvLayout,
    skip_missing: bool,
    chunk_records: usize,
    mut f: impl FnMut(Vec<PlainColumn>) -> Result<(), E>,
) -> Result<BTreeMap<String, usize>, E> {
    let chunk_records = chunk_records.max(1);
    let scales = layout.numeric.iter().map(|(_, _, d)| FixedPoint::new(*d).map_err(|e| CsvError::BadDecimals(e.to_string()))).collect::<Result<Vec<_>, _>>()?;
    let empty = |capacity: usize| -> Vec<PlainColumn> { layout.numeric.iter().map(|(_, name, d)| PlainColumn { name: name.clone(), decimals: *d, values: Vec::with_capacity(capacity) }).collect() };
    let capacity = chunk_records.min(layout.records);
    let mut chunk = empty(capacity);
    let mut skipped = vec![0usize; layout.numeric.len()];
    let (mut header_seen, mut records) = (false, 0usize);
    for_each_record(source, |line, r| {
        if !std::mem::replace(&mut header_seen, true) {
            return Ok::<(), E>(());
        }
        let r = checked_fields(layout.header_len, line, r)?;
        for (((j, name, _), fixed), (column, skip)) in layout.numeric.iter().zip(&scales).zip(chunk.iter_mut().zip(skipped.iter_mut())) {
            column.values.push(cell_value(fixed, &r[*j], line, name, skip_missing, skip)?);
        }
        records += 1;
        if chunk[0].values.len() == chunk_records {
            f(std::mem::replace(&mut chunk, empty(capacity)))?;
        }
        Ok(())
    })?;
    if records != layout.records {
        return Err(CsvError::Unreadable { line: 0, reason: format!("the file changed while it was read: {records} records, {} before", layout.records) }.into());
    }
    if !chunk[0].values.is_empty() {
        f(chunk)?;
    }
    Ok(layout.numeric.iter().zip(skipped).filter(|(_, n)| *n > 0).map(|((_, name, _), n)| (name.clone(), n)).collect())
}

/// One cell of a numeric column in fixed point: `None` for a skipped cell (counted in
/// `skipped`).
fn cell_value(fixed: &FixedPoint, cell: &str, line: usize, column: &str, skip_missing: bool, skipped: &mut usize) -> Result<Option<i128>, CsvError> {
    let number = normalized(cell);
    match number.as_ref().and_then(|s| fixed.parse(s).ok()) {
        Some(v) => Ok(Some(v)),
        None if number.is_some() => Err(CsvError::TooLarge { line, column: column.to_string(), value: cell.to_string() }),
        None if skip_missing => {
            *skipped += 1;
            Ok(None)
        }
        None if cell.trim().is_empty() => Err(CsvError::EmptyCell { line, column: column.to_string() }),
        None => Err(CsvError::NotANumber { line, column: column.to_string(), value: cell.to_string() }),
    }
}

/// Reads the CSV text into fixed-point columns ([`scan`], then [`read_chunks`] in one chunk).
///
/// # Errors
/// The [`CsvError`] of the first problem, naming its line and column.
pub fn read_table(text: &str, decimals: &BTreeMap<String, u32>, skip_missing: bool) -> Result<CsvTable, CsvError> {
    let layout = scan(text.as_bytes(), decimals)?;
    let mut columns = Vec::new();
    let skipped_cells = read_chunks(text.as_bytes(), &layout, skip_missing, usize::MAX, |c| {
        columns = c;
        Ok::<(), CsvError>(())
    })?;
    Ok(CsvTable { columns, skipped_columns: layout.skipped_columns, skipped_cells })
}

/// One column of numbers (a DataFrame's or an array's) into fixed point, as [`read_table`]
/// reads CSV text: each value through its shortest decimal form (`26.3`, not its binary
/// expansion), the decimals detected (at most [`MAX_DETECTED_DECIMALS`]) unless given, NaN a
/// missing cell (refused, or skipped and counted with `skip_missing`). Returns the column and
/// the number of cells skipped.
///
/// # Errors
/// [`crate::AppError::Schema`] naming the column and the (1-based) row: a missing value without
/// `skip_missing`, an infinite one, one beyond the fixed-point range, or too many decimals.
pub fn column_from_numbers(name: &str, values: &[f64], decimals: Option<u32>, skip_missing: bool) -> Result<(PlainColumn, usize), crate::AppError> {
    use std::fmt::Write as _;
    let bad = |row: usize, what: String| crate::AppError::Schema(format!("column {name:?}, row {}: {what}", row + 1));
    // Each value's decimals in its shortest form (one reused buffer: no allocation per value).
    let mut text = String::new();
    let mut digits = |x: f64| -> u32 {
        text.clear();
        let _ = write!(text, "{x}");
        text.split_once('.').map_or(0, |(_, f)| f.len() as u32)
    };
    let d = match decimals {
        Some(d) => d,
        None => values.iter().filter(|x| x.is_finite()).map(|&x| digits(x)).max().unwrap_or(0).min(MAX_DETECTED_DECIMALS),
    };
    let fixed = FixedPoint::new(d).map_err(|e| crate::AppError::Schema(format!("column {name:?}: {e}")))?;
    let scale = 10f64.powi(d as i32);
    let mut out = Vec::with_capacity(values.len());
    let mut skipped = 0;
    for (row, &x) in values.iter().enumerate() {
        if x.is_nan() {
            if !skip_missing {
                return Err(bad(row, "a missing value (NaN); skip_missing=True skips and counts it".into()));
            }
            skipped += 1;
            out.push(None);
            continue;
        }
        if !x.is_finite() {
            return Err(bad(row, format!("{x} is not a finite number")));
        }
        let scaled = x * scale;
        // A value of at most `d` decimals, scaled by 10^d, is within a few ulps of an integer,
        // which rounding recovers exactly (both ways of rounding agree so close to one); any
        // other goes through its decimal text, as a CSV cell would (half away from zero).
        let near = scaled.round();
        let v = if scaled.abs() < 2f64.powi(40) && (scaled - near).abs() < 1e-6 {
            near as i128
        } else {
            fixed.parse(&format!("{x}")).map_err(|_| bad(row, format!("{x} is beyond the fixed-point range at {d} decimals")))?
        };
        out.push(Some(v));
    }
    Ok((PlainColumn { name: name.to_string(), decimals: d, values: out }, skipped))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_quotes_decimals_and_text_columns() {
        let text = "name,\"body mass, index\",age\r\n\"Smith, J\",26.25,40\nDoe,1e-3,41\n\n";
        let t = read_table(text, &BTreeMap::new(), false).unwrap();
        assert_eq!(t.skipped_columns, vec!["name"]);
        assert_eq!(t.columns[0].name, "body mass, index");
        assert_eq!(t.columns[0].decimals, 3);
        assert_eq!(t.columns[0].values, vec![Some(26250), Some(1)]);
        assert_eq!(t.columns[1].values, vec![Some(40), Some(41)]);
    }

    #[test]
    fn hostile_files_are_errors_naming_line_and_column() {
        let none = BTreeMap::new();
        assert_eq!(read_table("", &none, false).unwrap_err(), CsvError::Empty);
        assert_eq!(read_table("a,b\n", &none, false).unwrap_err(), CsvError::NoRecords);
        assert!(matches!(read_table("a,b\n1,2\n3\n", &none, false), Err(CsvError::Ragged { line: 3, .. })));
        assert!(matches!(read_table("a\n1\nNaN\n", &none, false), Err(CsvError::NotANumber { line: 3, .. })));
        assert!(matches!(read_table("a\n1\ninf\n", &none, false), Err(CsvError::NotANumber { .. })));
        assert!(matches!(read_table("a,b\n1,2\n,3\n", &none, false), Err(CsvError::EmptyCell { line: 3, .. })));
        assert!(matches!(read_table("a\n\"1\n", &none, false), Err(CsvError::Unterminated { .. })));
        assert!(matches!(read_table("a,a\n1,2\n", &none, false), Err(CsvError::DuplicateColumn(_))));
        let t = read_table("a,b\n1,2\n,3\nx,4\n", &none, true).unwrap();
        assert_eq!(t.columns[0].values, vec![Some(1), None, None]);
        assert_eq!(t.skipped_cells["a"], 2);
        let d = BTreeMap::from([("b".to_string(), 2u32)]);
        assert_eq!(read_table("a,b\n1,2.345\n", &d, false).unwrap().columns[1].values, vec![Some(235)]);
        assert!(read_table("a\n1\n", &BTreeMap::from([("zz".to_string(), 1)]), false).is_err());
    }

    #[test]
    fn numbers_become_fixed_point_through_their_shortest_decimal_form() {
        let (c, skipped) = column_from_numbers("bmi", &[26.3, 0.1 + 0.2, f64::NAN, -4.0], None, true).unwrap();
        // 0.1 + 0.2 prints as 0.30000000000000004: 17 decimals, capped at 9.
        assert_eq!((c.decimals, skipped), (MAX_DETECTED_DECIMALS, 1));
        assert_eq!(c.values, vec![Some(26_300_000_000), Some(300_000_000), None, Some(-4_000_000_000)]);
        let (c, _) = column_from_numbers("age", &[40.0, 41.0], None, false).unwrap();
        assert_eq!((c.decimals, c.values), (0, vec![Some(40), Some(41)]));
        assert_eq!(column_from_numbers("x", &[1.25], Some(1), false).unwrap().0.values, vec![Some(13)]);
        let e = column_from_numbers("glu", &[1.0, f64::NAN], None, false).unwrap_err().to_string();
        assert!(e.contains("\"glu\", row 2") && e.contains("skip_missing"), "{e}");
        assert!(column_from_numbers("x", &[f64::INFINITY], None, true).unwrap_err().to_string().contains("not a finite"));
        assert!(column_from_numbers("x", &[1e40], None, false).unwrap_err().to_string().contains("beyond"));
        assert!(column_from_numbers("x", &[1.0], Some(19), false).is_err());
    }
}
