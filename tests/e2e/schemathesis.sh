#!/usr/bin/env bash
# Property-based tests of pdfmill's HTTP API with schemathesis, from the server's own
# /openapi.json: no generated request may get a 5xx, and the answers must match the document.
# Usage: tests/e2e/schemathesis.sh BASE_URL [REPORT_DIR]   (scripts/e2e runs it on `pdfmill up`)
# Needs `st` (schemathesis) on PATH or in ST, curl, and PDFMILL_E2E_IMAGE (a PNG) for run 2.
#
# Run 1: every operation but the live event stream, on generated data (schemathesis.toml).
# Run 2: the operations that read one job (status, events, PDF) on a real, finished job
#        (schemathesis-job.toml), so that they are tested past their 404.
set -euo pipefail

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] || [ $# -lt 1 ]; then
  sed -n '2,4p' "$0" | sed 's/^# //'
  [ $# -ge 1 ]; exit $?
fi
base="${1%/}"
reports="${2:-target/e2e/schemathesis}"
here="$(cd "$(dirname "$0")" && pwd)"
st="${ST:-st}"
limit="${PDFMILL_E2E_ST_TIMEOUT:-300}"   # seconds per run; a hang is a failure, not a wait
mkdir -p "$reports"

# Never tied to a terminal: no colours in logs, and no prompts.
export NO_COLOR=1

status=0
echo "schemathesis: run 1, all operations but /events, generated data" >&2
timeout --signal=INT --kill-after=10 "$limit" \
  "$st" --config-file "$here/schemathesis.toml" run "$base/openapi.json" \
  --report junit --report-junit-path "$reports/generated.xml" || status=$?
if [ "$status" -eq 124 ]; then echo "schemathesis: run 1 took longer than ${limit}s" >&2; fi
if [ "$status" -ne 0 ]; then echo "schemathesis: run 1 FAILED (exit $status)" >&2; fi

# A real job, converted and finished (no email, so `converted` is final): its id is the path
# parameter of run 2.
image="${PDFMILL_E2E_IMAGE:?PDFMILL_E2E_IMAGE must name a PNG}"
answer="$(curl -sS --max-time 10 -F "image=@$image" "$base/v1/conversions")"
job="$(printf '%s' "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')" || {
  echo "schemathesis: could not submit $image: $answer" >&2; exit 1; }
for _ in $(seq 150); do
  state="$(curl -sS --max-time 5 "$base/v1/conversions/$job" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')"
  [ "$state" = converted ] && break
  [ "$state" = failed ] && { echo "schemathesis: the job for run 2 failed" >&2; exit 1; }
  sleep 0.2
done
[ "$state" = converted ] || { echo "schemathesis: job $job still $state after 30 s" >&2; exit 1; }

echo "schemathesis: run 2, status, events and PDF of job $job" >&2
run2=0
PDFMILL_E2E_JOB="$job" timeout --signal=INT --kill-after=10 "$limit" \
  "$st" --config-file "$here/schemathesis-job.toml" run "$base/openapi.json" \
  --include-operation-id status --include-operation-id events --include-operation-id pdf \
  --report junit --report-junit-path "$reports/job.xml" || run2=$?
if [ "$run2" -eq 124 ]; then echo "schemathesis: run 2 took longer than ${limit}s" >&2; fi
if [ "$run2" -ne 0 ]; then echo "schemathesis: run 2 FAILED (exit $run2)" >&2; status=$run2; fi
exit "$status"
