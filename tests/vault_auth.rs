//! The vault's authorization matrix through the real binary: every endpoint of the router
//! (`vault/src/api.rs`) × every kind of caller → the expected status, each cell asserted.
//! 401 for no, malformed, unknown or revoked tokens; 403 for a valid token of the wrong role
//! or of another dataset (whether or not that dataset exists); success otherwise. A device
//! token can never read. Health is anonymous. No token ever appears in the server's log.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod vault_common;

use std::time::Duration;

use serde_json::{Value, json};
use vault_common::*;

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// No `Authorization` header.
    Anonymous,
    /// A token of the wrong shape.
    Malformed,
    /// A well-formed token the vault never issued.
    Unknown,
    /// The owner of another dataset (B).
    OtherOwner,
    /// A device of the dataset (A).
    Device,
    /// A revoked device of the dataset (A).
    Revoked,
    /// The operator.
    Operator,
    /// The owner of the dataset (A).
    Owner,
}

const WHO: [Who; 8] = [Who::Anonymous, Who::Malformed, Who::Unknown, Who::OtherOwner, Who::Device, Who::Revoked, Who::Operator, Who::Owner];

struct Ctx {
    http: Http,
    operator: String,
    a: Dataset,
    b: Dataset,
    dev: Device,
    rev: Device,
    unknown: String,
    body: Vec<u8>,
    schema: Value,
    keys: std::path::PathBuf,
    /// Every token this test saw (none may reach the log).
    seen: std::sync::Mutex<Vec<String>>,
    next_key: std::sync::atomic::AtomicU64,
}

impl Ctx {
    fn token(&self, who: Who) -> Option<String> {
        match who {
            Who::Anonymous => None,
            Who::Malformed => Some("rv_not-a-token".into()),
            Who::Unknown => Some(self.unknown.clone()),
            Who::OtherOwner => Some(self.b.owner.clone()),
            Who::Device => Some(self.dev.token.clone()),
            Who::Revoked => Some(self.rev.token.clone()),
            Who::Operator => Some(self.operator.clone()),
            Who::Owner => Some(self.a.owner.clone()),
        }
    }

    fn as_who(&self, r: Req, who: Who) -> Req {
        r.maybe_token(self.token(who).as_deref())
    }

    fn remember(&self, t: &str) {
        self.seen.lock().unwrap().push(t.to_owned());
    }

