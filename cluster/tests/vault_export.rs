//! From a running vault to SQL: a vault on loopback with a real on-disk store takes the
//! cohort's uploads from two devices and the owner; its stored uploads are exported to Parquet
//! (the library, and the `export` command from where the last export stopped); DataFusion's answers over the export are
//! byte for byte the vault's own answers to the same queries.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::process::Command;
use std::sync::Arc;

use datafusion::prelude::ParquetReadOptions;

use common::*;
use ringvault_app::config::VaultSettings;
use ringvault_app::query::{QueryRequest, runner_on};
use ringvault_cluster::export::export_vault;
use ringvault_vault::client::{Client, write_token_file};
use ringvault_vault::{ServeOptions, spawn};

#[test]
fn exported_uploads_answer_as_the_vault_does() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let runner: Arc<dyn ringvault_app::query::QueryRunner> = Arc::from(runner_on(f.backend.clone()));
    let settings = VaultSettings { listen: "127.0.0.1:0".into(), ..VaultSettings::default() };
    let vault = spawn(ServeOptions { data: dir.path().join("store"), settings, runner }).unwrap();
    let operator = Client::new(&vault.url(), vault.operator_token()).unwrap();
    let created = operator.create_dataset("cohort", &f.schema).unwrap();
    let owner = Client::new(&vault.url(), &created.owner_token).unwrap();
    let keys = dir.path().join("eval.keys");
    std::fs::write(&keys, &f.keys.eval).unwrap();
    owner.upload_keys(&created.id, &keys).unwrap();
    let devices: Vec<_> = ["monitor-a", "monitor-b"].iter().map(|n| owner.issue_device(&created.id, n).unwrap()).collect();
    // Uploads 0 and 2 from the devices, 1 from the owner, each with its time range.
    for (i, file) in f.files.iter().enumerate() {
        let who = match i { 0 => Client::new(&vault.url(), &devices[0].token).unwrap(), 2 => Client::new(&vault.url(), &devices[1].token).unwrap(), _ => owner.clone() };
        who.push(&created.id, file, &format!("u{i}"), Some(1_000 * i as i64), Some(1_000 * i as i64 + 999)).unwrap();
    }

    // Export with the library (a second export rewrites the file whole), then with the
    // command from where it stopped: nothing new.
    let table = dir.path().join("readings");
    std::fs::create_dir_all(&table).unwrap();
    let (written, last) = export_vault(&owner, &created.id, None, &table.join("part-0.parquet")).unwrap();
    assert_eq!((written.uploads, written.records, last), (3, RECORDS as u64, Some(2)));
    std::fs::remove_file(table.join("part-0.parquet")).unwrap();
    let (written, last) = export_vault(&owner, &created.id, None, &table.join("part-0.parquet")).unwrap();
    assert_eq!((written.uploads, last), (3, Some(2)));
    let token = dir.path().join("owner.token");
    write_token_file(&token, &created.owner_token).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ringvault-cluster"))
        .args(["export", "--vault", &vault.url(), "--token-file", token.to_str().unwrap(), "--dataset", &created.id, "--after", "2", "--out", dir.path().join("none.parquet").to_str().unwrap()])
        .env("RINGVAULT_BACKEND", "cpu")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && printed.starts_with("0 uploads") && printed.trim_end().ends_with("\n2"), "{printed} {}", String::from_utf8_lossy(&o.stderr));

    // The same questions, of the vault and of DataFusion over the export.
    let ctx = ringvault_cluster::session(&engine(), cell_bytes(), 2);
    block(ctx.register_parquet("readings", table.to_str().unwrap(), ParquetReadOptions::default()));
    let ask = |request: QueryRequest| owner.query(&created.id, &request, &mut |_| {}).unwrap();
    let stat = |s: &str, c: &str| QueryRequest { stat: Some(s.into()), column: Some(c.into()), ..QueryRequest::default() };
    let sql_one = |q: &str| one_binary(&sql(&ctx, q).unwrap());
    assert_eq!(sql_one("SELECT rv_stat(rows, 'variance', 'glucose') FROM readings"), ask(stat("variance", "glucose")));
    let dev = &devices[1].id;
    assert_eq!(sql_one(&format!("SELECT rv_stat(rows, 'mean', 'bmi') FROM readings WHERE device = '{dev}'")), ask(QueryRequest { device: Some(dev.clone()), ..stat("mean", "bmi") }));
    assert_eq!(sql_one("SELECT rv_stat(rows, 'sum', 'age') FROM readings WHERE \"to\" >= 1000"), ask(QueryRequest { from: Some(1000), ..stat("sum", "age") }));
    vault.shutdown().unwrap();
}
