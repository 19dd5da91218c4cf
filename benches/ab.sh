#!/usr/bin/env bash
# Compare two pardl binaries on the same private nginx, run by run, alternating: before, after,
# before, after, … so that whatever else the machine is doing weighs on both alike. For checking
# that a change (a refactoring, a new feature) does not make pardl slower.
#
# Usage (from the repository root):
#   benches/ab.sh BEFORE_BIN AFTER_BIN [SCENARIOS] [RUNS]
#   benches/ab.sh /tmp/old/pardl target/release/pardl "1 3 6" 9
#
#   S3_COUNT=2000 AFTER_ARGS="--sync never" CURL=1 benches/ab.sh target/release/pardl \
#       target/release/pardl 3 20     # what the durability promise costs, with curl beside it
#   KEEP=1 S3_COUNT=2000 AFTER_ARGS="--sync never" CURL=sync benches/ab.sh target/release/pardl \
#       target/release/pardl 3 30     # the machine's budget of a run, beside curl and a durable curl
#
# SCENARIOS are those of benches/compare.sh (default "1 3 6": one big file, 200 small files, 2000
# tiny links; QUICK=1 sizes), RUNS the runs per binary and scenario (default 9). BEFORE_ARGS and
# AFTER_ARGS add options to each side's command (so one binary can be compared with itself under two
# settings); CURL=1 adds curl on the same list as a third contender (scenarios 3 and 6, with the
# command compare.sh runs: common.sh's curl_list_command), CURL=sync adds a fourth as well,
# `curl+syncfs`: curl followed by `sync -f` on its output directory (one syncfs, the least a curl
# user who wants the files on the disk must add). Prints, for each scenario and contender, the
# median and minimum wall time, the median CPU time of the tool (user + sys), and the mean of what
# the machine did during its runs (seconds of all cores' time): busy in all (from /proc/stat), of
# which nginx (its workers' utime + stime) and the rest outside the tool and nginx (the kernel's
# threads: writeback, network and block softirqs; and `sync -f` for curl+syncfs); and idle = cores ×
# wall − busy, time in which a core had nothing to run. Fails if a run fails. The data and nginx
# come from `SERVE=1 benches/compare.sh`. The outputs are deleted at the end unless KEEP=1, which
# leaves them (deleting many files slows the creation of new ones for minutes on ext4 without a
# journal).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=benches/common.sh
source "$REPO/benches/common.sh"
BEFORE=${1:?usage: benches/ab.sh BEFORE_BIN AFTER_BIN [SCENARIOS] [RUNS]}
AFTER=${2:?usage: benches/ab.sh BEFORE_BIN AFTER_BIN [SCENARIOS] [RUNS]}
SCENARIOS=${3:-"1 3 6"}
RUNS=${4:-9}
BEFORE_ARGS=${BEFORE_ARGS:-}
AFTER_ARGS=${AFTER_ARGS:-}
CURL=${CURL:-0}
KEEP=${KEEP:-0}   # 1: leave the runs' outputs on the disk (see cleanup)
[[ -x $BEFORE && -x $AFTER ]] || { echo "both binaries must exist and be executable" >&2; exit 2; }
case $CURL in
0) CONTENDERS="before after" ;;
1) CONTENDERS="before after curl" ;;
sync) CONTENDERS="before after curl curl+syncfs" ;;
*) echo "CURL is 0, 1 or sync" >&2; exit 2 ;;
esac
for scenario in $SCENARIOS; do
    [[ $scenario == 1 || $scenario == 3 || $scenario == 6 ]] \
        || { echo "benches/ab.sh knows scenarios 1, 3 and 6" >&2; exit 2; }
    [[ $CURL == 0 || $scenario != 1 ]] \
        || { echo "CURL=$CURL works with scenarios 3 and 6 (they have curl's list)" >&2; exit 2; }
done

log=$(mktemp /tmp/pardl-ab.XXXXXX)
work=$(mktemp -d /tmp/pardl-ab-out.XXXXXX)
PARDL=$AFTER QUICK=1 SERVE=1 SCENARIOS="$SCENARIOS" "$REPO/benches/compare.sh" >"$log" 2>&1 &
server=$!
cleanup() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -f "$log"
    # On ext4 without a journal, creating files within minutes of deleting many is slow (see
    # compare.sh's run_one): KEEP=1 leaves them, so that runs right after this one are not skewed.
    if [[ $KEEP == 1 ]]; then
        echo "outputs kept in $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
for _ in $(seq 300); do
    grep -q '^U=' "$log" && break
    sleep 0.2
