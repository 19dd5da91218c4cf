#!/usr/bin/env bash
# A links file of a million lines: pardl's peak memory and links per second against a private nginx.
#
# Usage (from the repository root; see "A million links" in docs/benchmarks.md for what it measures):
#   QUICK=1 benches/million.sh              # smoke pass: 20,000 links (2,000 for the small list)
#   benches/million.sh                      # full run: 1,000,000 links (100,000 for the small list)
#   UPDATE_DOCS=1 benches/million.sh        # also write the results into docs/benchmarks.md
#   SCENARIOS="full rerun" COUNT=300000 JOBS=16 benches/million.sh
#   NAMES=index benches/million.sh          # the same scenarios with --names index
#   SCENARIOS="shard64 huge" nice -n 19 benches/million.sh   # issue 13's targets (huge: ~30-60 min)
#
# Scenarios, in the order they run (SCENARIOS picks a subset):
#   small      SMALL_COUNT links (default COUNT/10) into an empty directory, then the same list again
#              (every file exists): the memory at a tenth of the links, for the growth per link
#   full       COUNT links to tiny files into an empty directory, with --report
#   rerun      the same list into the same directory: every file exists, no request should be made
#   skip-done  the same list with full's report as --skip-done, into an empty directory: no request
#              should be made (skipped with a message if this pardl has no --skip-done)
#   shard      --shard SHARD of the same list into an empty directory: about 1/N of the requests
#              (skipped with a message if this pardl has no --shard)
#   shard64    issue 13's first target: SHARD64_COUNT links (default 2,000,000) with --names index
#              --shard 0/64, peak RSS under 40 MiB (not in the default SCENARIOS)
#   huge       issue 13's second target: HUGE_COUNT links (default 10,000,000) with --names index,
#              downloaded whole, peak RSS under 64 MiB. Finished files are deleted in the background
#              as the run goes (they are done: counted, their sizes checked, one per pass compared
#              with the served file), because 10M files would not fit in /dev/shm's inodes or RAM.
#              Not in the default SCENARIOS; run it under nice -n 19.
#
# One static file is served for every path under /f/ (nginx try_files), so the server needs no
# million files; every link is a distinct URL and names a distinct output file. Downloads go to
# BENCH_TMP (default /dev/shm, a tmpfs: fdatasync and file creation are cheap there, so the numbers
# are pardl's own cost, not the disk's). Everything it starts is private: nginx runs from a mktemp
# directory with its own config, pid file and logs, listens on 127.0.0.1 only, and is stopped on
# exit. Never part of cargo test or CI.
set -euo pipefail
umask 022

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---------------------------------------------------------------------------------------------------
# Knobs (environment variables).
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then def_count=20000; else def_count=1000000; fi
COUNT=${COUNT:-$def_count}              # links in the list
SMALL_COUNT=${SMALL_COUNT:-$((COUNT / 10))} # links in the small list (scenario small)
FILE_SIZE=${FILE_SIZE:-1K}              # size of the one file served for every link
JOBS=${JOBS:-32}                        # pardl -j (files at once)
SHARD=${SHARD:-0/16}                    # --shard of scenario shard
SCENARIOS=${SCENARIOS:-"small full rerun skip-done shard"}
NAMES=${NAMES:-url}                     # --names of the default scenarios (shard64 and huge: index)
SHARD64_COUNT=${SHARD64_COUNT:-$((QUICK == 1 ? 200000 : 2000000))} # links of scenario shard64
HUGE_COUNT=${HUGE_COUNT:-$((QUICK == 1 ? 100000 : 10000000))}      # links of scenario huge
PARDL=${PARDL:-$REPO/target/release/pardl}
BENCH_TMP=${BENCH_TMP:-/dev/shm}        # server files, links, logs and downloads go under here
RUN_TIMEOUT=${RUN_TIMEOUT:-3600}        # seconds before a run is killed (and counted as failed)
HUGE_TIMEOUT=${HUGE_TIMEOUT:-14400}     # the same for scenario huge
SAMPLES=${SAMPLES:-1}                   # 1: sample pardl's RSS once a second (growth over the run)
CONTENT_SAMPLE=${CONTENT_SAMPLE:-1000}  # files whose contents are compared with the served file
NGINX_WORKERS=${NGINX_WORKERS:-1}
RESULTS_DIR=${RESULTS_DIR:-$REPO/target/bench-results/million}
UPDATE_DOCS=${UPDATE_DOCS:-0}           # 1: replace the million section's results in docs/benchmarks.md
DOCS_SECTION=${DOCS_SECTION:-million}   # which results (markers) UPDATE_DOCS replaces: million, million-flat
KEEP=${KEEP:-0}                         # 1: keep the temp dir (nginx logs, links, report) after the run