    fn fresh_key(&self) -> String {
        format!("auth-{}", self.next_key.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// A new dataset with keys (for a cell that deletes one).
    fn fresh_dataset(&self, name: &str) -> Dataset {
        let d = create_dataset(&self.http, &self.operator, name, &self.schema);
        put_keys(&self.http, &d, &self.keys);
        self.remember(&d.owner);
        d
    }
}

/// One row of the matrix: an endpoint, the status each caller gets, and the request.
struct Row<'a> {
    name: &'static str,
    expect: [u16; 8],
    /// Another status also accepted for the owner (a query answered as a job).
    owner_alt: Option<u16>,
    make: Box<dyn Fn(Who) -> Req + 'a>,
}

fn row<'a>(name: &'static str, expect: [u16; 8], make: impl Fn(Who) -> Req + 'a) -> Row<'a> {
    Row { name, expect, owner_alt: None, make: Box::new(make) }
}

#[test]
fn every_endpoint_times_every_caller_gets_the_expected_status_and_no_token_is_logged() {
    let work = tempfile::tempdir().unwrap();
    let server = Server::start_with(&work.path().join("data"), &[("RUST_LOG", "debug"), ("RINGVAULT_VAULT_FAULTS", "1")]);
    let http = server.http();
    let operator = server.operator_token();
    let keys = keys();
    let schema = schema(&[("bmi", 1, 10.0, 80.0), ("age", 0, 0.0, 120.0)]);
    let a = create_dataset(&http, &operator, "ward A", &schema);
    let b = create_dataset(&http, &operator, "ward B", &schema);
    put_keys(&http, &a, &keys);
    put_keys(&http, &b, &keys);
    let dev = add_device(&http, &a, "monitor");
    let rev = add_device(&http, &a, "stolen monitor");
    http.delete(&format!("/v1/datasets/{}/devices/{}", a.id, rev.id)).token(&a.owner).send().expect(200, "revoke");
    let bodies = encrypt(&keys, &schema, &[("bmi", 1, vec![253, 301]), ("age", 0, vec![40, 62])], 2);
    let body = bodies[0].clone();
    // Some records, so that queries have something to compute.
    for i in 0..4 {
        upload(&http, &a.id, &dev.token, &format!("seed-{i}"), &body).send().expect(201, "seed upload");
    }
    let unknown = format!("rv_{}", "0123456789abcdef".repeat(4));
    let ctx = Ctx {
        http: http.clone(),
        operator: operator.clone(),
        a: a.clone(),
        b: b.clone(),
        dev: dev.clone(),
        rev: rev.clone(),
        unknown,
        body,
        schema: schema.clone(),
        keys: keys.clone(),
        seen: std::sync::Mutex::new(Vec::new()),
        next_key: 0.into(),
    };
    for t in [&operator, &a.owner, &b.owner, &dev.token, &rev.token] {
        ctx.remember(t);
    }

    // A real job: a query held (fault injection) past the quick answer.
    let job = make_job(&ctx, &work.path().join("data"));

    let id = a.id.clone();
    let ghost = "00000000deadbeef"; // a dataset that does not exist
    let c = &ctx;
    let mut rows: Vec<Row<'_>> = vec![
        row("GET /v1/health", [200; 8], |w| c.as_who(c.http.get("/v1/health"), w)),
        row("GET /v1/openapi.json", [401, 401, 401, 200, 200, 401, 200, 200], |w| c.as_who(c.http.get("/v1/openapi.json"), w)),
        row("POST /v1/datasets", [401, 401, 401, 403, 403, 401, 201, 403], |w| {
            c.as_who(c.http.post("/v1/datasets"), w).json(&json!({"name": format!("made by {w:?}"), "schema": c.schema}))
        }),
        row("GET /v1/datasets", [401, 401, 401, 200, 403, 401, 200, 200], |w| c.as_who(c.http.get("/v1/datasets"), w)),
        row("GET /v1/datasets/{id}", [401, 401, 401, 403, 403, 401, 200, 200], |w| c.as_who(c.http.get(&format!("/v1/datasets/{id}")), w)),
        row("GET /v1/datasets/{ghost}", [401, 401, 401, 403, 403, 401, 404, 403], |w| c.as_who(c.http.get(&format!("/v1/datasets/{ghost}")), w)),
        // The cells that succeed delete a dataset made for them (the owner's: its own owner).
        row("DELETE /v1/datasets/{id}", [401, 401, 401, 403, 403, 401, 200, 200], |w| match w {
            Who::Operator => {
                let d = c.fresh_dataset("to delete (operator)");
                c.http.delete(&format!("/v1/datasets/{}", d.id)).token(&c.operator)
            }
            Who::Owner => {
                let d = c.fresh_dataset("to delete (owner)");
                c.http.delete(&format!("/v1/datasets/{}", d.id)).token(&d.owner)
            }
            _ => c.as_who(c.http.delete(&format!("/v1/datasets/{id}")), w),
        }),
        row("DELETE /v1/datasets/{ghost}", [401, 401, 401, 403, 403, 401, 404, 403], |w| c.as_who(c.http.delete(&format!("/v1/datasets/{ghost}")), w)),
        row("PUT /v1/datasets/{id}/keys", [401, 401, 401, 403, 403, 401, 403, 200], |w| {
            c.as_who(c.http.put(&format!("/v1/datasets/{id}/keys")), w).body("application/octet-stream", std::fs::read(c.keys.join("eval.keys")).unwrap())
        }),
        row("GET /v1/datasets/{id}/schema", [401, 401, 401, 403, 200, 401, 403, 200], |w| c.as_who(c.http.get(&format!("/v1/datasets/{id}/schema")), w)),
        row("GET /v1/datasets/{ghost}/schema", [401, 401, 401, 403, 403, 401, 403, 403], |w| c.as_who(c.http.get(&format!("/v1/datasets/{ghost}/schema")), w)),
        row("GET /v1/datasets/{id}/public-key", [401, 401, 401, 403, 200, 401, 403, 200], |w| c.as_who(c.http.get(&format!("/v1/datasets/{id}/public-key")), w)),
        row("POST /v1/datasets/{id}/devices", [401, 401, 401, 403, 403, 401, 403, 201], |w| {
            c.as_who(c.http.post(&format!("/v1/datasets/{id}/devices")), w).json(&json!({"name": format!("device by {w:?}")}))
        }),
        row("GET /v1/datasets/{id}/devices", [401, 401, 401, 403, 403, 401, 403, 200], |w| c.as_who(c.http.get(&format!("/v1/datasets/{id}/devices")), w)),
        // The owner's cell revokes a device made for it; the others try the working device.
        row("DELETE /v1/datasets/{id}/devices/{device}", [401, 401, 401, 403, 403, 401, 403, 200], |w| match w {
            Who::Owner => {
                let d = add_device(&c.http, &c.a, "to revoke");
                c.remember(&d.token);
                c.http.delete(&format!("/v1/datasets/{id}/devices/{}", d.id)).token(&c.a.owner)
            }
            _ => c.as_who(c.http.delete(&format!("/v1/datasets/{id}/devices/{}", c.dev.id)), w),
        }),
        row("POST /v1/datasets/{id}/uploads", [401, 401, 401, 403, 201, 401, 403, 201], |w| {
            c.as_who(c.http.post(&format!("/v1/datasets/{id}/uploads")), w).header("Idempotency-Key", &c.fresh_key()).body("application/octet-stream", c.body.clone())
        }),
        row("POST /v1/datasets/{ghost}/uploads", [401, 401, 401, 403, 403, 401, 403, 403], |w| {
            c.as_who(c.http.post(&format!("/v1/datasets/{ghost}/uploads")), w).header("Idempotency-Key", &c.fresh_key()).body("application/octet-stream", c.body.clone())
        }),
        // Reading stored uploads back (an export) is the owner's alone.
        row("GET /v1/datasets/{id}/uploads", [401, 401, 401, 403, 403, 401, 403, 200], |w| c.as_who(c.http.get(&format!("/v1/datasets/{id}/uploads")), w)),
        row("GET /v1/datasets/{ghost}/uploads", [401, 401, 401, 403, 403, 401, 403, 403], |w| c.as_who(c.http.get(&format!("/v1/datasets/{ghost}/uploads")), w)),
        row("GET /v1/datasets/{id}/uploads/{upload}", [401, 401, 401, 403, 403, 401, 403, 200], |w| c.as_who(c.http.get(&format!("/v1/datasets/{id}/uploads/0")), w)),
        row("GET /v1/datasets/{id}/uploads/{upload} (unknown)", [401, 401, 401, 403, 403, 401, 403, 404], |w| c.as_who(c.http.get(&format!("/v1/datasets/{id}/uploads/999999")), w)),
        Row {
            owner_alt: Some(202),
            ..row("POST /v1/datasets/{id}/queries", [401, 401, 401, 403, 403, 401, 403, 200], |w| {
                c.as_who(c.http.post(&format!("/v1/datasets/{id}/queries")), w).json(&json!({"stat": "count", "column": "age"}))
            })
        },
        // A device may not read even its own records.
        row("POST /v1/datasets/{id}/queries (device filter)", [401, 401, 401, 403, 403, 401, 403, 200], |w| {
            c.as_who(c.http.post(&format!("/v1/datasets/{id}/queries")), w).json(&json!({"stat": "sum", "column": "bmi", "device": c.dev.id}))
        }),
        row("POST /v1/datasets/{ghost}/queries", [401, 401, 401, 403, 403, 401, 403, 403], |w| {
            c.as_who(c.http.post(&format!("/v1/datasets/{ghost}/queries")), w).json(&json!({"stat": "count", "column": "age"}))
        }),
        row("GET /v1/jobs/{unknown}", [401, 401, 401, 404, 403, 401, 403, 404], |w| c.as_who(c.http.get("/v1/jobs/ffffffffffffffff"), w)),
        row("GET /v1/jobs/{unknown}/result", [401, 401, 401, 404, 403, 401, 403, 404], |w| c.as_who(c.http.get("/v1/jobs/ffffffffffffffff/result"), w)),
        row("DELETE /v1/jobs/{unknown}", [401, 401, 401, 404, 403, 401, 403, 404], |w| c.as_who(c.http.delete("/v1/jobs/ffffffffffffffff"), w)),
    ];
    let j = job.clone();
    rows.push(row("GET /v1/jobs/{job}", [401, 401, 401, 403, 403, 401, 403, 200], move |w| c.as_who(c.http.get(&format!("/v1/jobs/{j}")), w)));
    let j = job.clone();
    rows.push(row("GET /v1/jobs/{job}/result", [401, 401, 401, 403, 403, 401, 403, 200], move |w| c.as_who(c.http.get(&format!("/v1/jobs/{j}/result")), w)));
    // Last: the owner's cell forgets the job.
    let j = job.clone();
    rows.push(row("DELETE /v1/jobs/{job}", [401, 401, 401, 403, 403, 401, 403, 200], move |w| c.as_who(c.http.delete(&format!("/v1/jobs/{j}")), w)));