done
line=$(grep '^U=' "$log") || { cat "$log" >&2; exit 1; }
# The line is `U=… CAPPED=… LINKS=… MAN=… LOG=…`; nginx's prefix directory holds logs/access.log
# (LOG) and nginx.pid.
for word in $line; do
    case $word in
    U=*) U=${word#U=} ;;
    LINKS=*) LINKS=${word#LINKS=} ;;
    LOG=*) ACCESS_LOG=${word#LOG=} ;;
    esac
done
NG=$(dirname "$(dirname "$ACCESS_LOG")") # for common.sh's nginx_worker_ticks

# pardl's options for a scenario (compare.sh's, for its QUICK sizes), into the array ARGS.
args_for() {
    case $1 in
    1) ARGS=(-j 1 -x 4 --max-per-host 16 "$U/s1/big.bin") ;;
    3 | 6) ARGS=(-j 16 -x 1 --max-per-host 16 -i "$LINKS/$1") ;;
    esac
}

# The command of one contender on one scenario, into the directory $1: into the array CMD.
command_for() {
    local out=$1 who=$2 scenario=$3 extra
    case $who in
    before | after)
        args_for "$scenario"
        # BEFORE and BEFORE_ARGS, or AFTER and AFTER_ARGS.
        local bin=${who^^} options=${who^^}_ARGS
        read -r -a extra <<<"${!options}"
        CMD=("${!bin}" -q -d "$out" "${ARGS[@]}" "${extra[@]}")
        ;;
    curl | curl+syncfs) curl_list_command "$out" 16 "$LINKS/$scenario" ;;
    esac
}

# Busy time of all cores so far, in clock ticks (the first line of /proc/stat; idle and iowait
# count as not busy).
busy_ticks() {
    awk '/^cpu /{total = 0; for (i = 2; i <= NF; i++) total += $i; print total - $5 - $6}' /proc/stat
}

for scenario in $SCENARIOS; do
    times=$work/times-$scenario
    : >"$times"
    : >"$times.busy"
    run=0
    for _ in $(seq "$RUNS"); do
        for who in $CONTENDERS; do
            # A fresh directory per run, moved aside after it rather than deleted: creating many
            # files soon after deleting many is slow on ext4 without a journal (see compare.sh's
            # run_one), and would weigh on whichever binary runs next.
            out=$work/out-$who-$((++run))
            mkdir -p "$out"
            command_for "$out" "$who" "$scenario"
            nginx_before=$(nginx_worker_ticks)
            busy_before=$(busy_ticks)
            started=$EPOCHREALTIME
            /usr/bin/time -f "$who %U %S" -a -o "$times" "${CMD[@]}" \
                >"$work/run.log" 2>&1 \
                || { cat "$work/run.log" >&2; echo "scenario $scenario: $who failed" >&2; exit 1; }
            if [[ $who == curl+syncfs ]]; then sync -f "$out"; fi
            # The wall time to the microsecond (/usr/bin/time's %e is to 10 ms), and the ticks.
            echo "$who $started $EPOCHREALTIME $(($(busy_ticks) - busy_before))" \
                "$(($(nginx_worker_ticks) - nginx_before))" >>"$times.busy"
        done
    done
    echo "scenario $scenario, $RUNS runs each, load $(cut -d' ' -f1-3 /proc/loadavg):"
    # shellcheck disable=SC2086 # one argument per contender
    python3 - "$times" "$(getconf CLK_TCK)" "$(nproc)" $CONTENDERS <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
busy_rows = [line.split() for line in open(sys.argv[1] + ".busy") if line.strip()]
tick, cores = int(sys.argv[2]), int(sys.argv[3])
for who in sys.argv[4:]:
    wall = [float(r[2]) - float(r[1]) for r in busy_rows if r[0] == who]
    cpu = [float(r[1]) + float(r[2]) for r in rows if r[0] == who]
    busy = [int(r[3]) / tick for r in busy_rows if r[0] == who]
    nginx = [int(r[4]) / tick for r in busy_rows if r[0] == who]
    idle = [cores * w - b for w, b in zip(wall, busy)]
    rest = statistics.mean(busy) - statistics.mean(cpu) - statistics.mean(nginx)
    print(f"  {who:11}  wall median {statistics.median(wall):.3f} s (min {min(wall):.3f})"
          f"  cpu median {statistics.median(cpu):.3f} s"
          f"  machine busy {statistics.mean(busy):.3f} s (nginx {statistics.mean(nginx):.3f},"
          f" rest {rest:.3f}), idle {statistics.mean(idle):.3f} s")
EOF
done
