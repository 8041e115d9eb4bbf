#!/usr/bin/env bash
# Paper-profile results on a GPU node (an H100 or H200) that has no network and runs each job under a time limit.
#
# What the node gets and gives back: a copy of the repository tree (at most 64 MiB per job, the git-ignored
# folder .carry/ included) and, at the end of a job, only the files written under $OUT. Its local files (the
# staged pack, data/cache, the pairs' work folders) last from one job to the next only while the node stays up.
# So every job is one call of this script, and each call
#   1. stages the packed data it was sent (.carry/ -> data/cache/pack/) and imports every dataset now complete;
#   2. runs what is not yet recorded: the bench and bf16-vs-fp32 steps with no CUDA record yet (committed or
#      from an earlier call on this node; a recorded step is skipped in about a second), each time-boxed by
#      what is left of BUDGET, then the (net, seed) SB/LB pairs in priority order F1, C1, F2, C2, C3, C4
#      (committed pairs are skipped);
#   3. resumes from what is recorded: a pair stopped at a call's deadline keeps its finished runs in its work
#      folder and the next call on the same node goes on from them; a pair is never exported half-done;
#   4. exports finished records as soon as they exist: $OUT/records.tar.gz (pairs), $OUT/records-bench.tar.gz
#      (bench records and this call's own record) and $OUT/summary.json (pairs exported / failed / not started).
#
# The packed data (../shared/data) is too large for one job, so it travels in three parts:
#   part 1: MNIST + CIFAR-10 train mosaics 0-1  (~43 MB)      part 2: CIFAR-10 mosaics 2-4 + test/labels (~53 MB)
#   part 3: speechocean762 frames for F2        (~49 MB)
#
# One call, step by step (N only labels the call and chooses nothing; every call is the same script):
#   before:   python3 scripts/gpu_paper.py carry P          (part P of the packed data -> .carry/, size + sha256 checked)
#   on node:  set -o pipefail; BUDGET=B bash scripts/gpu_paper.sh call N 2>&1 | tee $OUT/log.txt
#             with B the seconds the call may use: the job's time limit less ~60 s for the node's start and the
#             transfers (default 540)
#   after:    python3 scripts/gpu_paper.py collect DIR      (DIR: the files the job gave back; records ->
#             data/results, never overwriting), then read summary.json.
# Each call also leaves a record of its own (data/results/paper/gpu_call/: the GPU, the time spent inside the
# call, its bench records, its pairs with their seconds); the reproducibility chapter sums them (GPU time).
#
#   With no CUDA bench records committed yet, two calls on the same node:
#     call 1: part 1. The bench (C2 with the full-space sharpness time, C1 with 3 seeds at once as processes,
#             stacked and on CUDA streams, C2 compiled, F1, F2, F1 compiled: vs the DataLoader baseline,
#             TFLOP/s; CIFAR/F2 on synthetic data of the real shape, which times the same): ~6-8 min.
#     call 2: part 2, on the node call 1 ran on (CIFAR-10 needs parts 1 and 2 staged on the same node). Imports
#             CIFAR-10, the bf16-vs-fp32 check (C1, then C2), bench steps call 1 did not reach, then C1 pairs.
#   Once the bench is recorded: the same two calls. Call 1 only stages part 1 (well under a minute), so call 2
#     has ~10 min for C1 (then C2) pairs. Once the C1 pairs are committed, a single call with part 3
#     (speechocean762, self-contained) runs F2 pairs for its whole budget.
#   If a call reports "cifar10: not available", the node was restarted in between: send part 1 again, then
#   part 2.
#   F1 under the paper profile's own caps (SB 100, LB 300 epochs; the committed F1 Table 2 runs stop at 50):
#   TAG=uncapped NETS=F1 SEEDS=0-4 bash scripts/gpu_paper.sh call 1 (the seeds already committed under that
#   tag are skipped; all five are, from a CPU). The SB-vs-LB chapter's "Does the 50-epoch cap matter?" reads
#   them.
#
# Knobs (environment): BUDGET (s, whole call), NETS (priority order), SEEDS, TAG (a variant, e.g. uncapped),
# POST, JOBS (pairs at once per net), COMPILE (per net, e.g. C2=default, after the bench shows it pays),
# BENCH=0 / PCHECK=0 (skip those steps even where their records are missing), PROFILE, DEVICE, SPAN=1 (start
# pairs that cannot finish in this call; they resume in the next call on the same node: use it in every call
# but the last one on a node); POST=none for no post-processing. CPU rehearsal (no GPU):
# bash scripts/gpu_paper.sh dry-run (smoke profile, synthetic data, small budget, everything under
# /tmp/gpu_paper_dry; DRY_KEEP=1 resumes it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 CI=1
[ -f .carry/GIT_COMMIT ] && export LBGAP_GIT_COMMIT="${LBGAP_GIT_COMMIT:-$(cat .carry/GIT_COMMIT)}"
T0=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
default_post() { if [ -f src/lbgap/measures/landscape.py ]; then echo sharpness,landscape; else
  echo "WARNING: lbgap.measures.landscape is missing: post-processing without Figure 3 curves" >&2; echo sharpness; fi; }
