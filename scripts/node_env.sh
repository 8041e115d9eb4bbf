# Sourced by the GPU node scripts (gpu_followups.sh, gpu_steps.sh): work from the repository root with its src/ on
# the Python path, name the tree's commit (.carry/GIT_COMMIT) in the records, and require $OUT, the folder whose
# files come back from the node.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 CI=1
if [ -f .carry/GIT_COMMIT ]; then export LBGAP_GIT_COMMIT="${LBGAP_GIT_COMMIT:-$(cat .carry/GIT_COMMIT)}"; fi
OUT=${OUT:?OUT must be set to the folder whose files come back from the node}; mkdir -p "$OUT"
