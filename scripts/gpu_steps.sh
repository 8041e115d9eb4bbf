#!/usr/bin/env bash
# C1's steps-to-target study (lbgap.studies.steps with --net C1) on a GPU node with no network and a time limit per
# job: the critical batch size B_crit that the chapter "Measure your own model" checks `lbgap advise` against. The
# node receives a copy of the repository tree (with the git-ignored .carry/) and gives back only what is written
# under $OUT.
#
# One job:
#   before:   python3 scripts/gpu_paper.py carry P        (P = 1, then 2: CIFAR-10 comes in two parts)
#   on node:  BUDGET=540 bash scripts/gpu_steps.sh 2>&1 | tee $OUT/log.txt
#   after:    python3 scripts/gpu_paper.py collect DIR    (records -> data/results, never overwriting)
#
# What it does: stages the packed data (gpu_paper.py stage), then runs one process per batch size, JOBS at a time
# sharing the GPU: `lbgap sweep steps-to-target --net C1 --batch-sizes B` (the LR tuned on the first seed, then the
# other seeds at the best LR; lbgap.studies.steps). A run's record is written when it finishes; every EXPORT_S
# seconds and at the end the finished records are packed into $OUT/records-steps.tar.gz (written atomically), so a
# job cut off by the time limit loses only the runs under way, which the next job reruns (recorded runs are skipped).
#
# Knobs (environment): NET (default C1), BATCH_SIZES (default the study's for C1), OPTIMIZERS (default adam), SEEDS
# (default 0-2), MAX_EPOCHS (default 30), MAX_STEPS (default 20000), JOBS (default 8), BUDGET (s, whole job; default
# 540), MIN_S (default 60), EXPORT_S (default 20), DEVICE (default cuda), PRECISION (default fp32: the committed C1
# records were trained in float32, and one study keeps one precision), PROFILE (default quick), STAGE (1: stage
# the packed data first, default), RESULTS. CPU rehearsal on synthetic data: DEVICE=cpu PROFILE=smoke STAGE=0
# BATCH_SIZES=8,16,32 SEEDS=0-1 MAX_STEPS=40 JOBS=2 BUDGET=120 OUT=/tmp/steps-dry RESULTS=/tmp/steps-dry/results
# bash scripts/gpu_steps.sh
set -uo pipefail
. "$(dirname "$0")/node_env.sh"   # repository root, PY, PYTHONPATH, the tree's commit, $OUT
NET=${NET:-C1}; OPTIMIZERS=${OPTIMIZERS:-adam}; SEEDS=${SEEDS:-0-2}; MAX_EPOCHS=${MAX_EPOCHS:-30}
MAX_STEPS=${MAX_STEPS:-20000}; JOBS=${JOBS:-8}; BUDGET=${BUDGET:-540}; MIN_S=${MIN_S:-60}; EXPORT_S=${EXPORT_S:-20}
DEVICE=${DEVICE:-cuda}; PRECISION=${PRECISION:-fp32}; PROFILE=${PROFILE:-quick}; STAGE=${STAGE:-1}
BATCH_SIZES=${BATCH_SIZES:-$($PY -c "from lbgap.studies import steps; print(*steps.BATCH_SIZES['$NET'], sep=',')")}
# The record store is a git-ignored work folder the node keeps between jobs while it stays up; the committed records
# of this study are copied in first, so that they are skipped.
RESULTS=${RESULTS:-data/checkpoints/gpu_work/steps}; LOGDIR=${LOGDIR:-$RESULTS/logs}
mkdir -p "$RESULTS" "$LOGDIR"
for f in data/results/"$PROFILE"/steps/"$NET"-*.json; do
  [ -f "$f" ] || continue; d="$RESULTS/${f#data/results/}"; [ -f "$d" ] || { mkdir -p "$(dirname "$d")"; cp "$f" "$d"; }
done
T0=$(date +%s); DEADLINE=$(( T0 + BUDGET - 25 ))
echo "== steps-to-target $NET ($PROFILE): B = $BATCH_SIZES, budget ${BUDGET}s, commit ${LBGAP_GIT_COMMIT:-unknown}," \
     "$(nvidia-smi -L 2>/dev/null | head -1 || echo 'no GPU')"

export_records() {  # finished steps records of NET -> $OUT/records-steps.tar.gz
  find "$RESULTS" -path "*/steps/$NET-*.json" | $PY scripts/gpu_paper.py pack "$OUT/records-steps.tar.gz" \
    --store "$RESULTS" || echo "export failed"
}

job() {  # job B: the study at one batch size, stopped at the deadline
  local left=$(( DEADLINE - $(date +%s) ))
  if [ "$left" -lt "$MIN_S" ]; then echo "[skip] B = $1: ${left}s left"; return 0; fi
  timeout -k 10 --signal=INT "$left" $PY -m lbgap.cli sweep steps-to-target --net "$NET" --batch-sizes "$1" \
    --optimizers "$OPTIMIZERS" --seeds "$SEEDS" --max-epochs "$MAX_EPOCHS" --max-steps "$MAX_STEPS" \
    --profile "$PROFILE" --device "$DEVICE" --precision "$PRECISION" --results-dir "$RESULTS" \
    > "$LOGDIR/job-$NET-b$1.log" 2>&1
  local rc=$?
  echo "[job] $NET B = $1: exit $rc after $(( $(date +%s) - T0 ))s"
  [ "$rc" = 0 ] || [ "$rc" = 124 ] || tail -n 3 "$LOGDIR/job-$NET-b$1.log"
}
export -f job; export PY NET OPTIMIZERS SEEDS MAX_EPOCHS MAX_STEPS PROFILE DEVICE PRECISION RESULTS LOGDIR DEADLINE MIN_S T0

if [ "$STAGE" = 1 ]; then echo "== stage"; $PY scripts/gpu_paper.py stage || echo "an import failed (see above)"; fi
( while sleep "$EXPORT_S"; do export_records >/dev/null; done ) & EXPORTER=$!
# largest batch first: its runs are the longest in wall time per step
tr ',' '\n' <<< "$BATCH_SIZES" | sort -rn | xargs -P "$JOBS" -I{} bash -c 'job "$@"' _ {}
kill "$EXPORTER" 2>/dev/null
export_records
echo "== done after $(( $(date +%s) - T0 ))s"