lbgap() { $PY -m lbgap.cli "$@"; }
have() { [ -f "${LBGAP_CACHE:-data/cache}/$1.npz" ]; }

# A bench step: `step SECONDS NET REGIMES [--compile MODE | --precision] -- lbgap bench options`. It runs only the
# regimes that have no CUDA bench record yet (committed, or from an earlier call on this node), is
# time-boxed by the smaller of its own limit and what is left of the call's budget (skipped under 45 s), and
# exports the bench records written so far right after, so a call cut short at its limit loses no step.
step() {
  local limit=$1 net=$2 regimes=$3; shift 3
  local sel=() opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sel+=("$1"); shift; done; shift || true; opts=("$@")
  local todo; todo=$($PY scripts/gpu_paper.py bench-missing "$net" "$regimes" "${sel[@]}" --profile "$PROFILE" \
    --results-dir "$RESULTS") || { echo "bench $net: could not read the bench records"; return 0; }
  if [ -z "$todo" ]; then echo "== bench $net $regimes ${sel[*]}: recorded already, skipped"; return 0; fi
  local box=$(( $(left) - 30 )); [ "$box" -gt "$limit" ] && box=$limit
  if [ "$box" -lt 45 ]; then echo "== bench $net $todo ${sel[*]}: skipped, only ${box}s for it"; return 0; fi
  echo "== bench $net $todo ${opts[*]} (at most ${box}s)"
  timeout -k 20 --signal=INT "$box" $PY -m lbgap.cli bench --net "$net" --batch-size $todo "${opts[@]}" \
    --profile "$PROFILE" --results-dir "$RESULTS" \
    || echo "bench $net failed or timed out ($?)"
  export_bench
}

bench_suite() {  # the measurements #7 asks for first (C2, C1), then the rest; each step as above
  echo "== bench (GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo none))"
  step 170 C2 SB,LB -- --sharpness
  step 150 C1 SB,LB -- --concurrent 3 --stacked 3 --streams 3
  step 150 C2 SB --compile default -- --compile default --no-baseline
  step 100 F1 SB,LB -- --concurrent 4 --stacked 4 --streams 4
  step 120 F2 SB,LB -- --n-samples 221200
  step 90 F1 SB --compile reduce-overhead -- --compile reduce-overhead --no-baseline
}

precision_check() {  # bf16 vs fp32 on real CIFAR-10 (call 2 on): a few epochs, three seeds per precision
  have cifar10 || { echo "precision check skipped: cifar10 not imported"; return 0; }
  step 100 C1 SB --precision -- --no-baseline --epochs 1 --check-precision --precision-epochs 3 --precision-seeds 3
  step 170 C2 SB --precision -- --no-baseline --epochs 1 --check-precision --precision-epochs 2 --precision-seeds 3
}

call_record() {  # this call's record (GPU, time inside the call, bench records, pairs) -> $RESULTS/$PROFILE/gpu_call/
  $PY scripts/gpu_paper.py call-record "$CALL" --started "$T0" --budget "$BUDGET" --device "$DEVICE" --since "$STAMP" \
    --summary "$OUT/summary.json" --profile "$PROFILE" --results-dir "$RESULTS" "$@" || echo "call record not written"
}

