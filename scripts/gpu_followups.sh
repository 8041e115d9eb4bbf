#!/usr/bin/env bash
# The follow-up remedies chapter's runs (lbgap.studies.followups) on a GPU node with no network and a time limit
# per job. The node receives a copy of the repository tree (with the git-ignored .carry/) and gives back only what
# is written under $OUT; its local files last from one job to the next only while it stays up.
#
# One job:
#   before:   python3 scripts/gpu_paper.py carry P        (P = 1: MNIST (+ CIFAR-10 mosaics 0-1); 2: the rest of
#                                                          CIFAR-10, staged on the node that already has part 1)
#   on node:  NETS=F1:paper SEEDS=0-4 BUDGET=B bash scripts/gpu_followups.sh 2>&1 | tee $OUT/log.txt
#   after:    python3 scripts/gpu_paper.py collect DIR    (records -> data/results, never overwriting)
#
# What it does: stages the packed data and imports what is complete (gpu_paper.py stage), then runs the queue of
# (network, seed, arm) jobs -- seed by seed, each seed's arms in the order of ARMS below -- JOBS at a time as
# separate processes sharing the GPU. A job starts only while at least MIN_S seconds are left and is stopped at the
# deadline (a stopped run resumes from its last epoch in the next job on the same node). Every EXPORT_S seconds and at the end, the finished runs (a training record *and* its sharpness record
# with the Hessian) are packed into $OUT/records-followups.tar.gz (written atomically), so a job cut off by the
# time limit loses no finished run; a run cut short is not exported.
#
# Knobs (environment): NETS (net:profile list, priority order; default F1:paper,C1:quick), SEEDS (per net, as
# "0-4"; default 0-4 for F1, 0-2 for C1 via SEEDS_C1), ARMS, JOBS (default 10), BUDGET (s, whole job; default 540),
# MIN_S (default 60), EXPORT_S (default 20), DEVICE (default cuda), RESULTS, LOGDIR.
# Cost on one H200 with 10-12 jobs sharing it (F1, paper profile): SB ~110-140 s, LB to its 300-epoch cap ~150 s,
# LR-scaled, ghost-BN and SAM arms 25-50 s each, each with its sharpness (~10-30 s); the arms with SB's number of
# updates ("regime", "hoffer": 750-2,300 LB epochs, each evaluated on all 70,000 images) take 300-600 s. Give those
# a job of their own (ARMS=regime,hoffer) with few other jobs beside them. CPU rehearsal: DEVICE=cpu NETS=F1:smoke
# SEEDS=0 JOBS=2 BUDGET=120 OUT=/tmp/fu-dry RESULTS=/tmp/fu-dry/results bash scripts/gpu_followups.sh
set -uo pipefail
. "$(dirname "$0")/node_env.sh"   # repository root, PY, PYTHONPATH, the tree's commit, $OUT
BUDGET=${BUDGET:-540}; JOBS=${JOBS:-10}; MIN_S=${MIN_S:-60}; EXPORT_S=${EXPORT_S:-20}; DEVICE=${DEVICE:-cuda}
# The record store is a git-ignored work folder: the node keeps it between jobs while it stays up (a fresh copy of
# the tree replaces data/results at every job); the committed records of these runs are copied in first, so that
# they are skipped.
RESULTS=${RESULTS:-data/checkpoints/gpu_work/followups}; NETS=${NETS:-F1:paper,C1:quick}
LOGDIR=${LOGDIR:-$RESULTS/logs}   # one log per job, kept on the node ($OUT returns only a few files)
mkdir -p "$RESULTS"
for f in data/results/*/train/*-fu-*.json data/results/*/sharpness/*-fu-*.json; do
  [ -f "$f" ] || continue; d="$RESULTS/${f#data/results/}"; [ -f "$d" ] || { mkdir -p "$(dirname "$d")"; cp "$f" "$d"; }
done
ARMS=${ARMS:-sb,lb,regime,hoffer,lr-sqrt,lr-linear,ghost,sam-0.05,sam-0.01,sam-0.2}
T0=$(date +%s); DEADLINE=$(( T0 + BUDGET - 25 ))
echo "== followups: budget ${BUDGET}s, commit ${LBGAP_GIT_COMMIT:-unknown}, $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no GPU')"

export_records() {  # finished runs (train + sharpness with Hessian) -> $OUT/records-followups.tar.gz
  $PY - "$RESULTS" <<'EOF' | $PY scripts/gpu_paper.py pack "$OUT/records-followups.tar.gz" --store "$RESULTS" \
    || echo "export failed"
import json, sys
from pathlib import Path
for rec in sorted(Path(sys.argv[1]).glob("*/train/*-fu-*.json")):
    sharp = rec.parent.parent / "sharpness" / rec.name
    try:
        ok = json.loads(rec.read_text()).get("status") == "ok" and json.loads(sharp.read_text()).get("hessian")
    except (OSError, ValueError):
        ok = False
    if ok:
        print(rec, sharp, sep="\n")
EOF
}

job() {  # job NET PROFILE SEED ARM: one arm of one seed, stopped at the deadline
  local left=$(( DEADLINE - $(date +%s) ))
  if [ "$left" -lt "$MIN_S" ]; then echo "[skip] $1 s$3 $4: ${left}s left"; return 0; fi
  timeout -k 10 --signal=INT "$left" $PY -m lbgap.cli sweep followups --net "$1" --profile "$2" --seeds "$3" \
    --arms "$4" --device "$DEVICE" --results-dir "$RESULTS" > "${LOGDIR:-$OUT}/job-$1-s$3-$4.log" 2>&1
  local rc=$?
  echo "[job] $1 ($2) seed $3 $4: exit $rc after $(( $(date +%s) - T0 ))s"
  [ "$rc" = 0 ] || [ "$rc" = 124 ] || tail -n 3 "${LOGDIR:-$OUT}/job-$1-s$3-$4.log"
}
mkdir -p "${LOGDIR:-$OUT}"; export -f job; export PY OUT DEADLINE MIN_S DEVICE RESULTS T0 LOGDIR

echo "== stage"; $PY scripts/gpu_paper.py stage || echo "an import failed (see above)"
( while sleep "$EXPORT_S"; do export_records >/dev/null; done ) & EXPORTER=$!
queue=()
IFS=, read -ra nets <<< "$NETS"
for np in "${nets[@]}"; do
  net=${np%%:*}; prof=${np#*:}
  seeds=${SEEDS:-$([ "$net" = F1 ] && echo 0-4 || echo "${SEEDS_C1:-0-2}")}
  for s in $(seq "${seeds%-*}" "${seeds#*-}"); do
    IFS=, read -ra arms <<< "$ARMS"; for a in "${arms[@]}"; do queue+=("$net $prof $s $a"); done
  done
done
echo "== ${#queue[@]} jobs, ${JOBS} at a time"
printf '%s\n' "${queue[@]}" | xargs -P "$JOBS" -L 1 bash -c 'job "$@"' _
kill "$EXPORTER" 2>/dev/null
export_records
echo "== done after $(( $(date +%s) - T0 ))s"
