#!/usr/bin/env python3
"""Compare `ringvault bench --json` output with the peer anchors of shared/anchors.

Usage: benches/compare.py OURS.jsonl ANCHORS_RESULTS_DIR
Prints a markdown table: for each scheme operation, our single-core figure, the fastest peer in
the anchors run and the ratio (peer / ours, so 3.0 means three times faster).
"""
import glob
import json
import sys

# our op -> the anchors' op names
PEER_OPS = {
    "bgv_encrypt": ["bfv_encrypt(pk)"],
    "bgv_decrypt": ["bfv_decrypt"],
    "bgv_add": ["bfv_add(ct+ct)"],
    "bgv_add_inplace": ["bfv_add_inplace(ct+=ct)"],
    "bgv_mul_relin": ["bfv_mul+relin"],
    "bgv_rotate": ["bfv_rotate(1)"],
    "sum128x100_adds": ["sum128x100: 99 adds"],
    "sum128x100_total": ["sum128x100: enc100+sum+dec"],
}


def load(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def fmt(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def main():
    ours = [r for r in load(sys.argv[1]) if r["op"] in PEER_OPS]
    peers = []
    for f in glob.glob(f"{sys.argv[2]}/*.jsonl"):
        peers += [r for r in load(f) if r.get("median_ns")]
    print("| op | n | RingVault (backend) | fastest peer | peer figure | peer / ours |")
    print("|---|---|---|---|---|---|")
    best = {}
    for r in ours:
        key = (r["op"], r["n"])
        if key not in best or r["median_ns"] < best[key]["median_ns"]:
            best[key] = r
    for (op, n), r in sorted(best.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        cands = [p for p in peers if p["op"] in PEER_OPS[op] and p["n"] == (4096 if op.startswith("sum128") else n)]
        if op.startswith("sum128") and n != 4096:
            cands = [p for p in peers if p["op"] in PEER_OPS[op]]
        if not cands:
            print(f"| {op} | {n} | {fmt(r['median_ns'])} ({r['backend']}) | — | — | — |")
            continue
        p = min(cands, key=lambda p: p["median_ns"])
        print(f"| {op} | {n} | {fmt(r['median_ns'])} ({r['backend']}) | {p['lib']} | {fmt(p['median_ns'])} (n={p['n']}) | {p['median_ns'] / r['median_ns']:.1f}× |")


if __name__ == "__main__":
    main()
