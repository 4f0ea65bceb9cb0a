//! Hostile requests against the real binary: upload bodies truncated, bit-flipped, oversized,
//! encrypted under other parameters, for another schema, garbage or empty; hostile key sets;
//! malformed JSON and unknown fields. Each is a 4xx with a JSON `{"error"}` message, never a
//! 5xx; afterwards nothing was stored and the server still serves (a valid push works).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod vault_common;

use std::path::Path;

use serde_json::{Value, json};
use vault_common::*;

/// The columns most tests upload: `bmi` (1 decimal) and `age`.
fn ward_schema() -> Value {
    schema(&[("bmi", 1, 10.0, 80.0), ("age", 0, 0.0, 120.0)])
}

/// Two records: bmi 25.3 and 30.1, age 40 and 62.
fn two_rows() -> Vec<(&'static str, u32, Vec<i128>)> {
    vec![("bmi", 1, vec![253, 301]), ("age", 0, vec![40, 62])]
}

/// A fresh server with one dataset ("ward", [`ward_schema`]) and its keys.
struct Ward {
    work: tempfile::TempDir,
    server: Server,
    http: Http,
    op: String,
    keys: std::path::PathBuf,
    ds: Dataset,
}

fn ward() -> Ward {
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(&work.path().join("data"));
    let http = server.http();
    let op = server.operator_token();
    let keys = keys();
    let ds = create_dataset(&http, &op, "ward", &ward_schema());
    put_keys(&http, &ds, &keys);
    Ward { work, server, http, op, keys, ds }
}

/// Asserts a refusal: a 4xx (optionally exactly `want`) with a JSON error message.
fn refused(r: &Resp, want: Option<u16>, what: &str) -> String {
    try_refused(r, want, what).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether `r` is a refusal: a 4xx (optionally exactly `want`) with a JSON `{"error"}`.
fn try_refused(r: &Resp, want: Option<u16>, what: &str) -> Result<String, String> {
    let text = || r.text().chars().take(300).collect::<String>();
    if !(400..500).contains(&r.status) || want.is_some_and(|w| w != r.status) {
        let want = want.map_or("a 4xx".to_owned(), |w| w.to_string());
        return Err(format!("{what}: expected {want}, got {}: {}", r.status, text()));
    }
    let is_json = r.header("content-type").is_some_and(|c| c.starts_with("application/json"));
    let msg = serde_json::from_slice::<Value>(&r.body).ok().and_then(|v| v["error"].as_str().map(str::to_owned));
    match msg {
        Some(m) if is_json && !m.trim().is_empty() => Ok(m),
        _ => Err(format!("{what}: {} without a JSON {{\"error\"}} message: {}", r.status, text())),
    }
}

/// Refusals checked one by one, reported together.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn refused(&mut self, r: &Resp, want: Option<u16>, what: &str) {
        if let Err(e) = try_refused(r, want, what) {
            self.0.push(e);
        }
    }
    fn done(self) {
        assert!(self.0.is_empty(), "{} wrong answers:\n{}", self.0.len(), self.0.join("\n"));
    }
}