# shellcheck source=benches/common.sh
source "$REPO/benches/common.sh"
has() { [[ " $SCENARIOS " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------------------------
# Tools: install what is missing with apt (Debian package names).
install_missing() {
    local need=()
    command -v nginx >/dev/null || need+=(nginx)
    command -v curl >/dev/null || need+=(curl)
    [[ -x /usr/bin/time ]] || need+=(time)
    command -v pgrep >/dev/null || need+=(procps)
    command -v numfmt >/dev/null || need+=(coreutils)
    if ((${#need[@]})); then
        [[ $EUID == 0 ]] || die "missing packages ${need[*]}; install them (apt-get install ${need[*]}) or run as root"
        log "installing ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
}

# Whether this pardl has an option (the flags of issue 7 land separately).
# (The help text is read whole first: grep -q on a pipe could stop early and fail it under pipefail.)
has_flag() { local help; help=$("$PARDL" --help 2>/dev/null || true); grep -q -- "$1\b" <<<"$help"; }

# ---------------------------------------------------------------------------------------------------
# Private nginx.
start_nginx() {
    HTTP_PORT=$(free_port "${HTTP_PORT:-18580}")
    mkdir -p "$NG/tmp" "$NG/logs"
    cat >"$NG/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 8192; }
http {
    log_format bench '\$connection \$status \$body_bytes_sent "\$request"';
    access_log $NG/logs/access.log bench buffer=256k flush=1s;
$(nginx_http_basics)
    server {
        listen 127.0.0.1:$HTTP_PORT;
        root $WWW;
        # /f/ANY is the same small file under every name: a million links, one file on the server.
        location /f/ { try_files /one.bin =404; }
        location / { }
    }
}
EOF
    launch_nginx "$HTTP_PORT"
    sleep 1.5 # the access log is flushed once a second: this request's line must not land in a run's
}

# CPU seconds (user+sys) used so far by nginx's worker processes.
nginx_cpu() {
    awk -v t="$(nginx_worker_ticks)" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}'
}

cleanup() {
    [[ -z ${SAMPLER_PID:-} ]] || kill "$SAMPLER_PID" 2>/dev/null || true
    [[ -z ${DELETER_PID:-} ]] || kill "$DELETER_PID" 2>/dev/null || true
    stop_nginx
    if [[ -n ${WORK:-} ]]; then
        if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    fi
}

# ---------------------------------------------------------------------------------------------------
# Data: the served file and the links files.
make_data() {
    mkdir -p "$WWW" "$LINKS"
    head -c "$(bytes "$FILE_SIZE")" /dev/urandom >"$WWW/one.bin"
    local u="http://127.0.0.1:$HTTP_PORT/f"
    # Seven digits: a distinct URL and a distinct file name per line, all of one length.
    if has full || has rerun || has skip-done || has shard; then
        seq -f "$u/%07.0f.bin" 1 "$COUNT" >"$LINKS/full"
    fi
    if has small; then seq -f "$u/%07.0f.bin" 1 "$SMALL_COUNT" >"$LINKS/small"; fi
    chmod -R a+rX "$WORK"
}

# The path of a list of N links like the full one's (made the first time it is asked for).
links_of() {
    local n=$1 list=$LINKS/n$1
    [[ -s $list ]] || seq -f "http://127.0.0.1:$HTTP_PORT/f/%08.0f.bin" 1 "$n" >"$list"
    echo "$list"
}

# Deletes the finished files of OUT (final names only, never a .part) every 2 s while the process
# PARENT runs, then once more; appends "files wrong-size differing" per pass to $WORK/deleted. The first
# file of each pass is compared with the served file before it goes.
delete_done() {
    local parent=$1 out=$2 size first last=0
    size=$(bytes "$FILE_SIZE")
    while ((last == 0)); do
        kill -0 "$parent" 2>/dev/null || last=1
        find "$out" -mindepth 1 -maxdepth 1 -type f -regextype posix-extended -regex '.*/[0-9]+\.bin' \
            -printf '%s %p\n' >"$WORK/batch"
        local differ=0
        first=$(head -1 "$WORK/batch" | cut -d' ' -f2)
        if [[ -n $first ]] && ! cmp -s "$first" "$WWW/one.bin"; then differ=1; fi
        cut -d' ' -f2 "$WORK/batch" | xargs -r rm -f
        awk -v size="$size" -v d="$differ" '{n++; if ($1 != size) w++} END {print n + 0, w + 0, d}' \
            "$WORK/batch" >>"$WORK/deleted"
        ((last == 1)) || sleep 2
    done
}

# ---------------------------------------------------------------------------------------------------
# RSS over the run: VmRSS of the pardl process once a second (it runs under time and timeout).
sample_rss() {
    local parent=$1 out=$2 pid="" start=$SECONDS kib
    while kill -0 "$parent" 2>/dev/null; do
        if [[ -z $pid ]]; then
            # time → timeout → pardl
            local mid; mid=$(pgrep -P "$parent" | head -1 || true)
            [[ -z $mid ]] || pid=$(pgrep -x pardl -P "$mid" | head -1 || true)
        fi
        if [[ -n $pid ]]; then
            kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
            [[ -z $kib ]] || printf '%s\t%s\n' "$((SECONDS - start))" "$kib" >>"$out"
        fi
        sleep 1
    done
}

# One run of pardl: time it, count what nginx served, check the output directory.
#   run NAME LINKS OUT_DIR EXPECT_REQUESTS EXPECT_FILES [pardl options...]
# EXPECT_* may be a number, "-" (not checked), "~N" (about N: within 5 standard deviations of a
# binomial count, 5·√N) or, for files, "=requests" (as many files as requests were made).
run() {
    local name=$1 links=$2 out=$3 want_reqs=$4 want_files=$5
    shift 5
    local n; n=$(wc -l <"$links")
    # --max-per-host: pardl's default of 16 connections to one host would leave half of 32 jobs waiting.
    CMD=("$PARDL" -q -d "$out" -j "$JOBS" --max-per-host "$JOBS" -i "$links" "$@")
    mkdir -p "$out"
    : >"$NG/logs/access.log"
    kill -USR1 "$(cat "$NG/nginx.pid")" # reopen the (truncated) log
    sleep 0.2
    local cpu0 rc=0 samples=$RESULTS_DIR/rss-$name.tsv
    cpu0=$(nginx_cpu)
    : >"$samples"
    : >"$WORK/deleted"
    log "$name: ${CMD[*]}"
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" \
        timeout -k 10 "${TIMEOUT:-$RUN_TIMEOUT}" "${CMD[@]}" >"$RESULTS_DIR/pardl-$name.log" 2>&1 &
    local tpid=$!
    if [[ $SAMPLES == 1 ]]; then
        sample_rss "$tpid" "$samples" &
        SAMPLER_PID=$!
    fi
    if [[ ${DELETE_DONE:-0} == 1 ]]; then
        delete_done "$tpid" "$out" &
        DELETER_PID=$!
    fi
    wait "$tpid" || rc=$?
    if [[ -n ${SAMPLER_PID:-} ]]; then wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=; fi
    if [[ -n ${DELETER_PID:-} ]]; then wait "$DELETER_PID" || true; DELETER_PID=; fi
    sleep 1.5 # the access log is flushed once a second
    local cpu1; cpu1=$(nginx_cpu)
    local wall user sys rss
    read -r wall user sys rss < <(grep -E '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$' "$WORK/time" | tail -1)
    local reqs ok2xx conns files wrong parts bad
    reqs=$(wc -l <"$NG/logs/access.log")
    # pardl's first request for a file asks for a range, so its answers are 206.
    ok2xx=$(awk '$2 ~ /^2/' "$NG/logs/access.log" | wc -l)
    conns=$(cut -d' ' -f1 "$NG/logs/access.log" | sort -u | wc -l)
    # Files: every final name, wrong sizes among them, leftover .part files, a sample of contents.
    find "$out" -mindepth 1 -maxdepth 1 -printf '%y %s %f\n' >"$WORK/listing"
    read -r files wrong parts < <(awk -v size="$(bytes "$FILE_SIZE")" '
        $1 == "f" && $3 ~ /^[0-9]+\.bin$/ {files++; if ($2 != size) wrong++; next} {parts++}
        END {print files + 0, wrong + 0, parts + 0}' "$WORK/listing")
    # Files deleted while the run went (scenario huge) count as files, checked as they went.
    local deleted=0 deleted_wrong=0 bad_deleted=0
    read -r deleted deleted_wrong bad_deleted < <(awk '{n += $1; w += $2; d += $3}
        END {print n + 0, w + 0, d + 0}' "$WORK/deleted")
    files=$((files + deleted)) wrong=$((wrong + deleted_wrong))
    bad=$bad_deleted
    if ((files > 0 && CONTENT_SAMPLE > 0)); then
        local f
        while read -r f; do
            cmp -s "$f" "$WWW/one.bin" || bad=$((bad + 1))
        done < <(awk -v out="$out" -v k="$CONTENT_SAMPLE" -v n="$((files - deleted))" '
            BEGIN {step = n / k; if (step < 1) step = 1; next_at = 1}
            $1 == "f" && $3 ~ /^[0-9]+\.bin$/ && ++i >= next_at {print out "/" $3; next_at += step}' "$WORK/listing")
    fi
    local status=ok notes=()
    ((rc == 0)) || { status="exit$rc"; notes+=("exit status $rc"); }
    check() { # what, got, want
        local got=$2 want=$3
        [[ $want == - ]] && return 0
        if [[ $want == "~"* ]]; then
            want=${want#\~}
            awk -v g="$got" -v w="$want" 'BEGIN {d = g - w; exit !(d * d <= 25 * w)}' && return 0
        elif ((got == want)); then
            return 0
        fi
        status=${status/ok/}bad; notes+=("$1 $got, expected $3")
    }
    check requests "$reqs" "$want_reqs"
    [[ $want_files != "=requests" ]] || want_files=$reqs
    check files "$files" "$want_files"
    ((wrong == 0)) || { status=${status/ok/}bad; notes+=("$wrong files of the wrong size"); }
    ((parts == 0)) || { status=${status/ok/}bad; notes+=("$parts other entries (.part files?)"); }
    ((bad == 0)) || { status=${status/ok/}bad; notes+=("$bad of the sampled files differ"); }
    local lps ngcpu
    lps=$(awk -v n="$n" -v w="$wall" 'BEGIN {printf "%.0f", (w > 0 ? n / w : 0)}')
    ngcpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.2f", b - a}')
    local rss_half="-"
    if [[ -s $samples ]]; then
        # RSS at half of the run's wall time: growth shows as half-time RSS well below the peak.
        rss_half=$(awk -F'\t' -v h="$(awk -v w="$wall" 'BEGIN {print int(w / 2)}')" \
            '$1 <= h {v = $2} END {if (v == "") print "-"; else printf "%.1f", v / 1024}' "$samples")
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$n" "$status" "$wall" \
        "$user" "$sys" "$rss" "$lps" "$reqs" "$ok2xx" "$conns" "$files" "$ngcpu" "$rss_half" \
        "$(IFS=';'; echo "${notes[*]:-}")" "${CMD[*]:1}" >>"$TSV"
    log "$name: $status ${wall}s $lps links/s cpu user $user sys $sys; peak RSS $((rss / 1024)) MiB" \
        "(half-time $rss_half MiB); requests $reqs (2xx: $ok2xx, connections $conns); files $files;" \
        "nginx cpu ${ngcpu}s${notes:+; ${notes[*]}}"
    if [[ $status != ok ]]; then tail -5 "$RESULTS_DIR/pardl-$name.log" >&2 || true; fi
}

# Removes a directory of many files and logs how long that took.
remove() {
    local t=$SECONDS
    rm -rf "$1"
    log "removed $1 in $((SECONDS - t)) s"
}

# ---------------------------------------------------------------------------------------------------
# Report.
report() {
    local t=$RESULTS_DIR/table.md
    {
        echo "| scenario | links | status | wall s | links/s | user s | sys s | peak RSS MiB | RSS at half time MiB | requests | connections | files | nginx CPU s |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        awk -F'\t' '{
            printf "| %s | %d | %s%s | %.2f | %d | %.2f | %.2f | %.1f | %s | %d | %d | %d | %.2f |\n",
                $1, $2, $3, ($15 == "" ? "" : " (" $15 ")"), $4, $8, $5, $6, $7 / 1024, $14, $9, $11, $12, $13
        }' "$TSV"
        for s in "${SKIPPED[@]}"; do echo; echo "Not run: $s."; done
        # Growth per link between the small list and the full one (same scenario, same directory state).
        local line
        for pair in "small:full" "small-rerun:rerun"; do
            local a=${pair%%:*} b=${pair##*:}
            line=$(awk -F'\t' -v a="$a" -v b="$b" '
                $1 == a {na = $2; ra = $7} $1 == b {nb = $2; rb = $7}
                END {if (na && nb && nb > na) printf "%s → %s: (%.1f − %.1f MiB) / %d links = **%.0f bytes per link**",
                        a, b, rb / 1024, ra / 1024, nb - na, (rb - ra) * 1024 / (nb - na)}' "$TSV")
            if [[ -n $line ]]; then echo; echo "Peak RSS growth, $line."; fi
        done
        # Issue 13's targets.
        awk -F'\t' '
            $1 == "shard64" {what = "links with `--names index --shard 0/64`"; target = 40}
            $1 == "huge" {what = "links downloaded whole with `--names index`"; target = 64}
            $1 == "shard64" || $1 == "huge" {
                printf "\nTarget of issue 13, %s: %d %s, peak RSS %.1f MiB, target under %d MiB: **%s**.\n",
                    $1, $2, what, $7 / 1024, target, ($7 / 1024 < target ? "met" : "not met")
            }' "$TSV"
    } >"$t"
}

# ---------------------------------------------------------------------------------------------------
main() {
    install_missing
    [[ -x $PARDL ]] || { log "building pardl (release)"; (cd "$REPO" && cargo build --release --bin pardl); }
    unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY

    mkdir -p "$RESULTS_DIR"
    WORK=$(mktemp -d "$BENCH_TMP/pardl-million.XXXXXX")
    chmod 755 "$WORK"
    NG=$WORK/nginx WWW=$WORK/www LINKS=$WORK/links OUT=$WORK/out TSV=$RESULTS_DIR/runs.tsv
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    mkdir -p "$NG" "$WWW" "$OUT"

    # Room: each file takes at least a page on tmpfs (4 KiB for 1 KiB), plus the report (~400 bytes a
    # line), the access log (~50 bytes a request) and the links (~45 bytes a line). Scenario huge
    # deletes its files as it goes: it needs room for its list and the access log only.
    local need_kib=1048576 avail_kib pages fsz_kib
    pages=$(( ($(bytes "$FILE_SIZE") + 4095) / 4096 ))
    fsz_kib=$((pages * 4))
    if has small || has full || has rerun || has skip-done || has shard; then
        need_kib=$(( need_kib + COUNT * (fsz_kib + 1) + COUNT / 2 ))
    fi
    if has shard64; then need_kib=$(( need_kib + SHARD64_COUNT / 20 + SHARD64_COUNT / 64 * fsz_kib )); fi
    if has huge; then need_kib=$(( need_kib + HUGE_COUNT / 10 )); fi
    avail_kib=$(df -k --output=avail "$BENCH_TMP" | tail -1)
    ((avail_kib > need_kib)) || die "$BENCH_TMP has ${avail_kib} KiB free, needs about ${need_kib} KiB"
    ulimit -n 65536 2>/dev/null || true

    : >"$TSV"
    SKIPPED=()
    local load_before; load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    local started; started=$(date -u '+%Y-%m-%d %H:%M UTC')
    start_nginx
    log "nginx on 127.0.0.1:$HTTP_PORT; generating the links"
    make_data
    local shard_n=${SHARD#*/} report=$WORK/report.jsonl
    # --names for the scenarios before shard64 (which, like huge, always names by index).
    NAMES_OPT=()
    [[ $NAMES == url ]] || NAMES_OPT=(--names "$NAMES")

    if has small; then
        run small "$LINKS/small" "$OUT/small" "$SMALL_COUNT" "$SMALL_COUNT" "${NAMES_OPT[@]}"
        run small-rerun "$LINKS/small" "$OUT/small" 0 "$SMALL_COUNT" "${NAMES_OPT[@]}"
        remove "$OUT/small"
    fi
    if has full || has rerun || has skip-done; then
        run full "$LINKS/full" "$OUT/full" "$COUNT" "$COUNT" "${NAMES_OPT[@]}" --report "$report"
        local lines; lines=$(wc -l <"$report")
        ((lines == COUNT)) || log "warning: the report has $lines lines, not $COUNT"
        if has rerun; then run rerun "$LINKS/full" "$OUT/full" 0 "$COUNT" "${NAMES_OPT[@]}"; fi
        remove "$OUT/full"
    fi
    if has skip-done; then
        if has_flag --skip-done; then
            run skip-done "$LINKS/full" "$OUT/skip" 0 0 "${NAMES_OPT[@]}" --skip-done "$report"
            remove "$OUT/skip"
        else
            log "skip-done: not run: $PARDL --help lists no --skip-done"
            SKIPPED+=("skip-done (this pardl has no \`--skip-done\`)")
        fi
    fi
    if has shard; then
        if has_flag --shard; then
            # About COUNT/N requests, and as many files as requests.
            run shard "$LINKS/full" "$OUT/shard" "~$((COUNT / shard_n))" =requests "${NAMES_OPT[@]}" \
                --shard "$SHARD"
            remove "$OUT/shard"
        else
            log "shard: not run: $PARDL --help lists no --shard"
            SKIPPED+=("shard (this pardl has no \`--shard\`)")
        fi
    fi
    for scenario in shard64 huge; do
        if has "$scenario" && ! has_flag --names; then
            log "$scenario: not run: $PARDL --help lists no --names"
            SKIPPED+=("$scenario (this pardl has no \`--names\`)")
        fi
    done
    if has shard64 && has_flag --names; then
        local list; list=$(links_of "$SHARD64_COUNT")
        run shard64 "$list" "$OUT/shard64" "~$((SHARD64_COUNT / 64))" =requests --names index --shard 0/64
        remove "$OUT/shard64"
    fi
    if has huge && has_flag --names; then
        local list; list=$(links_of "$HUGE_COUNT")
        DELETE_DONE=1 TIMEOUT=$HUGE_TIMEOUT run huge "$list" "$OUT/huge" "$HUGE_COUNT" "$HUGE_COUNT" --names index
        remove "$OUT/huge"
    fi
    local load_after; load_after=$(cut -d' ' -f1-3 /proc/loadavg)
    report

    local commit dirty=""
    commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    [[ -z $(git -C "$REPO" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null) ]] || dirty=" (with uncommitted changes to src/)"
    {
        local sizes="COUNT=$COUNT, SMALL_COUNT=$SMALL_COUNT"
        if has shard64 || has huge; then sizes+=", SHARD64_COUNT=$SHARD64_COUNT, HUGE_COUNT=$HUGE_COUNT"; fi
        echo "Run of $started (finished $(date -u '+%H:%M UTC')); QUICK=$QUICK, SCENARIOS=\"$SCENARIOS\", $sizes, NAMES=$NAMES, JOBS=$JOBS, FILE_SIZE=$FILE_SIZE."
        echo
        echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem/ {print $2}') GiB memory, Linux $(uname -r); downloads on $(df --output=fstype "$BENCH_TMP" | tail -1) ($BENCH_TMP)."
        echo "Load average (1/5/15 min) before: $load_before; after: $load_after."
        echo "pardl commit: $commit$dirty ($("$PARDL" --version | head -1)); nginx $(nginx -v 2>&1 | cut -d/ -f2) ($NGINX_WORKERS worker)."
        echo
        echo "Commands (\$U = http://127.0.0.1:PORT/f, links \`\$U/0000001.bin\` …, those of shard64 and huge \`\$U/00000001.bin\` …; wall time, CPU and peak RSS from /usr/bin/time):"
        echo
        echo '```'
        awk -F'\t' '{print "# " $1 ": pardl " $16}' "$TSV" |
            sed -e "s|$LINKS/|links-|g" -e "s|$OUT/|out/|g" -e "s|$WORK/||g"
        echo '```'
        echo
        cat "$RESULTS_DIR/table.md"
    } >"$RESULTS_DIR/results.md"
    log "results: $RESULTS_DIR/results.md (per run: $TSV, RSS samples: $RESULTS_DIR/rss-*.tsv)"
    cat "$RESULTS_DIR/results.md"

    if [[ $UPDATE_DOCS == 1 ]]; then update_docs_section "$DOCS_SECTION" "$RESULTS_DIR/results.md"; fi
    if awk -F'\t' '$3 != "ok" {bad = 1} END {exit !bad}' "$TSV"; then die "some runs were not ok (see above)"; fi
}

main "$@"
