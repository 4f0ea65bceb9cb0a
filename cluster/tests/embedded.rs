//! Embedded DataFusion over ciphertext cells: SQL statistics over a Parquet round trip equal
//! float64 and the vault's own answers byte for byte; merging partial states in any order and
//! grouping equals one pass; malformed cells and bad calls are errors, never panics.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use proptest::prelude::*;

use common::*;
use ringvault_app::dataset::{DEFAULT_MAX_RECORDS, encrypt_uploads};
use ringvault_app::keys;
use ringvault_app::query::{QueryRequest, StatColumn};
use ringvault_app::results::Decrypted;
use ringvault_app::workloads;
use ringvault_cluster::cells::readings_schema;
use ringvault_cluster::export::{Upload, batches};
use ringvault_core::scheme::Preset;

/// An embedded session over the uploads written as one Parquet file per upload.
fn parquet_session(dir: &std::path::Path) -> SessionContext {
    write_parquet(dir);
    let ctx = ringvault_cluster::session(&engine(), cell_bytes(), 4);
    block(ctx.register_parquet("readings", dir.to_str().unwrap(), ParquetReadOptions::default()));
    ctx
}

/// A session over in-memory batches split into `partitions`.
fn memory_session(partitions: Vec<Vec<RecordBatch>>) -> SessionContext {
    let ctx = ringvault_cluster::session(&engine(), cell_bytes(), partitions.len());
    ctx.register_table("readings", Arc::new(MemTable::try_new(readings_schema(), partitions).unwrap())).unwrap();
    ctx
}

#[test]
fn statistics_over_a_parquet_round_trip_equal_float64_and_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = parquet_session(dir.path());
    let all = 0..RECORDS;
    for (stat, column, want) in [("mean", "glucose", mean(&values("glucose", all.clone()))), ("variance", "bmi", variance(&values("bmi", all.clone()))), ("stddev", "systolic_bp", variance(&values("systolic_bp", all.clone())).sqrt())] {
        let bytes = one_binary(&sql(&ctx, &format!("SELECT rv_stat(rows, '{stat}', '{column}') FROM readings")).unwrap());
        let Decrypted::Stat(v) = decrypt(&bytes) else { panic!("not a stat") };
        close(v.value, want);
        assert_eq!(v.count, RECORDS);
        // Nothing is missing in the cohort, so the vault's answer is the same file.
        let request = QueryRequest { stat: Some(stat.into()), column: Some(column.into()), ..QueryRequest::default() };
        assert_eq!(bytes, vault_answer(&request), "{stat} of {column}");
    }
    // A batch, with the record bound the dataset declares.
    let asked = r#"[{"stat": "mean", "column": "age"}, {"stat": "sample_variance", "column": "cholesterol"}]"#;
    let bytes = one_binary(&sql(&ctx, &format!("SELECT rv_stats(rows, '{asked}', {DEFAULT_MAX_RECORDS}) FROM readings")).unwrap());
    let Decrypted::Stats(v) = decrypt(&bytes) else { panic!("not a batch") };
    close(v[0].value, mean(&values("age", all.clone())));
    close(v[1].value, variance(&values("cholesterol", all.clone())) * RECORDS as f64 / (RECORDS - 1) as f64);
    let request = QueryRequest { stats: Some(vec![StatColumn { stat: "mean".into(), column: "age".into() }, StatColumn { stat: "sample_variance".into(), column: "cholesterol".into() }]), ..QueryRequest::default() };
    assert_eq!(bytes, vault_answer(&request));
}

