#!/usr/bin/env bash
# The GPU check in one call (issue 13): for a machine with a GPU and its driver but no Rust
# toolchain and no package registries.
#
#   scripts/gpu-check.sh build            # on the development machine: release binaries and
#                                         # the Vulkan loader packages into .gpu-check/
#   scripts/gpu-check.sh run              # on the GPU machine (the folder carried along)
#   scripts/gpu-check.sh run --software   # the same here on Mesa's lavapipe, to test the script
#
# `run` prints `ringvault info`, runs the GPU test binaries (conformance, kernels, scheme,
# shaders: a real GPU finds races lavapipe cannot) with a missing adapter failing them, the
# GPU bench sweep and the same host's single-core CPU baseline, then one table. Its output
# also lands in .gpu-check/out/ (or $OUT/ when set). It stops at no failure: every part
# runs, and the exit status says whether all passed. Under 8 minutes on an H200 (the sweep
# dominates); `--software` runs the quick sweep.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=.gpu-check

build() {
    set -e
    rm -rf "$dir" && mkdir -p "$dir/bin" "$dir/gl"
    cargo build --release --bin ringvault
    cargo build --release -p ringvault-backend-gpu --example gpu_bench
    cp target/release/ringvault target/release/examples/gpu_bench "$dir/bin/"
    # The GPU test binaries, named after their test target.
    cargo test --release -p ringvault-backend-gpu --no-run --message-format=json 2>/dev/null \
        | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        print(m["target"]["name"], m["executable"])' \
        | while read -r name exe; do cp "$exe" "$dir/bin/test-$name"; done
    strip "$dir"/bin/* 2>/dev/null || true
    gzip -9 "$dir"/bin/*
    # The Vulkan loader and GL/EGL dispatch libraries (the driver itself is the host's).
    local lists=/tmp/gpu-check-apt
    mkdir -p "$lists/partial"
    local o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
    apt-get $o update -qq
    (cd "$dir/gl" && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
    du -sh "$dir"
    ls -la "$dir/bin" "$dir/gl"
}

run() {
    local software=0
    [ "${1:-}" = "--software" ] && software=1
    local out="${OUT:-$dir/out}"
    mkdir -p "$out"
    local bin=/tmp/gpu-check-bin
    rm -rf "$bin" && mkdir -p "$bin"
    for f in "$dir"/bin/*.gz; do gunzip -c "$f" > "$bin/$(basename "$f" .gz)"; done
    chmod +x "$bin"/*
    export WGPU_BACKEND=vulkan RINGVAULT_REQUIRE_GPU=1
    if [ "$software" = 1 ]; then
        export VK_DRIVER_FILES="/usr/share/vulkan/icd.d/lvp_icd.$(uname -m).json" RINGVAULT_GPU_SOFTWARE=1
    else
        if ! ldconfig -p | grep -q libvulkan.so.1; then
            for f in "$dir"/gl/*.deb; do dpkg -x "$f" /; done
            ldconfig
        fi
        local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
        [ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
        command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    fi
    local status=0
    echo "== ringvault info"
    "$bin/ringvault" info || status=1
    echo "== GPU tests"
    : > "$out/tests.txt"
    for t in "$bin"/test-*; do
        local name
        name=$(basename "$t")
        if "$t" --test-threads=1 > "$out/$name.log" 2>&1; then r=pass; else r=FAIL; status=1; fi
        echo "$name $r $(grep -E '^test result' "$out/$name.log" | tail -1)" | tee -a "$out/tests.txt"
    done
    echo "== GPU bench sweep"
    local quick=()
    [ "$software" = 1 ] && quick=(--quick)
    "$bin/ringvault" --backend gpu bench --json "${quick[@]}" > "$out/gpu.jsonl" 2> "$out/gpu.err" || { status=1; tail -5 "$out/gpu.err"; }
    "$bin/gpu_bench" $([ "$software" = 1 ] && echo --software --quick) > "$out/gpu_bench.txt" 2>&1 || status=1
    echo "== CPU baseline (one thread)"
    RAYON_NUM_THREADS=1 "$bin/ringvault" --backend cpu bench --json --only bgv_mul_relin_batch,stats4096 --preset n4096,n8192 \
        "${quick[@]}" > "$out/cpu.jsonl" 2> "$out/cpu.err" || { status=1; tail -5 "$out/cpu.err"; }
    echo "== table"
    python3 - "$out/gpu.jsonl" "$out/cpu.jsonl" <<'PY' | tee "$out/table.md"
import json, sys
def load(p):
    try:
        return [json.loads(l) for l in open(p) if l.startswith("{")]
    except OSError:
        return []
gpu, cpu = load(sys.argv[1]), load(sys.argv[2])
base = {(r["op"], r["n"], r["batch"]): r["median_ns"] for r in cpu}
fmt = lambda ns: f"{ns / 1e6:.3f} ms" if ns >= 1e5 else f"{ns / 1e3:.1f} µs"
print("| op | n | limbs | batch | GPU | CPU, 1 thread | CPU / GPU |")
print("|---|---|---|---|---|---|---|")
for r in gpu:
    c = base.get((r["op"], r["n"], r["batch"]))
    ratio = f"{c / r['median_ns']:.2f}×" if c else "—"
    print(f"| {r['op']} | {r['n']} | {r['limbs']} | {r['batch']} | {fmt(r['median_ns'])} | {fmt(c) if c else '—'} | {ratio} |")
PY
    cat "$out/gpu_bench.txt"
    echo "== $( [ "$status" = 0 ] && echo 'all parts passed' || echo 'SOME PART FAILED: see the logs above and in '"$out" )"
    return "$status"
}

case "${1:-}" in
    build) build ;;
    run) shift; run "$@" ;;
    *) echo "usage: $0 build | run [--software]" >&2; exit 2 ;;
esac
