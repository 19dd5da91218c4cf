#!/usr/bin/env bash
# System calls per file (issue 13, per-link cost): pardl and curl download scenario 3's list of
# benches/compare.sh (2,000 × 16 KiB, 16 at once) from its private nginx, each under `strace -f -c`,
# and every count is divided by the number of files. Prints a table by system call, with totals.
#
# Usage (from the repository root):
#   benches/syscalls.sh                                  # target/release/pardl against curl
#   PARDL=/work/bin-before/pardl benches/syscalls.sh     # another pardl binary
#   BEFORE=/work/bin-before/pardl benches/syscalls.sh    # two pardls and curl, side by side
#   BEFORE=/work/bin-before/pardl DOCS_SECTION=syscalls-after UPDATE_DOCS=1 benches/syscalls.sh
#                                                        # ... into docs/benchmarks.md
#
# Knobs: PARDL, BEFORE (a second pardl, shown as "pardl before"), COUNT (2000) and FILE (16K): the
# list, JOBS (16): files at once, RUNS (1; with more, each count is the median over the runs),
# BENCH_TMP (/tmp: the served files and the downloads, on the disk), RESULTS_DIR
# (target/bench-results/syscalls), UPDATE_DOCS and DOCS_SECTION (syscalls-before).
#
# The counts include each process's start and exit (about 100-200 calls, under 0.1 per file at 2,000
# files); futex and sched_yield counts depend on timing, which strace itself changes. Each run writes
# into a fresh directory, and the outputs are deleted only at the end (see compare.sh's run_one on
# deleting many files). Runs alternate between the tools. Never part of cargo test or CI.
# shellcheck disable=SC2016 # single quotes keep `$OUT` as it is shown
set -euo pipefail
umask 022

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PARDL=${PARDL:-$REPO/target/release/pardl}
BEFORE=${BEFORE:-}
COUNT=${COUNT:-2000}
FILE=${FILE:-16K}
JOBS=${JOBS:-16}
RUNS=${RUNS:-1}
BENCH_TMP=${BENCH_TMP:-/tmp}
RESULTS_DIR=${RESULTS_DIR:-$REPO/target/bench-results/syscalls}
UPDATE_DOCS=${UPDATE_DOCS:-0}
DOCS_SECTION=${DOCS_SECTION:-syscalls-before}

# shellcheck source=benches/common.sh
source "$REPO/benches/common.sh"

if ! command -v strace >/dev/null; then
    [[ $EUID == 0 ]] || die "strace is missing; install it (apt-get install strace) or run as root"
    log "installing strace"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null
fi
[[ -x $PARDL ]] || die "no pardl at $PARDL (cargo build --release --bin pardl, or PARDL=path)"
[[ -z $BEFORE || -x $BEFORE ]] || die "no pardl at BEFORE=$BEFORE"

