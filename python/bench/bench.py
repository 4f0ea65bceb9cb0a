"""The Python package against the Rust library and TenSEAL, in one run.

Encrypts a 100,000-row, 9-column DataFrame (the demo's cohort: ranges and decimals) and
computes the mean and variance of one column: through `ringvault` from Python, through the
Rust library (`benches/examples/table_job.rs`, the same application-layer calls), and with
TenSEAL (CKKS, the most used Python HE package), printing one table. Medians of 3 runs.

    pip install ./python tenseal pandas
    python3 python/bench/bench.py [--records 100000]
"""

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import ringvault

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = [("age", 0, 18, 95), ("sex", 0, 0, 1), ("heart_rate", 0, 40, 160), ("systolic_bp", 0, 85, 220), ("diastolic_bp", 0, 45, 130),
           ("glucose", 1, 55, 400), ("cholesterol", 0, 100, 400), ("bmi", 1, 15, 55), ("smoker", 0, 0, 1)]


def cohort(records: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({name: np.round(rng.uniform(lo, hi, records), d) for name, d, lo, hi in COLUMNS})


def median_of(f, reps=3):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def ringvault_python(keys: str, df: pd.DataFrame):
    owner, server = ringvault.Owner(keys, backend="cpu"), ringvault.Server(keys, backend="cpu")
    state = {}
    enc = median_of(lambda: state.update(table=owner.encrypt(df)))
    ev = median_of(lambda: server.stats(state["table"], [("mean", "glucose"), ("variance", "glucose")]))
    got = owner.decrypt(server.stats(state["table"], [("mean", "glucose"), ("variance", "glucose")]))
    assert abs(got.loc["mean", "glucose"] - df["glucose"].mean()) < 1e-9 * df["glucose"].mean()
    return enc, ev


def ringvault_rust(keys: str, records: int):
    out = subprocess.run(["cargo", "run", "--quiet", "--release", "-p", "ringvault-benches", "--example", "table_job", "--", keys, str(records), "3"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return r["encrypt_s"], r["mean_variance_s"]


def tenseal_ckks(df: pd.DataFrame):
    try:
        import tenseal as ts
    except ImportError:
        return None
    ctx = ts.context(ts.SCHEME_TYPE.CKKS, poly_modulus_degree=8192, coeff_mod_bit_sizes=[60, 40, 40, 60])
    ctx.global_scale = 2 ** 40
    ctx.generate_galois_keys()
    slots = 4096
    cols = {c: df[c].to_numpy() for c in df.columns}
    state = {}

    def encrypt():
        state["enc"] = {c: [ts.ckks_vector(ctx, v[i:i + slots].tolist()) for i in range(0, len(v), slots)] for c, v in cols.items()}

    def mean_variance():
        # The server's part: encrypted Σx and Σx² (decryption is the owner's, not timed).
        chunks = state["enc"]["glucose"]
        total = chunks[0].sum()
        squares = chunks[0].square().sum()
        for c in chunks[1:]:
            total += c.sum()
            squares += c.square().sum()
        state["out"] = (total, squares)

    enc = median_of(encrypt)
    ev = median_of(mean_variance)
    n = len(df)
    mean = state["out"][0].decrypt()[0] / n
    assert abs(mean - df["glucose"].mean()) < 1e-3 * df["glucose"].mean(), "TenSEAL's mean is off"
    return enc, ev


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--records", type=int, default=100_000)
    a = p.parse_args()
    df = cohort(a.records)
    with tempfile.TemporaryDirectory() as d:
        ringvault.generate_keys(d, preset="n8192", backend="cpu")
        rust = ringvault_rust(d, a.records)
        py = ringvault_python(d, df)
    ts_times = tenseal_ckks(df)
    rows = [("ringvault (Rust library)", rust), ("ringvault (Python)", py)] + ([("TenSEAL 0.3 CKKS (Python)", ts_times)] if ts_times else [])
    print(f"{a.records} records × {len(COLUMNS)} columns, mean and variance of glucose; {os.cpu_count()} CPUs")
    print(f"{'':28} {'encrypt':>10} {'mean+var':>10} {'total':>10} {'vs Rust':>8}")
    base = sum(rust)
    for name, (e, v) in rows:
        print(f"{name:28} {e:9.3f}s {v:9.3f}s {e + v:9.3f}s {(e + v) / base:7.2f}x")


if __name__ == "__main__":
    main()