    // The matrix covers every operation of the served OpenAPI document (generated from the
    // code): a new endpoint without a row here fails this test.
    let doc = http.get("/v1/openapi.json").token(&operator).send().expect(200, "openapi").json();
    let mut documented: Vec<String> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for m in ops.as_object().unwrap().keys().filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str())) {
            documented.push(format!("{} {path}", m.to_uppercase()));
        }
    }
    documented.sort();
    let mut covered: Vec<String> = rows.iter().map(|r| r.name.split(" (").next().unwrap().replace("{ghost}", "{id}").replace("{unknown}", "{job}")).collect();
    covered.sort();
    covered.dedup();
    assert_eq!(covered, documented, "the matrix's endpoints are the documented ones");

    let mut failures = Vec::new();
    let mut cells = 0;
    for r in &rows {
        for (i, who) in WHO.iter().enumerate() {
            let req = (r.make)(*who);
            let res = req.send();
            cells += 1;
            let want = r.expect[i];
            let ok = res.status == want || (*who == Who::Owner && r.owner_alt == Some(res.status));
            if !ok {
                failures.push(format!("{} as {who:?}: expected {want}, got {}: {}", r.name, res.status, res.text().chars().take(200).collect::<String>()));
                continue;
            }
            assert!(res.header("x-request-id").is_some_and(|v| !v.is_empty()), "{} as {who:?}: no x-request-id", r.name);
            if res.status >= 400 {
                let msg = res.error();
                if let Some(t) = c.token(*who) {
                    assert!(!msg.contains(&t), "{} as {who:?}: the message echoes the token", r.name);
                }
                if res.status == 401 {
                    let want_word = match who {
                        Who::Anonymous => "missing",
                        Who::Malformed => "malformed",
                        Who::Unknown => "unknown",
                        Who::Revoked => "revoked",
                        _ => "",
                    };
                    assert!(msg.to_lowercase().contains(want_word), "{} as {who:?}: the message {msg:?} does not say {want_word:?}", r.name);
                }
            }
            // What succeeds hands out tokens: remember them for the log check.
            if res.status == 201 && res.header("content-type").is_some_and(|t| t.starts_with("application/json")) {
                let v = res.json();
                for k in ["owner_token", "token"] {
                    if let Some(t) = v[k].as_str() {
                        c.remember(t);
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cells} cells wrong:\n{}", failures.len(), failures.join("\n"));
    eprintln!("authorization matrix: {} endpoints × {} callers = {cells} cells", rows.len(), WHO.len());

    // What the successful cells show.
    let own: Value = http.get("/v1/datasets").token(&a.owner).send().expect(200, "owner's list").json();
    assert_eq!(own.as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect::<Vec<_>>(), [a.id.as_str()], "an owner lists only its dataset");
    let other: Value = http.get("/v1/datasets").token(&b.owner).send().expect(200, "other owner's list").json();
    assert_eq!(other.as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect::<Vec<_>>(), [b.id.as_str()]);
    let all: Value = http.get("/v1/datasets").token(&operator).send().expect(200, "operator's list").json();
    for d in [&a.id, &b.id] {
        assert!(all.as_array().unwrap().iter().any(|x| x["id"] == d.as_str()), "the operator lists every dataset");
    }
    let devices: Value = http.get(&format!("/v1/datasets/{}/devices", a.id)).token(&a.owner).send().expect(200, "devices").json();
    let find = |id: &str| devices.as_array().unwrap().iter().find(|d| d["id"] == id).cloned().unwrap();
    assert_eq!(find(&dev.id)["revoked"], false, "no failed cell revoked the working device");
    assert_eq!(find(&rev.id)["revoked"], true);
    let pk_owner = http.get(&format!("/v1/datasets/{}/public-key", a.id)).token(&a.owner).send().expect(200, "public key").body;
    let pk_dev = http.get(&format!("/v1/datasets/{}/public-key", a.id)).token(&dev.token).send().expect(200, "public key").body;
    assert!(!pk_owner.is_empty() && pk_owner == pk_dev, "owner and device read the same public key");
    // The deleted datasets shared A's key files: A still computes with them.
    let (n, _) = stat(&http, &a, &keys, work.path(), "count", "age");
    assert_eq!(n, 12, "A's query after deleting datasets with the same keys");
    // Uploads: 4 seeds + the device's and the owner's cell; nothing from the refused cells.
    assert_eq!(counts(&http, &a.id, &operator), (6, 12), "only the device's and the owner's uploads were stored");
    assert_eq!(counts(&http, &b.id, &operator), (0, 0), "nothing reached the other dataset");

    // Malformed Authorization headers of every kind → 401; the scheme is case-insensitive.
    let path = format!("/v1/datasets/{}", a.id);
    for bad in [
        "rv_abc".to_owned(),
        format!("Basic {}", a.owner),
        a.owner.clone(),
        format!("Bearer {}", a.owner.to_uppercase()),
        format!("Bearer {}0", a.owner),
        format!("Bearer {}", &a.owner[..a.owner.len() - 1]),
        format!("Token {}", a.owner),
        "Bearer ".to_owned(),
        "Bearer".to_owned(),
    ] {
        let r = http.get(&path).header("Authorization", &bad).send();
        assert_eq!(r.status, 401, "Authorization: {bad:?} → {}: {}", r.status, r.text());
        assert!(!r.error().contains(&a.owner[3..]), "the message does not echo the token");
    }
    http.get(&path).header("Authorization", &format!("bearer {}", a.owner)).send().expect(200, "a lowercase scheme");

    // A device token can never read anything.
    for (m, p, body) in [
        ("GET", format!("/v1/datasets/{}", a.id), None),
        ("GET", "/v1/datasets".to_owned(), None),
        ("GET", format!("/v1/datasets/{}/devices", a.id), None),
        ("POST", format!("/v1/datasets/{}/queries", a.id), Some(json!({"stat": "count", "column": "age"}))),
        ("POST", format!("/v1/datasets/{}/queries", a.id), Some(json!({"stat": "sum", "column": "bmi", "device": dev.id}))),
        ("POST", format!("/v1/datasets/{}/queries", a.id), Some(json!({"logreg": {"intercept": 0.5, "weights": {"bmi": 0.1}}}))),
        ("GET", "/v1/jobs/ffffffffffffffff".to_owned(), None),
    ] {
        let mut r = http.req(m, &p).token(&dev.token);
        if let Some(b) = &body {
            r = r.json(b);
        }
        let res = r.send();
        assert_eq!(res.status, 403, "a device read {m} {p}: {} {}", res.status, res.text());
    }
    let j = &job;
    // The owner's DELETE forgot the job and its result.
    for p in [format!("/v1/jobs/{j}"), format!("/v1/jobs/{j}/result")] {
        assert_eq!(http.get(&p).token(&a.owner).send().status, 404, "{p} after the job was deleted");
    }
    assert_eq!(http.delete(&format!("/v1/jobs/{j}")).token(&a.owner).send().status, 404, "a job deleted twice");
    for p in [format!("/v1/jobs/{j}"), format!("/v1/jobs/{j}/result")] {
        assert_eq!(http.get(&p).token(&dev.token).send().status, 403, "a device read {p}");
    }

    // Nothing in the log names a token (the log is at debug level).
    let log = server.log();
    assert!(log.contains("answered") || log.contains("status"), "the request log is on:\n{}", &log[..log.len().min(2000)]);
    let mut seen = ctx.seen.lock().unwrap().clone();
    seen.push(ctx.unknown.clone());
    for t in &seen {
        assert!(t.starts_with("rv_") && t.len() == 67, "a token of the documented shape: {t:?}");
        assert!(!log.contains(&t[3..]), "a token appears in the server's log");
    }
    assert!(!log.contains("Bearer"), "an Authorization header appears in the server's log");
    // Request ids are logged: the id of one answer appears in the log.
    let r = http.get(&format!("/v1/datasets/{}", a.id)).token(&operator).send();
    let rid = r.header("x-request-id").unwrap().to_owned();
    eventually("the request id in the log", Duration::from_secs(10), || server.log().contains(&rid).then_some(()));
}

/// A finished job of dataset A: a query held by `DATA/fault-hold-query` until it is answered
/// 202, then released and waited for (bounded).
fn make_job(c: &Ctx, data: &std::path::Path) -> String {
    let hold = data.join("fault-hold-query");
    std::fs::write(&hold, b"").unwrap();
    let r = c.http.post(&format!("/v1/datasets/{}/queries", c.a.id)).token(&c.a.owner).json(&json!({"stat": "sample_variance", "column": "bmi"})).send();
    std::fs::remove_file(&hold).unwrap();
    assert_eq!(r.status, 202, "a held query becomes a job: {}", r.text());
    let j = r.json()["job"].as_str().unwrap().to_owned();
    assert_eq!(r.header("location").map(str::to_owned), Some(format!("/v1/jobs/{j}")), "a job's Location");
    eventually("the job finishes", Duration::from_secs(120), || {
        let st = c.http.get(&format!("/v1/jobs/{j}")).token(&c.a.owner).send().expect(200, "job status").json();
        (st["state"] != "running").then_some(())
    });
    j
}