mkdir -p "$RESULTS_DIR"
WORK=$(mktemp -d "$BENCH_TMP/pardl-syscalls.XXXXXX")
SERVER_LOG=$WORK/serve.log
cleanup() {
    [[ -z ${SERVER:-} ]] || { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The same private nginx and list as compare.sh's scenario 3 (its own results directory, so that the
# last benchmark's results stay where they are).
PARDL=$PARDL SERVE=1 SCENARIOS=3 S3_COUNT=$COUNT S3_FILE=$FILE BENCH_TMP=$BENCH_TMP \
    RESULTS_DIR=$WORK/serve-results "$REPO/benches/compare.sh" >"$SERVER_LOG" 2>&1 &
SERVER=$!
for _ in $(seq 600); do
    grep -q '^U=' "$SERVER_LOG" && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$SERVER_LOG" >&2; die "compare.sh SERVE=1 stopped"; }
    sleep 0.2
done
line=$(grep '^U=' "$SERVER_LOG") || { cat "$SERVER_LOG" >&2; die "no server"; }
LINKS=${line#*LINKS=} LINKS=${LINKS%% *}
MAN=${line#*MAN=} MAN=${MAN%% *}
files=$(wc -l <"$MAN/3")
log "serving $files files; links $LINKS/3"

# The command of tool $1 writing into $2, into the array CMD: compare.sh's scenario 3 commands.
tool_cmd() {
    case $1 in
    pardl) CMD=("$PARDL") ;;
    before) CMD=("$BEFORE") ;;
    curl) CMD=(curl -q -sS -f -Z --parallel-immediate --parallel-max "$JOBS" --output-dir "$2" -K "$LINKS/3.curl")
          return 0 ;;
    esac
    CMD+=(-q -d "$2" -j "$JOBS" -x 1 --max-per-host "$JOBS" -i "$LINKS/3")
}

tools=(pardl curl)
[[ -z $BEFORE ]] || tools=(before pardl curl)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
for ((run = 1; run <= RUNS; run++)); do
    for tool in "${tools[@]}"; do
        out=$WORK/out-$tool-$run
        mkdir -p "$out"
        tool_cmd "$tool" "$out"
        sync
        (cd "$out" && strace -f -c -U name,calls,errors -o "$WORK/strace-$tool-$run.txt" -- "${CMD[@]}") \
            >"$WORK/tool.log" 2>&1 || { cat "$WORK/tool.log" >&2; die "$tool run $run failed"; }
        # Every file, byte for byte: a count of a run that did not do the work means nothing.
        (cd "$out" && sha256sum --quiet -c "$MAN/3") >&2 || die "$tool run $run: files differ from the served ones"
        log "$tool run $run: $files files ok, $(awk '$1 == "total" {print $2}' "$WORK/strace-$tool-$run.txt") system calls"
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The table: per system call, calls per file (the median over the runs) for each tool, failed calls
# in brackets; rows under 0.005 per file for every tool are summed into one.
python3 - "$WORK" "$files" "$RUNS" "${tools[@]}" >"$RESULTS_DIR/table.md" <<'PY'
import statistics, sys
work, files, runs, tools = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
label = {"pardl": "pardl", "before": "pardl before", "curl": "curl"}
counts = {}  # (tool, name) -> list of (calls, errors), one per run
for tool in tools:
    for run in range(1, runs + 1):
        for line in open(f"{work}/strace-{tool}-{run}.txt"):
            f = line.split()
            if len(f) < 2 or not f[1].isdigit():
                continue
            counts.setdefault((tool, f[0]), []).append((int(f[1]), int(f[2]) if len(f) > 2 else 0))
def per_file(tool, name):
    rows = counts.get((tool, name), [])
    rows = rows + [(0, 0)] * (runs - len(rows))
    return (statistics.median(r[0] for r in rows) / files, statistics.median(r[1] for r in rows) / files)
def cell(calls, errors):
    return f"{calls:.2f}" + (f" ({errors:.2f} failed)" if errors >= 0.005 else "")
names = sorted({n for (_, n) in counts if n != "total"},
               key=lambda n: (-max(per_file(t, n)[0] for t in tools), n))
shown = [n for n in names if max(per_file(t, n)[0] for t in tools) >= 0.005]
rest = [n for n in names if n not in shown]
print("| system call | " + " | ".join(label[t] for t in tools) + " |")
print("|---" * (len(tools) + 1) + "|")
for n in shown:
    print(f"| `{n}` | " + " | ".join(cell(*per_file(t, n)) for t in tools) + " |")
if rest:
    print(f"| {len(rest)} others, each under 0.005 | "
          + " | ".join(f"{sum(per_file(t, n)[0] for n in rest):.2f}" for t in tools) + " |")
print("| **total per file** | " + " | ".join(f"**{cell(*per_file(t, 'total'))}**" for t in tools) + " |")
print("| total calls (files) | " + " | ".join(
    f"{per_file(t, 'total')[0] * files:.0f} ({files})" for t in tools) + " |")
PY

{
    echo "Run of $started; $files files of $FILE (compare.sh's scenario 3 list), -j $JOBS, $RUNS run(s) per tool$( ((RUNS > 1)) && echo ', medians')."
    echo
    echo "Machine: $(nproc) cores, Linux $(uname -r); downloads into $BENCH_TMP ($(df --output=fstype "$BENCH_TMP" | tail -1)); load average before: $load_before; after: $load_after."
    echo "Versions: pardl $("$PARDL" --version | cut -d' ' -f2) at $PARDL$([[ -n $BEFORE ]] && echo ", pardl before at $BEFORE") (the checkout running this is at commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)); $(curl --version | head -1 | cut -d' ' -f1-2); $(strace -V | head -1)."
    echo
    echo 'Commands ($OUT a fresh directory, links-3 the list; each under `strace -f -c -U name,calls,errors -o FILE --`):'
    echo
    echo '```'
    for tool in "${tools[@]}"; do
        tool_cmd "$tool" '$OUT'
        cmd="${CMD[*]}"
        cmd=${cmd//$LINKS\//links-}
        [[ -z $BEFORE ]] || cmd=${cmd//$BEFORE/pardl-before}
        cmd=${cmd//$PARDL/pardl}
        echo "# $tool: $cmd"
    done
    echo '```'
    echo
    echo "System calls per file (calls / $files; in brackets, the calls that failed):"
    echo
    cat "$RESULTS_DIR/table.md"
} >"$RESULTS_DIR/results.md"
log "results: $RESULTS_DIR/results.md"
cat "$RESULTS_DIR/results.md"

if [[ $UPDATE_DOCS == 1 ]]; then update_docs_section "$DOCS_SECTION" "$RESULTS_DIR/results.md"; fi