#[test]
fn groups_filters_and_every_binary_type() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = parquet_session(dir.path());
    // Parquet's binary column comes back as BinaryView; the other two types by a cast.
    let got = sql(&ctx, "SELECT device, rv_stat(rows, 'mean', 'heart_rate') FROM readings GROUP BY device ORDER BY device NULLS LAST").unwrap();
    let devices: Vec<Option<String>> = got
        .iter()
        .flat_map(|b| {
            let col = datafusion::arrow::compute::cast(b.column(0), &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
            let a = col.as_string::<i32>().clone();
            (0..a.len()).map(move |i| (!a.is_null(i)).then(|| a.value(i).to_string()))
        })
        .collect();
    assert_eq!(devices, vec![Some("monitor-a".to_string()), Some("monitor-b".to_string()), None]);
    let results = binaries(&got, 1);
    for (cell, upload) in results.iter().zip([0, 2, 1]) {
        let Decrypted::Stat(v) = decrypt(cell.as_ref().unwrap()) else { panic!("not a stat") };
        close(v.value, mean(&values("heart_rate", UPLOADS[upload].clone())));
    }
    // A time filter on the public columns: the last two uploads.
    let bytes = one_binary(&sql(&ctx, "SELECT rv_stat(rows, 'sum', 'smoker') FROM readings WHERE \"from\" >= 1000").unwrap());
    let Decrypted::Stat(v) = decrypt(&bytes) else { panic!("not a stat") };
    close(v.value, values("smoker", 250..RECORDS).iter().sum());
    let view = one_binary(&sql(&ctx, "SELECT rv_stat(rows, 'mean', 'bmi') FROM readings").unwrap());
    for t in ["Binary", "LargeBinary"] {
        let cast = one_binary(&sql(&ctx, &format!("SELECT rv_stat(arrow_cast(rows, '{t}'), 'mean', 'bmi') FROM readings")).unwrap());
        assert_eq!(cast, view, "{t}");
    }
    // No row: null, as any SQL aggregate.
    assert_eq!(binaries(&sql(&ctx, "SELECT rv_stat(rows, 'mean', 'bmi') FROM readings WHERE upload > 99").unwrap(), 0), vec![None]);
}

#[test]
fn scores_per_cell_equal_float64() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = parquet_session(dir.path());
    let model = workloads::heart_model();
    let json = serde_json::to_string(&model).unwrap();
    let got = sql(&ctx, &format!("SELECT rv_scores(rows, '{json}') FROM readings ORDER BY upload, chunk")).unwrap();
    let mut scores = Vec::new();
    for cell in binaries(&got, 0) {
        let Decrypted::Scores { scores: s, .. } = decrypt(&cell.unwrap()) else { panic!("not scores") };
        scores.extend(s);
    }
    assert_eq!(scores.len(), RECORDS);
    let f = fixture();
    for (r, s) in scores.iter().enumerate() {
        let want = model.intercept + model.weights.iter().map(|(c, w)| w * f.data.iter().find(|d| d.name == c).unwrap().values[r]).sum::<f64>();
        assert!((s.unwrap() - want).abs() <= 1e-5, "record {r}: {s:?} vs {want}");
    }
}