export_bench() {  # bench and call records of this call -> $OUT/records-bench.tar.gz as data/results/<profile>/...
  call_record "$@"
  local files; files=$(cd "$RESULTS" && find "$PROFILE/bench" "$PROFILE/gpu_call" -name '*.json' -newer "$STAMP" \
    2>/dev/null || true)
  [ -n "$files" ] || return 0
  local f keep="${WORK:-data/checkpoints/gpu_work}/_exported"  # git-ignored: stays on the node when the tree is sent again
  for f in $files; do case $f in */bench/*) mkdir -p "$keep/$(dirname "$f")" \
    && cp "$RESULTS/$f" "$keep/$f.tmp" && mv "$keep/$f.tmp" "$keep/$f" ;; esac; done
  (cd "$RESULTS" && tar -czf "$OUT/records-bench.tar.gz.tmp" --transform 's|^|data/results/|' $files) \
    && mv "$OUT/records-bench.tar.gz.tmp" "$OUT/records-bench.tar.gz" \
    && echo "bench and call records so far -> \$OUT/records-bench.tar.gz ($(echo $files | wc -w))"
  return 0
}

call() {
  local n=$1; CALL=$n
  BUDGET=${BUDGET:-540}; PROFILE=${PROFILE:-paper}; DEVICE=${DEVICE:-cuda}; RESULTS=${RESULTS:-data/results}
  OUT=${OUT:?OUT must be set to the folder whose files come back from the node}; mkdir -p "$OUT"
  STAMP=$(mktemp); touch "$STAMP"
  echo "== call $n: budget ${BUDGET}s, commit ${LBGAP_GIT_COMMIT:-unknown}"
  nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
  $PY -c "import torch; from lbgap.core._tv import torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.cuda.is_available())"
  call_record
  echo "== stage"; $PY scripts/gpu_paper.py stage || echo "an import failed (see above)"
  # every call measures first what the bench and the precision check still lack (steps with a CUDA record
  # are skipped in about a second each), then spends the rest of its budget on the sweep
  if [ "${BENCH:-1}" = 1 ]; then bench_suite; fi
  if [ "${PCHECK:-1}" = 1 ]; then precision_check; fi
  local b; b=$(( $(left) - 25 ))
  if [ "$b" -lt 30 ]; then echo "== no budget left for the sweep"; else
    local post=${POST:-$(default_post)}; [ "$post" = none ] && post=""
    echo "== sweep for ${b}s"
    $PY scripts/gpu_paper.py sweep --budget "$b" --profile "$PROFILE" --device "$DEVICE" --results-dir "$RESULTS" \
      --nets "${NETS:-F1,C1,F2,C2,C3,C4}" --seeds "${SEEDS:-0-4}" --post "$post" \
      ${TAG:+--tag "$TAG"} ${JOBS:+--jobs "$JOBS"} ${COMPILE:+--compile "$COMPILE"} ${ESTIMATE:+--estimate "$ESTIMATE"} ${WORK:+--work "$WORK"} ${PAIR_WORKERS:+--pair-workers "$PAIR_WORKERS"} ${SPAN:+--span} --out "$OUT" || echo "sweep exited $?"
  fi
  lbgap status --profile "$PROFILE" --results-dir "$RESULTS" | tail -n 25 || true
  export_bench --final
  echo "== call $n done after $(( $(date +%s) - T0 ))s"
}

case "${1:-}" in
  carry) $PY scripts/gpu_paper.py carry "${2:?the number of a part of the packed data: 1, 2 or 3}" ;;
  collect) $PY scripts/gpu_paper.py collect "${2:?the folder with the files a call gave back}" ;;
  call) call "${2:?call number 1, 2 or 3}" ;;
  dry-run)  # CPU rehearsal of a call: smoke profile, synthetic data, tiny budget, nothing written to the repo
    export OUT=${OUT:-/tmp/gpu_paper_dry/out} RESULTS=/tmp/gpu_paper_dry/results PROFILE=smoke DEVICE=cpu
    export LBGAP_CACHE=${LBGAP_CACHE:-/tmp/gpu_paper_dry/cache}   # staging and imports stay out of the repo
    export BUDGET=${BUDGET:-300} NETS=${NETS:-F1,C1} SEEDS=${SEEDS:-0-2} POST=${POST:-$(default_post)}
    export WORK=/tmp/gpu_paper_dry/work ESTIMATE=${ESTIMATE:-F1=15,C1=30} JOBS=${JOBS:-F1=1,C1=1} PAIR_WORKERS=${PAIR_WORKERS:-1} BENCH=${BENCH:-0} PCHECK=0
    [ -n "${DRY_KEEP:-}" ] || rm -rf /tmp/gpu_paper_dry   # DRY_KEEP=1: resume the previous rehearsal
    rm -rf "$OUT"; mkdir -p "$OUT" "$RESULTS"
    call dry ;;
  *) awk 'NR > 1 && /^#/ {print; next} NR > 1 {exit}' "$0"; exit 2 ;;  # the header above
esac