/// The files in `DIR/keys`.
fn key_files(data: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(data.join("keys")).map(|r| r.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    v.sort();
    v
}

/// The structural bytes of a container (magic, header length, each object's length and
/// 32-byte wire header): the offsets a flip there must always be refused at.
fn structural_offsets(file: &[u8]) -> Vec<usize> {
    let mut out: Vec<usize> = (0..12).collect();
    let hl = u32::from_le_bytes(file[8..12].try_into().unwrap()) as usize;
    let mut p = 12 + hl;
    while p + 8 <= file.len() {
        let n = u64::from_le_bytes(file[p..p + 8].try_into().unwrap()) as usize;
        if p + 8 + n > file.len() {
            break;
        }
        out.extend(p..p + 8 + 32.min(n));
        p += 8 + n;
    }
    out
}

#[test]
fn hostile_uploads_are_refused_and_nothing_is_stored() {
    let Ward { work, server, http, op, keys, ds } = ward();
    let dev = add_device(&http, &ds, "monitor");
    let valid = encrypt(&keys, &ward_schema(), &two_rows(), 8).remove(0);
    upload(&http, &ds.id, &dev.token, "valid-0", &valid).send().expect(201, "a valid upload");
    let before = counts(&http, &ds.id, &op);
    assert_eq!(before, (1, 2));
    let mut n = 0;
    let mut key = || {
        n += 1;
        format!("hostile-{n}")
    };
    let post = |k: &str, body: &[u8]| upload(&http, &ds.id, &dev.token, k, body).send();

    // Empty, garbage, other kinds of file.
    refused(&post(&key(), b""), Some(400), "an empty body");
    let mut rng = Rng(0x5eed_0001);
    let garbage: Vec<u8> = (0..4096).map(|_| rng.next_u64() as u8).collect();
    refused(&post(&key(), &garbage), Some(422), "garbage");
    let mut fake = b"RVFILE01".to_vec();
    fake.extend_from_slice(&garbage);
    refused(&post(&key(), &fake), Some(422), "the magic then garbage");
    let mut huge_header = b"RVFILE01".to_vec();
    huge_header.extend_from_slice(&u32::MAX.to_le_bytes());
    refused(&post(&key(), &huge_header), Some(422), "a header length past the body");
    refused(&post(&key(), br#"{"columns": []}"#), Some(422), "JSON as an upload");
    for f in ["public.key", "eval.keys"] {
        let msg = refused(&post(&key(), &std::fs::read(keys.join(f)).unwrap()), Some(422), f);
        assert!(msg.contains("rows"), "{f}: the message says a rows file was expected: {msg}");
    }
    let stat_file = query(&http, &ds, &json!({"stat": "sum", "column": "bmi"}));
    refused(&post(&key(), &stat_file), Some(422), "a result file");

    // Truncated at several offsets.
    let len = valid.len();
    for cut in [1, 8, 11, 12, 40, 200, len / 4, len / 2, len - 33, len - 32, len - 1] {
        refused(&post(&key(), &valid[..cut]), Some(422), &format!("truncated to {cut} of {len} bytes"));
    }
    // Trailing bytes.
    let mut longer = valid.clone();
    longer.extend_from_slice(b"\0\0\0\0");
    refused(&post(&key(), &longer), Some(422), "trailing bytes");

    // Bit flips: many random ones (fixed seed) and every structural byte's lowest bit.
    let mut rng = Rng(0xf11b_0002);
    let mut offsets: Vec<usize> = (0..200).map(|_| rng.range(0, len as u64) as usize).collect();
    offsets.extend(structural_offsets(&valid));
    let mut accepted = Vec::new();
    for (i, off) in offsets.iter().enumerate() {
        let bit = if i < 200 { rng.range(0, 8) } else { 0 };
        let mut b = valid.clone();
        b[*off] ^= 1 << bit;
        let r = post(&key(), &b);
        if r.status < 300 {
            accepted.push((*off, bit));
        } else {
            refused(&r, Some(422), &format!("bit {bit} of byte {off} flipped"));
        }
    }
    assert!(accepted.is_empty(), "{} bit-flipped uploads were stored (byte, bit): {accepted:?}", accepted.len());

    // Wrong parameters: another preset.
    let n8192 = keyset("n8192", "n8192");
    let other_preset = encrypt(&n8192, &ward_schema(), &two_rows(), 8).remove(0);
    let msg = refused(&post(&key(), &other_preset), Some(422), "a table for n8192");
    assert!(msg.contains("n8192") || msg.contains("parameter"), "the message names the parameters: {msg}");

    // Wrong schema: other names, order, decimals, column count, values past the declared range.
    for (what, sch, cols) in [
        ("other column names", schema(&[("pulse", 1, 10.0, 80.0), ("age", 0, 0.0, 120.0)]), vec![("pulse", 1, vec![253, 301]), ("age", 0, vec![40, 62])]),
        ("columns swapped", schema(&[("age", 0, 0.0, 120.0), ("bmi", 1, 10.0, 80.0)]), vec![("age", 0, vec![40, 62]), ("bmi", 1, vec![253, 301])]),
        ("other decimals", schema(&[("bmi", 2, 10.0, 80.0), ("age", 0, 0.0, 120.0)]), vec![("bmi", 2, vec![2530, 3010]), ("age", 0, vec![40, 62])]),
        ("a column fewer", schema(&[("bmi", 1, 10.0, 80.0)]), vec![("bmi", 1, vec![253, 301])]),
        ("a column more", schema(&[("bmi", 1, 10.0, 80.0), ("age", 0, 0.0, 120.0), ("glu", 0, 0.0, 600.0)]), vec![("bmi", 1, vec![253, 301]), ("age", 0, vec![40, 62]), ("glu", 0, vec![90, 100])]),
        ("an age past the declared range", schema(&[("bmi", 1, 10.0, 80.0), ("age", 0, 0.0, 5000.0)]), vec![("bmi", 1, vec![253, 301]), ("age", 0, vec![40, 4000])]),
    ] {
        let body = encrypt(&keys, &sch, &cols, 8).remove(0);
        refused(&post(&key(), &body), Some(422), what);
    }

    // The request around the body: content type, idempotency key, query string.
    let path = format!("/v1/datasets/{}/uploads", ds.id);
    refused(&http.post(&path).token(&dev.token).header("Idempotency-Key", &key()).body("text/plain", valid.clone()).send(), Some(415), "text/plain");
    refused(&http.post(&path).token(&dev.token).header("Idempotency-Key", &key()).raw_body(valid.clone()).send(), Some(415), "no content type");
    refused(&http.post(&path).token(&dev.token).body("application/octet-stream", valid.clone()).send(), Some(400), "no Idempotency-Key");
    for bad in ["a b", "a/b", "ü", &"k".repeat(129)] {
        refused(&http.post(&path).token(&dev.token).header("Idempotency-Key", bad).body("application/octet-stream", valid.clone()).send(), Some(400), &format!("Idempotency-Key {bad:?}"));
    }
    for (q, want) in [("?from=yesterday", 400), ("?bogus=1", 400), ("?from=10&to=5", 422), ("?from=99999999999999999999999", 400)] {
        refused(&http.post(&format!("{path}{q}")).token(&dev.token).header("Idempotency-Key", &key()).body("application/octet-stream", valid.clone()).send(), Some(want), q);
    }
    // The same key for another body: 409, the first body stays.
    let other_valid = encrypt(&keys, &ward_schema(), &two_rows(), 8).remove(0);
    assert_ne!(other_valid, valid, "encryption is randomised");
    refused(&post("valid-0", &other_valid), Some(409), "a reused Idempotency-Key");
    let again = post("valid-0", &valid).expect(200, "a retry of the first upload");
    assert_eq!(again.json()["duplicate"], true);

    // Nothing of it was stored; the server still serves; a valid push still works.
    assert_eq!(counts(&http, &ds.id, &op), before, "hostile uploads changed the dataset");
    let devs = http.get(&format!("/v1/datasets/{}/devices", ds.id)).token(&ds.owner).send().expect(200, "devices").json();
    assert_eq!((devs[0]["uploads"].as_u64(), devs[0]["records"].as_u64()), (Some(1), Some(2)), "{devs}");
    assert_eq!(http.get("/v1/health").send().expect(200, "health").json()["status"], "ok");
    upload(&http, &ds.id, &dev.token, "valid-1", &other_valid).send().expect(201, "a valid upload after the hostile ones");
    let (count, sum) = stat(&http, &ds, &keys, work.path(), "sum", "bmi");
    assert_eq!(count, 4);
    assert!(rel_err(sum, 2.0 * (25.3 + 30.1)) <= 1e-9, "sum {sum}");
    assert!(server.log().lines().all(|l| !l.contains("panicked")), "a handler panicked:\n{}", server.log());
}

#[test]
fn oversized_bodies_are_refused_with_413_naming_the_limit() {
    let work = tempfile::tempdir().unwrap();
    let server = Server::start_with(&work.path().join("data"), &[("RINGVAULT_VAULT_MAX_UPLOAD_MB", "1"), ("RINGVAULT_VAULT_MAX_KEYS_MB", "8")]);
    let http = server.http();
    let op = server.operator_token();
    let keys = keys();
    let ds = create_dataset(&http, &op, "small limits", &ward_schema());
    put_keys(&http, &ds, &keys);
    let path = format!("/v1/datasets/{}/uploads", ds.id);
    let limit = 1u64 << 20;
    let names_limit = |msg: &str| msg.contains("1048576") || msg.contains("1 MiB");
    let up = |k: &str| http.post(&path).token(&ds.owner).header("Idempotency-Key", k).header("Content-Type", "application/octet-stream");

    // Declared too long: answered before any of the body is sent.
    let r = up("big-0").send_declaring(limit + 1).unwrap();
    let msg = refused(&r, Some(413), "Content-Length over the limit");
    assert!(names_limit(&msg), "the message names the limit: {msg}");
    // A length no body can have: refused by the HTTP layer itself (a bare 4xx).
    let r = up("big-1").send_declaring(u64::MAX).unwrap();
    assert!((400..500).contains(&r.status), "Content-Length u64::MAX: {} {}", r.status, r.text());
    // A real body one byte over.
    let big = vec![0x5au8; (limit + 1) as usize];
    let msg = refused(&upload(&http, &ds.id, &ds.owner, "big-2", &big).send(), Some(413), "a body one byte over the limit");
    assert!(names_limit(&msg), "{msg}");
    // Chunked, without a length: cut off once past the limit.
    let r = up("big-3").raw_body(vec![0x33u8; 3 << 20]).send_chunked(64 << 10, Some((limit + (64 << 10)) as usize)).unwrap();
    let msg = refused(&r, Some(413), "a chunked body past the limit");
    assert!(names_limit(&msg), "{msg}");
    // At the limit it is read and validated (garbage: 422, not 413).
    refused(&upload(&http, &ds.id, &ds.owner, "big-4", &vec![0x5au8; limit as usize]).send(), Some(422), "a body at the limit");
    // Evaluation keys have their own limit.
    let r = http.put(&format!("/v1/datasets/{}/keys", ds.id)).token(&ds.owner).header("Content-Type", "application/octet-stream").send_declaring((8 << 20) + 1).unwrap();
    let msg = refused(&r, Some(413), "keys over their limit");
    assert!(msg.contains("evaluation keys") && (msg.contains("8388608") || msg.contains("8 MiB")), "{msg}");
    // Chunked keys past their limit: cut off, and no partial key file stays behind. (The body
    // opens with a real eval.keys file: anything else is refused at its first chunk, 422.)
    let mut past = std::fs::read(keys.join("eval.keys")).unwrap();
    past.resize(9 << 20, 7);
    let r = http.put(&format!("/v1/datasets/{}/keys", ds.id)).token(&ds.owner).header("Content-Type", "application/octet-stream").raw_body(past).send_chunked(256 << 10, Some((8 << 20) + (256 << 10))).unwrap();
    refused(&r, Some(413), "chunked keys past their limit");
    let strays: Vec<String> = key_files(&server.data).into_iter().filter(|f| f.starts_with("tmp-")).collect();
    assert!(strays.is_empty(), "a refused key upload left {strays:?}");
    // JSON bodies too.
    let filler = "x".repeat(2 << 20);
    let r = http.post("/v1/datasets").token(&op).body("application/json", format!("{{\"name\": \"{filler}\", \"schema\": {{}}}}").into_bytes()).send();
    refused(&r, Some(413), "a 2 MiB JSON body");

    // Nothing stored; a valid upload still works.
    assert_eq!(counts(&http, &ds.id, &op), (0, 0));
    let valid = encrypt(&keys, &ward_schema(), &two_rows(), 8).remove(0);
    assert!((valid.len() as u64) < limit, "a two-row upload is {} bytes, over the 1 MiB limit of this test", valid.len());
    upload(&http, &ds.id, &ds.owner, "ok", &valid).send().expect(201, "a valid upload under the limit");
    assert_eq!(counts(&http, &ds.id, &op), (1, 2));
    assert_eq!(http.get("/v1/health").send().expect(200, "health").json()["status"], "ok");
}

#[test]
fn an_upload_encrypted_under_another_key_set_is_refused() {
    let Ward { work: _work, server: _server, http, op, keys: _keys, ds } = ward();
    // Same preset, same parameters, another owner's keys: a device with a stale public key.
    let other = keyset("other", "n4096");
    let body = encrypt(&other, &ward_schema(), &two_rows(), 8).remove(0);
    let r = upload(&http, &ds.id, &ds.owner, "stale-key", &body).send();
    refused(&r, Some(422), "a table encrypted under another key set of the same preset");
    assert_eq!(counts(&http, &ds.id, &op), (0, 0), "nothing stored");
}

#[test]
fn hostile_key_sets_are_refused_and_leave_no_file() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let server = Server::start(&data);
    let http = server.http();
    let op = server.operator_token();
    let keys = keys();
    let ds = create_dataset(&http, &op, "keys", &ward_schema());
    let path = format!("/v1/datasets/{}/keys", ds.id);
    let put = |body: Vec<u8>| http.put(&path).token(&ds.owner).body("application/octet-stream", body).send();
    let eval = std::fs::read(keys.join("eval.keys")).unwrap();

    refused(&put(Vec::new()), Some(400), "empty keys");
    refused(&http.put(&path).token(&ds.owner).body("text/plain", eval.clone()).send(), Some(415), "keys as text/plain");
    let len = eval.len();
    for cut in [1, 11, 12, 100, len / 3, len / 2, len - 32, len - 1] {
        refused(&put(eval[..cut].to_vec()), Some(422), &format!("keys truncated to {cut} of {len} bytes"));
    }
    let mut rng = Rng(0x6b65_7973);
    // Each refused key set is streamed to disk and validated: a sample keeps this short (the
    // container's magic and lengths, the first object's header, every 7th later structural
    // byte, a few random bytes).
    let structural = structural_offsets(&eval);
    let mut offsets: Vec<usize> = structural.iter().take(52).copied().collect();
    offsets.extend(structural.iter().skip(52).step_by(7).take(24));
    offsets.extend((0..8).map(|_| rng.range(0, len as u64) as usize));
    for (i, off) in offsets.iter().enumerate() {
        let mut b = eval.clone();
        b[*off] ^= 1 << (i % 8);
        refused(&put(b), Some(422), &format!("keys with bit {} of byte {off} flipped", i % 8));
        if i % 16 == 0 {
            assert!(dataset_info(&http, &ds.id, &op)["keys"].is_null(), "flipped keys were accepted (byte {off})");
        }
    }
    for f in ["public.key", "secret.key"] {
        let msg = refused(&put(std::fs::read(keys.join(f)).unwrap()), Some(422), f);
        assert!(msg.contains("evaluation"), "{f}: the message says evaluation keys were expected: {msg}");
    }
    let table = encrypt(&keys, &ward_schema(), &two_rows(), 8).remove(0);
    refused(&put(table), Some(422), "a table as keys");
    let mut rng = Rng(7);
    refused(&put((0..100_000).map(|_| rng.next_u64() as u8).collect()), Some(422), "garbage keys");

    // Valid keys, but a schema whose ranges do not fit their parameters.
    let wide = create_dataset(&http, &op, "too wide", &schema(&[("x", 0, 0.0, 1e13)]));
    let msg = refused(&http.put(&format!("/v1/datasets/{}/keys", wide.id)).token(&wide.owner).body("application/octet-stream", eval.clone()).send(), Some(422), "keys too small for the schema");
    assert!(msg.contains('x'), "the message names the column: {msg}");

    // Nothing stored: no keys, no file left in DIR/keys (temporary or installed).
    assert!(dataset_info(&http, &ds.id, &op)["keys"].is_null());
    assert!(dataset_info(&http, &wide.id, &op)["keys"].is_null());
    assert_eq!(key_files(&data), Vec::<String>::new(), "refused key sets left files behind");
    // A refused dataset cannot take uploads yet.
    let body = encrypt(&keys, &ward_schema(), &two_rows(), 8).remove(0);
    refused(&upload(&http, &ds.id, &ds.owner, "early", &body).send(), Some(409), "an upload before the keys");

    // Then the real keys are accepted; other keys are refused afterwards (409).
    let info = put_keys(&http, &ds, &keys);
    assert_eq!(info["preset"], "n4096");
    assert_eq!(key_files(&data).len(), 2, "the keys and their public key: {:?}", key_files(&data));
    let other = keyset("other", "n4096");
    refused(&put(std::fs::read(other.join("eval.keys")).unwrap()), Some(409), "other keys once set");
    assert_eq!(key_files(&data).len(), 2, "{:?}", key_files(&data));
    upload(&http, &ds.id, &ds.owner, "first", &body).send().expect(201, "an upload after the keys");
}

#[test]
fn malformed_json_and_unknown_fields_are_4xx_with_a_message() {
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(&work.path().join("data"));
    let http = server.http();
    let op = server.operator_token();
    let keys = keys();
    let good = ward_schema();
    let ds = create_dataset(&http, &op, "json", &good);
    put_keys(&http, &ds, &keys);
    upload(&http, &ds.id, &ds.owner, "one", &encrypt(&keys, &good, &two_rows(), 8).remove(0)).send().expect(201, "upload");
    let list_len = || http.get("/v1/datasets").token(&op).send().expect(200, "list").json().as_array().unwrap().len();
    let datasets_before = list_len();
    let mut chk = Checks::default();
    let col = |extra: Value| {
        let mut c = json!({"name": "a", "decimals": 0, "min": 0, "max": 1});
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        c
    };

    // Creating datasets.
    let raw = |b: &[u8]| http.post("/v1/datasets").token(&op).body("application/json", b.to_vec()).send();
    for (what, body, want) in [
        ("empty", &b""[..], 400),
        ("truncated JSON", br#"{"name": "x", "schema": {"#, 400),
        ("not JSON", b"name=x", 400),
        ("not UTF-8", b"{\"name\": \"\xff\xfe\"}", 400),
        ("an array", b"[]", 422),
        ("null", b"null", 422),
    ] {
        chk.refused(&raw(body), Some(want), &format!("create: {what}"));
    }
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = raw(nested.as_bytes());
    chk.refused(&r, None, "create: 100000 nested arrays");
    for (what, body) in [
        ("no schema", json!({"name": "x"})),
        ("no name", json!({"schema": good})),
        ("an unknown field", json!({"name": "x", "schema": good, "owner": "me"})),
        ("an empty name", json!({"name": "  ", "schema": good})),
        ("a control character in the name", json!({"name": "a\u{7}b", "schema": good})),
        ("a name of 200 characters", json!({"name": "n".repeat(200), "schema": good})),
        ("a number as name", json!({"name": 5, "schema": good})),
        ("no columns", json!({"name": "x", "schema": {"columns": []}})),
        ("columns as text", json!({"name": "x", "schema": {"columns": "bmi"}})),
        ("an unknown schema field", json!({"name": "x", "schema": {"columns": [col(json!({}))], "units": "kg"}})),
        ("an unknown column field", json!({"name": "x", "schema": {"columns": [col(json!({"unit": "kg"}))]}})),
        ("min above max", json!({"name": "x", "schema": {"columns": [col(json!({"min": 5, "max": 1}))]}})),
        ("a column twice", json!({"name": "x", "schema": {"columns": [col(json!({})), col(json!({}))]}})),
        ("19 decimals", json!({"name": "x", "schema": {"columns": [col(json!({"decimals": 19}))]}})),
        ("negative decimals", json!({"name": "x", "schema": {"columns": [col(json!({"decimals": -1}))]}})),
        ("a range of 1e40", json!({"name": "x", "schema": {"columns": [col(json!({"max": 1e40}))]}})),
        ("a column without a name", json!({"name": "x", "schema": {"columns": [{"decimals": 0, "min": 0, "max": 1}]}})),
        ("an empty column name", json!({"name": "x", "schema": {"columns": [col(json!({"name": " "}))]}})),
        ("no computation", json!({"name": "x", "schema": {"columns": [col(json!({}))], "computations": []}})),
        ("an unknown computation", json!({"name": "x", "schema": {"columns": [col(json!({}))], "computations": ["everything"]}})),
    ] {
        chk.refused(&http.post("/v1/datasets").token(&op).json(&body).send(), Some(422), &format!("create: {what}"));
    }
    chk.refused(&http.post("/v1/datasets").token(&op).body("text/plain", serde_json::to_vec(&json!({"name": "x", "schema": good})).unwrap()).send(), Some(415), "create as text/plain");
    assert_eq!(list_len(), datasets_before, "a refused create made a dataset");

    // Devices.
    let dpath = format!("/v1/datasets/{}/devices", ds.id);
    for (what, body, want) in [
        ("truncated", json!(null), 0),
        ("no name", json!({}), 422),
        ("an empty name", json!({"name": ""}), 422),
        ("a role", json!({"name": "x", "role": "operator"}), 422),
        ("a dataset", json!({"name": "x", "dataset": "other"}), 422),
    ] {
        let r = if want == 0 { http.post(&dpath).token(&ds.owner).body("application/json", b"{\"name\":".to_vec()).send() } else { http.post(&dpath).token(&ds.owner).json(&body).send() };
        chk.refused(&r, Some(if want == 0 { 400 } else { want }), &format!("device: {what}"));
    }
    let devices = http.get(&dpath).token(&ds.owner).send().expect(200, "devices").json();
    assert_eq!(devices.as_array().unwrap().len(), 0, "a refused device request made a device: {devices}");

    // Queries.
    let qpath = format!("/v1/datasets/{}/queries", ds.id);
    let q = |v: &Value| http.post(&qpath).token(&ds.owner).json(v).send();
    for (what, body, want) in [("empty", &b""[..], 400), ("truncated", br#"{"stat": "#, 400), ("not UTF-8", b"\xff", 400), ("an array", b"[1]", 422)] {
        chk.refused(&http.post(&qpath).token(&ds.owner).body("application/json", body.to_vec()).send(), Some(want), &format!("query: {what}"));
    }
    for (what, body) in [
        ("no column", json!({"stat": "mean"})),
        ("no statistic", json!({"column": "bmi"})),
        ("nothing", json!({})),
        ("an unknown statistic", json!({"stat": "median", "column": "bmi"})),
        ("a number as statistic", json!({"stat": 3, "column": "bmi"})),
        ("an unknown column", json!({"stat": "mean", "column": "weight"})),
        ("an unknown field", json!({"stat": "mean", "column": "bmi", "limit": 10})),
        ("both stat and logreg", json!({"stat": "mean", "column": "bmi", "logreg": {"intercept": 0, "weights": {"bmi": 1}}})),
        ("a model without weights", json!({"logreg": {"intercept": 0, "weights": {}}})),
        ("a model of an unknown column", json!({"logreg": {"intercept": 0, "weights": {"weight": 1}}})),
        ("a model with an unknown field", json!({"logreg": {"intercept": 0, "weights": {"bmi": 1}, "bias": 2}})),
        ("a model with text weights", json!({"logreg": {"intercept": 0, "weights": {"bmi": "1"}}})),
        ("from after to", json!({"stat": "mean", "column": "bmi", "from": 10, "to": 5})),
        ("a time as text", json!({"stat": "mean", "column": "bmi", "from": "yesterday"})),
        ("an unknown device", json!({"stat": "mean", "column": "bmi", "device": "nope"})),
        ("a window without records", json!({"stat": "mean", "column": "bmi", "from": 4_000_000_000_i64})),
    ] {
        chk.refused(&q(&body), Some(422), &format!("query: {what}"));
    }
    // Models that cannot be computed exactly are refused, not evaluated into nonsense.
    for (what, body) in [
        ("weights of 1e300", json!({"logreg": {"intercept": 1e300, "weights": {"bmi": 1e300}}})),
        ("an intercept of -1e30", json!({"logreg": {"intercept": -1e30, "weights": {"bmi": 1}}})),
    ] {
        chk.refused(&q(&body), None, &format!("query: {what}"));
    }
    chk.refused(&http.post(&qpath).token(&ds.owner).body("text/plain", b"{}".to_vec()).send(), Some(415), "query as text/plain");

    // Unknown routes and methods are JSON errors too.
    chk.refused(&http.get("/v1/nope").token(&op).send(), Some(404), "an unknown route");
    chk.refused(&http.req("PATCH", &format!("/v1/datasets/{}", ds.id)).token(&op).send(), Some(405), "an unknown method");

    chk.done();

    // Nothing changed; the server still serves.
    assert_eq!(counts(&http, &ds.id, &op), (1, 2));
    let (count, sum) = stat(&http, &ds, &keys, work.path(), "sum", "age");
    assert_eq!((count, sum), (2, 102.0));
    assert_eq!(http.get("/v1/health").send().expect(200, "health").json()["status"], "ok");
}

#[test]
fn a_stalled_upload_times_out_with_408_and_stores_nothing() {
    let work = tempfile::tempdir().unwrap();
    let server = Server::start_with(&work.path().join("data"), &[("RINGVAULT_VAULT_REQUEST_TIMEOUT_S", "1")]);
    let http = server.http();
    let op = server.operator_token();
    let keys = keys();
    let ds = create_dataset(&http, &op, "slow", &ward_schema());
    put_keys(&http, &ds, &keys);
    let valid = encrypt(&keys, &ward_schema(), &two_rows(), 8).remove(0);
    // Half the body, then nothing: the vault gives up (bounded by the client's read timeout).
    let r = upload(&http, &ds.id, &ds.owner, "stalled", &valid).send_stalled(valid.len() / 2).unwrap();
    let msg = refused(&r, Some(408), "a stalled upload");
    assert!(msg.contains("1 s"), "the message names the limit: {msg}");
    assert_eq!(counts(&http, &ds.id, &op), (0, 0));
    // The same key with the whole body is a fresh upload.
    let r = upload(&http, &ds.id, &ds.owner, "stalled", &valid).send().expect(201, "the complete upload");
    assert_eq!(r.json()["duplicate"], false);
    assert_eq!(counts(&http, &ds.id, &op), (1, 2));
}