#[test]
fn malformed_cells_and_bad_calls_are_errors() {
    let f = fixture();
    let mut tables = batches(&uploads(f)).unwrap();
    assert_eq!(tables.iter().map(RecordBatch::num_rows).sum::<usize>(), 5);
    // Flip a byte inside the last ciphertext of row 3 (its header stays readable).
    let batch = tables.remove(0);
    let mut cells: Vec<Vec<u8>> = batch.column(6).as_binary::<i32>().iter().map(|c| c.unwrap().to_vec()).collect();
    let end = cells[3].len() - 100;
    cells[3][end] ^= 0x5a;
    let mut columns = batch.columns().to_vec();
    columns[6] = Arc::new(datafusion::arrow::array::BinaryArray::from(cells.iter().map(|c| Some(c.as_slice())).collect::<Vec<_>>()));
    let corrupted = RecordBatch::try_new(readings_schema(), columns).unwrap();
    let ctx = memory_session(vec![vec![corrupted]]);
    let e = sql(&ctx, "SELECT rv_stat(rows, 'mean', 'bmi') FROM readings").unwrap_err();
    assert!(e.contains("ciphertext cell 3 of a batch of 5"), "{e}");
    let found = sql(&ctx, "SELECT upload, chunk, rv_check(rows) FROM readings WHERE rv_check(rows) IS NOT NULL").unwrap();
    assert_eq!(found.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
    let b = &found[0];
    assert_eq!((b.column(0).as_primitive::<datafusion::arrow::datatypes::UInt64Type>().value(0), b.column(1).as_primitive::<datafusion::arrow::datatypes::UInt32Type>().value(0)), (3, 0));
    // Bad calls, named.
    let ctx = memory_session(vec![batches(&uploads(f)).unwrap()]);
    for (q, why) in [
        ("SELECT rv_stat(rows, 'median', 'bmi') FROM readings", "unknown statistic \"median\""),
        ("SELECT rv_stat(rows, 'mean', 'weight') FROM readings", "no column \"weight\""),
        ("SELECT rv_stat(device, 'mean', 'bmi') FROM readings", "rows is a Binary, LargeBinary or BinaryView column"),
        ("SELECT rv_stat(rows, 'mean') FROM readings", "rv_stat(rows, stat, column [, max_records])"),
        ("SELECT rv_stat(rows, 'mean', device) FROM readings", "the column must be a text literal"),
        ("SELECT rv_stat(rows, 'mean', 'bmi', 10) FROM readings", "covers 700 records, more than the 10"),
        ("SELECT rv_stats(rows, 'mean') FROM readings", "requests are a JSON list"),
        ("SELECT rv_scores(rows, '{}') FROM readings", "rv_scores: the model"),
        ("SELECT rv_check(rows, rows) FROM readings", "rv_check(rows)"),
    ] {
        let e = sql(&ctx, q).unwrap_err();
        assert!(e.contains(why), "{q}: {e}");
    }
    // Cells of another preset's keys than the first are refused, not misread.
    let other = keys::generate(f.backend.clone(), Preset::N8192, 1000).unwrap();
    let foreign = encrypt_uploads(f.backend.clone(), &f.schema, &other.public, &workloads::fixed_point_of(&f.data, 0..3), 8).unwrap().remove(0);
    let mut mixed = uploads(f);
    mixed.push(Upload { seq: 9, device: None, from: 0, to: 0, file: &foreign });
    let ctx = memory_session(vec![batches(&mixed).unwrap()]);
    let e = sql(&ctx, "SELECT rv_stat(rows, 'mean', 'bmi') FROM readings").unwrap_err();
    assert!(e.contains("under other keys") || e.contains("do not fit"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Cells dealt into any number of partitions in any order, each partition in batches of
    /// any size: the same result file as one pass.
    #[test]
    fn merging_in_any_order_and_grouping_equals_one_pass(seed in any::<u64>(), partitions in 1usize..5) {
        let f = fixture();
        let one = batches(&uploads(f)).unwrap();
        let single = memory_session(vec![one.clone()]);
        let q = "SELECT rv_stat(rows, 'variance', 'glucose') FROM readings";
        let want = one_binary(&sql(&single, q).unwrap());
        // Deal the rows out by a seeded shuffle, cutting each partition into batches of one or two rows.
        let rows: Vec<RecordBatch> = one.iter().flat_map(|b| (0..b.num_rows()).map(move |i| b.slice(i, 1))).collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut state = seed | 1;
        for i in (1..order.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions];
        for (k, &r) in order.iter().enumerate() {
            let p = &mut parts[k % partitions];
            let pair = (state >> (k % 60)) & 1 == 1;
            match p.last_mut() {
                Some(last) if pair && last.num_rows() == 1 => *last = datafusion::arrow::compute::concat_batches(&readings_schema(), [&*last, &rows[r]]).unwrap(),
                _ => p.push(rows[r].clone()),
            }
        }
        let got = one_binary(&sql(&memory_session(parts), q).unwrap());
        prop_assert_eq!(got, want);
    }
}
