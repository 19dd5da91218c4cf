#!/usr/bin/env bash
# Compare two pardl binaries on the same private nginx, run by run, alternating: before, after,
# before, after, … so that whatever else the machine is doing weighs on both alike. For checking
# that a change (a refactoring, a new feature) does not make pardl slower.
#
# Usage (from the repository root):
#   benches/ab.sh BEFORE_BIN AFTER_BIN [SCENARIOS] [RUNS]
#   benches/ab.sh /tmp/old/pardl target/release/pardl "1 3 6" 9
#
# SCENARIOS are those of benches/compare.sh (default "1 3 6": one big file, 200 small files, 2000
# tiny links; QUICK=1 sizes), RUNS the runs per binary and scenario (default 9). Prints, for each
# scenario and binary, the median and minimum wall time and the median CPU time (user + sys), and
# fails if a run fails. The data and nginx come from `SERVE=1 benches/compare.sh`.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BEFORE=${1:?usage: benches/ab.sh BEFORE_BIN AFTER_BIN [SCENARIOS] [RUNS]}
AFTER=${2:?usage: benches/ab.sh BEFORE_BIN AFTER_BIN [SCENARIOS] [RUNS]}
SCENARIOS=${3:-"1 3 6"}
RUNS=${4:-9}
[[ -x $BEFORE && -x $AFTER ]] || { echo "both binaries must exist and be executable" >&2; exit 2; }

log=$(mktemp /tmp/pardl-ab.XXXXXX)
work=$(mktemp -d /tmp/pardl-ab-out.XXXXXX)
PARDL=$AFTER QUICK=1 SERVE=1 SCENARIOS="$SCENARIOS" "$REPO/benches/compare.sh" >"$log" 2>&1 &
server=$!
cleanup() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$work" "$log"
}
trap cleanup EXIT
for _ in $(seq 300); do
    grep -q '^U=' "$log" && break
    sleep 0.2
done
line=$(grep '^U=' "$log") || { cat "$log" >&2; exit 1; }
U=$(sed 's/.*U=\([^ ]*\).*/\1/' <<<"$line")
LINKS=$(sed 's/.*LINKS=\([^ ]*\).*/\1/' <<<"$line")

args_for() {
    case $1 in
    1) echo "-j 1 -x 4 --max-per-host 16 $U/s1/big.bin" ;;
    3) echo "-j 16 -x 1 --max-per-host 16 -i $LINKS/3" ;;
    6) echo "-j 16 -x 1 --max-per-host 16 -i $LINKS/6" ;;
    *) echo "benches/ab.sh knows scenarios 1, 3 and 6" >&2; exit 2 ;;
    esac
}

for scenario in $SCENARIOS; do
    read -r -a args <<<"$(args_for "$scenario")"
    times=$work/times-$scenario
    : >"$times"
    run=0
    for _ in $(seq "$RUNS"); do
        for who in before after; do
            bin=$BEFORE
            [[ $who == after ]] && bin=$AFTER
            # A fresh directory per run, moved aside after it rather than deleted: creating many
            # files soon after deleting many is slow on ext4 without a journal (see compare.sh's
            # run_one), and would weigh on whichever binary runs next.
            out=$work/out-$who-$((++run))
            /usr/bin/time -f "$who %e %U %S" -a -o "$times" "$bin" -q -d "$out" "${args[@]}" \
                >"$work/run.log" 2>&1 \
                || { cat "$work/run.log" >&2; echo "scenario $scenario: $who failed" >&2; exit 1; }
        done
    done
    echo "scenario $scenario, $RUNS runs each, load $(cut -d' ' -f1-3 /proc/loadavg):"
    python3 - "$times" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
for who in ("before", "after"):
    wall = [float(r[1]) for r in rows if r[0] == who]
    cpu = [float(r[2]) + float(r[3]) for r in rows if r[0] == who]
    print(f"  {who:6}  wall median {statistics.median(wall):.3f} s (min {min(wall):.3f})"
          f"  cpu median {statistics.median(cpu):.3f} s")
EOF
done
