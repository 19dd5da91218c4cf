#!/usr/bin/env bash
# Compare pardl with aria2c, axel, curl and wget2 against a private nginx on 127.0.0.1.
#
# Scenarios (docs/benchmarks.md has the table, the equivalent settings of each tool and the results):
#   1-6    one big file, one capped file, 2,000 small files, Range ignored, three capped files,
#          100,000 links (the default set)
#   7, 8   one 256 MiB / 1 GiB file over HTTPS, into tmpfs
#   9-11   uneven servers (issue 12): one connection of four much slower (a straggler), one file from
#          two mirrors, one object in moto's S3 server
#   12     20,000 × 16 KiB on the disk, 16 at once (per-link cost, issue 13; 3 is its 2,000-file twin)
#   13-16  one 256 MiB / 1 GiB file on the disk (13, 14) and into tmpfs (15, 16): durability (issue 13,
#          with TOOLS holding curl+sync)
#
# Usage (from the repository root):
#   QUICK=1 benches/compare.sh              # smoke pass: small sizes, 1 run, a couple of minutes
#   benches/compare.sh                      # full run of 1-6: 3 runs per tool and scenario
#   UPDATE_DOCS=1 benches/compare.sh        # also write the results into docs/benchmarks.md
#   SCENARIOS="1 3" TOOLS="pardl aria2c" RUNS=5 benches/compare.sh
#   SERVE=1 SCENARIOS="1 3" benches/compare.sh   # only serve the data (for perf/strace by hand)
#   SCENARIOS="7 8" TOOLS="pardl aria2c curl" DOCS_SECTION=https UPDATE_DOCS=1 benches/compare.sh
#                                           # HTTPS: nginx with TLS and a CA made for the run
#   SCENARIOS="9 10 11" DOCS_SECTION=stragglers UPDATE_DOCS=1 benches/compare.sh
#                                           # stragglers, mirrors, object store (issue 12)
#   RUNS=5 S6_RUNS=5 SCENARIOS="3 12 6" TOOLS="pardl curl" DOCS_SECTION=perlink UPDATE_DOCS=1 benches/compare.sh
#   RUNS=5 SCENARIOS="13 14 15 16" TOOLS="pardl aria2c axel curl curl+sync wget2" \
#       DOCS_SECTION=durable UPDATE_DOCS=1 benches/compare.sh   # per-link cost, durability (issue 13)
#
# A tool named TOOL+sync (curl+sync) is TOOL followed by coreutils' `sync` of what it wrote (`sync
# FILE` fsyncs that file), timed as one command: the peer made as durable as pardl, which fsyncs
# every file before its rename.
#
# Runs alternate (run 1 of every tool, then run 2, …), each into a fresh, empty directory; medians
# are over the correct runs. Outputs of many small files are moved aside rather than deleted between
# runs (ext4 without a journal makes creating files slow for a minute after mass deletion; see
# run_one), and deleted when they pass TRASH_MAX, followed by a pause of SETTLE seconds.
#
# Everything it starts is private: nginx runs from a mktemp directory with its own config, pid file,
# logs and temp dirs, listens on 127.0.0.1 only, and is stopped on exit. So are the per-run capping
# proxies of scenarios 9 and 10 (benches/capproxy.py) and scenario 11's object store (moto's S3
# server, installed with pip if missing). Never part of cargo test or CI.
# shellcheck disable=SC2016 # single quotes keep `$` for awk programs and `bash -c` scripts on purpose
set -euo pipefail
umask 022

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---------------------------------------------------------------------------------------------------
# Knobs (environment variables).
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
    def_runs=1 def_s1=32M def_s2=16M def_s3n=200 def_s4=16M def_s5=8M def_s6n=2000 def_timeout=60
    def_s7=32M def_s8=64M def_s9=16M def_s10=16M def_s12n=2000 def_s13=32M def_s14=64M
else
    def_runs=3 def_s1=1G def_s2=256M def_s3n=2000 def_s4=64M def_s5=64M def_s6n=100000 def_timeout=300
    def_s7=256M def_s8=1G def_s9=64M def_s10=64M def_s12n=20000 def_s13=256M def_s14=1G
fi
RUNS=${RUNS:-$def_runs}                 # runs per tool and scenario (medians are taken over these)
S6_RUNS=${S6_RUNS:-$RUNS}               # runs of scenario 6 (100k requests per tool per run: ~8 min a run)
S1_SIZE=${S1_SIZE:-$def_s1}             # scenario 1: one file, unlimited
S2_SIZE=${S2_SIZE:-$def_s2}             # scenario 2: one file, capped per connection
S3_COUNT=${S3_COUNT:-$def_s3n}          # scenario 3: many small files ...
S3_FILE=${S3_FILE:-16K}                 #   ... of this size
S4_SIZE=${S4_SIZE:-$def_s4}             # scenario 4: one file, Range ignored
S5_SIZE=${S5_SIZE:-$def_s5}             # scenario 5: three files, capped per connection
S6_COUNT=${S6_COUNT:-$def_s6n}          # scenario 6: links in the links file ...
S6_FILE=${S6_FILE:-1K}                  #   ... each a file of this size
S7_SIZE=${S7_SIZE:-$def_s7}             # scenario 7: one file over HTTPS, unlimited
S8_SIZE=${S8_SIZE:-$def_s8}             # scenario 8: one bigger file over HTTPS, unlimited
S9_SIZE=${S9_SIZE:-$def_s9}             # scenario 9: one file, one connection of four much slower
S10_SIZE=${S10_SIZE:-$def_s10}          # scenario 10: one file from two mirrors
S11_SIZE=${S11_SIZE:-48M}               # scenario 11: one object in an S3-compatible store (moto)
S12_COUNT=${S12_COUNT:-$def_s12n}       # scenario 12: many small files on the disk ...
S12_FILE=${S12_FILE:-16K}               #   ... of this size
S13_SIZE=${S13_SIZE:-$def_s13}          # scenarios 13 (disk) and 15 (tmpfs): one file, unlimited
S14_SIZE=${S14_SIZE:-$def_s14}          # scenarios 14 (disk) and 16 (tmpfs): one bigger file
TMPFS_OUT=${TMPFS_OUT:-/dev/shm}        # scenarios 7, 8, 15 and 16 write under here (a tmpfs)
RATE=${RATE:-4000000}                   # per-connection cap (bytes/s) for scenarios 2, 5, 9 and 10
SLOW_RATE=${SLOW_RATE:-$((RATE / 10))}  # scenario 9: the cap of the slow connection ...
SLOW_CONN=${SLOW_CONN:-2}               #   ... the how-manieth connection of each run it is
SCENARIOS=${SCENARIOS:-"1 2 3 4 5 6"}
TOOLS=${TOOLS:-"pardl aria2c axel curl wget2"}   # TOOL+sync: TOOL, then `sync` of its files
PARDL=${PARDL:-$REPO/target/release/pardl}
BENCH_TMP=${BENCH_TMP:-/tmp}            # server files and downloads go under here (same disk)
RUN_TIMEOUT=${RUN_TIMEOUT:-$def_timeout} # seconds before a run is killed and counted as failed
S4_TIMEOUT=${S4_TIMEOUT:-60}            # the same for scenario 4 (wget2 --chunk-size loops forever there)
S6_TIMEOUT=${S6_TIMEOUT:-1500}          # the same for scenario 6 (100k requests)
TRASH_MAX=${TRASH_MAX:-8G}              # outputs kept aside (see run_one) are deleted past this size ...
SETTLE=${SETTLE:-61}                    #   ... then the script waits this many seconds before going on
NGINX_WORKERS=${NGINX_WORKERS:-1}
RESULTS_DIR=${RESULTS_DIR:-$REPO/target/bench-results}
UPDATE_DOCS=${UPDATE_DOCS:-0}           # 1: replace the results section of docs/benchmarks.md
DOCS_SECTION=${DOCS_SECTION:-results}   # the section UPDATE_DOCS replaces (https, stragglers, perlink, durable)
KEEP=${KEEP:-0}                         # 1: keep the temp dir (nginx logs, data) after the run
SERVE=${SERVE:-0}                       # 1: only start nginx with the data and wait (for profiling)

# shellcheck source=benches/common.sh
source "$REPO/benches/common.sh"

# ---------------------------------------------------------------------------------------------------
# Tools: install what is missing with apt (Debian package names).
install_missing() {
    local need=()
    command -v nginx >/dev/null || need+=(nginx)
    command -v aria2c >/dev/null || need+=(aria2)
    command -v axel >/dev/null || need+=(axel)
    command -v wget2 >/dev/null || need+=(wget2)
    command -v curl >/dev/null || need+=(curl)
    command -v python3 >/dev/null || need+=(python3 python3-pip)
    [[ -x /usr/bin/time ]] || need+=(time)
    command -v openssl >/dev/null || need+=(openssl)
    [[ -f /etc/ssl/certs/ca-certificates.crt ]] || need+=(ca-certificates)
    command -v numfmt >/dev/null || need+=(coreutils)
    # Debian builds the stream module as a dynamic module in its own package.
    if ! command -v nginx >/dev/null || { nginx -V 2>&1 | grep -q -- '--with-stream=dynamic' && ! stream_module >/dev/null; }; then
        need+=(libnginx-mod-stream)
    fi
    if ((${#need[@]})); then
        [[ $EUID == 0 ]] || die "missing packages ${need[*]}; install them (apt-get install ${need[*]}) or run as root"
        log "installing ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
}

stream_module() {
    local f
    for f in /usr/lib/nginx/modules/ngx_stream_module.so /usr/share/nginx/modules/ngx_stream_module.so; do
        [[ -f $f ]] && { echo "$f"; return 0; }
    done
    return 1
}

# ---------------------------------------------------------------------------------------------------
# Private nginx.
start_nginx() {
    HTTP_PORT=$(free_port "${HTTP_PORT:-18480}")
    CAP_PORT=$(free_port $((HTTP_PORT + 1)))
    TLS_PORT=$(free_port $((CAP_PORT + 1)))
    SLOW_PORT=$(free_port $((TLS_PORT + 1)))
    M1_PORT=$(free_port $((SLOW_PORT + 1)))
    M2_PORT=$(free_port $((M1_PORT + 1)))
    make_certificates
    local load=""
    if nginx -V 2>&1 | grep -q -- '--with-stream=dynamic'; then
        load="load_module $(stream_module || die 'nginx stream module not found');"
    elif ! nginx -V 2>&1 | grep -q -- '--with-stream'; then
        die "this nginx has no stream module (needed for the per-connection cap)"
    fi
    mkdir -p "$NG/tmp" "$NG/logs"
    cat >"$NG/nginx.conf" <<EOF
$load
worker_processes $NGINX_WORKERS;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 8192; }
http {
    log_format bench '\$connection \$status \$body_bytes_sent "\$request" "\$http_range" "\$http_user_agent" \$ssl_protocol/\$ssl_cipher';
    access_log $NG/logs/access.log bench;
$(nginx_http_basics)
    server {
        listen 127.0.0.1:$HTTP_PORT;
        root $WWW;
        # Without limits, Range honoured.
        location / { }
        # Range ignored: every request gets 200 and the whole file.
        location /norange/ { max_ranges 0; }
        # Scenario 6: /many/ANY.bin is the same small file under 100k names.
        location /many/ { try_files /s6.bin =404; }
    }
    # Scenarios 7 and 8: HTTPS with a certificate from the run's own CA ($NG/tls/ca.pem), keep-alive
    # and session resumption as nginx ships them.
    server {
        listen 127.0.0.1:$TLS_PORT ssl;
        ssl_certificate $NG/tls/server.pem;
        ssl_certificate_key $NG/tls/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:bench:1m;
        root $WWW;
        location / { }
    }
}
# The per-connection cap: http's limit_rate is per request and starts with a burst, so small range
# requests escape it; the stream proxy caps every TCP connection for its whole life.
stream {
    server {
        listen 127.0.0.1:$CAP_PORT;
        proxy_pass 127.0.0.1:$HTTP_PORT;
        proxy_download_rate $RATE;
    }
}
EOF
    launch_nginx "$CAP_PORT"
}

# A private CA and a certificate for 127.0.0.1 and localhost signed by it (ECDSA P-256, as a modern
# CA would issue), made with openssl for this run only: the tools trust it through their CA option.
make_certificates() {
    local tls=$NG/tls
    mkdir -p "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=pardl bench CA" -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$tls/ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
        -days 2 -extfile "$tls/ext" -out "$tls/server.pem" 2>/dev/null
    CA=$tls/ca.pem
}

cleanup() {
    [[ -z ${SLEEP_PID:-} ]] || kill "$SLEEP_PID" 2>/dev/null || true
    stop_proxies
    [[ -z ${MOTO_PID:-} ]] || kill "$MOTO_PID" 2>/dev/null || true
    stop_nginx
    [[ -z ${TMPFS_WORK:-} ]] || rm -rf "$TMPFS_WORK"
    if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}

# ---------------------------------------------------------------------------------------------------
# Scenarios 9 and 10: capping proxies in front of nginx, started afresh for each run so that "the
# second connection" means the second connection of that run. benches/capproxy.py caps what flows to
# the client per connection, like the stream proxy of scenario 2, and can make chosen connections
# slower. Each proxy logs one line per connection (its bytes), which tells what each mirror delivered.
PROXY_PIDS=()
start_proxies() {
    local s=$1 ports
    : >"$WORK/proxy-slow.log"; : >"$WORK/proxy-m1.log"; : >"$WORK/proxy-m2.log"
    case $s in
    9) python3 "$REPO/benches/capproxy.py" --listen "$SLOW_PORT" --upstream "$HTTP_PORT" --rate "$RATE" \
           --slow "$SLOW_CONN" --slow-rate "$SLOW_RATE" 2>"$WORK/proxy-slow.log" &
       PROXY_PIDS+=($!) ports=$SLOW_PORT ;;
    10) python3 "$REPO/benches/capproxy.py" --listen "$M1_PORT" --upstream "$HTTP_PORT" --rate "$RATE" 2>"$WORK/proxy-m1.log" &
        PROXY_PIDS+=($!)
        python3 "$REPO/benches/capproxy.py" --listen "$M2_PORT" --upstream "$HTTP_PORT" --rate "$RATE" 2>"$WORK/proxy-m2.log" &
        PROXY_PIDS+=($!) ports="$M1_PORT $M2_PORT" ;;
    *) return 0 ;;
    esac
    local port i
    for port in $ports; do
        for ((i = 0; i < 50; i++)); do
            ss -Htln "sport = :$port" | grep -q . && break
            sleep 0.05
        done
    done
}

stop_proxies() {
    local pid
    for pid in "${PROXY_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PROXY_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PROXY_PIDS=()
}

# Bytes a proxy's log says its connections carried.
proxy_bytes() { awk '/bytes$/ {b += $(NF - 1)} END {printf "%d", b}' "$1"; }

# ---------------------------------------------------------------------------------------------------
# Scenario 11: an S3-compatible object store on 127.0.0.1 (moto's server), one object, reached
# through a presigned URL. Every request there costs the store real work, so it rewards few requests.
start_moto() {
    python3 -c 'import moto.server, boto3' 2>/dev/null || {
        log "installing moto's server and boto3 with pip"
        python3 -m pip install --quiet 'moto[server]' boto3 || die "pip install moto[server] boto3 failed"
    }
    MOTO_PORT=$(free_port $((HTTP_PORT + 10)))
    python3 -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
    MOTO_PID=$!
    wait_for_http "$MOTO_PORT" 100 "moto's server" "$WORK/moto.log"
}

# Uploads file $1 as s3://bench/obj.bin and prints a presigned GET URL for it (valid for a day).
moto_object() {
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 python3 - "$1" "$MOTO_PORT" <<'PY'
import sys, boto3
path, port = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}")
s3.create_bucket(Bucket="bench")
s3.upload_file(path, "bench", "obj.bin")
print(s3.generate_presigned_url("get_object", Params={"Bucket": "bench", "Key": "obj.bin"}, ExpiresIn=86400))
PY
}

# ---------------------------------------------------------------------------------------------------
# Data: random files and their SHA-256 (manifests in sha256sum format, relative names).
gen_file() { head -c "$(bytes "$2")" /dev/urandom >"$1"; }

# Scenario $1's COUNT files of SIZE bytes in $WWW/s$1, served as such.
many_files() {
    local s=$1 count=$2 size=$3 dir=$WWW/s$1
    mkdir -p "$dir"
    head -c $(($(bytes "$size") * count)) /dev/urandom |
        (cd "$dir" && split -b "$(bytes "$size")" -d -a 6 --additional-suffix=.bin - f)
    (cd "$dir" && find . -name '*.bin' -printf '%f\n' | sort | xargs sha256sum) >"$MAN/$s"
    (cd "$dir" && find . -name '*.bin' -printf '%f\n' | sort | sed "s|^|http://127.0.0.1:$HTTP_PORT/s$s/|") >"$LINKS/$s"
}

# Scenario $1's one file of SIZE bytes, $WWW/one/one-SIZE.bin: scenarios 13 and 15 (and 14 and 16)
# download the same file, one to the disk and one into tmpfs.
one_file() {
    local s=$1 size=$2 name=one-$2.bin
    mkdir -p "$WWW/one"
    [[ -f $WWW/one/$name ]] || gen_file "$WWW/one/$name" "$size"
    (cd "$WWW/one" && sha256sum "$name") >"$MAN/$s"
    echo "http://127.0.0.1:$HTTP_PORT/one/$name" >"$LINKS/$s"
}

make_data() {
    mkdir -p "$WWW"/{s1,s2,norange,s5,tls,s9,s10} "$MAN" "$LINKS"
    local u="http://127.0.0.1:$HTTP_PORT" c="http://127.0.0.1:$CAP_PORT" t="https://127.0.0.1:$TLS_PORT" s i
    for s in $SCENARIOS; do
        case $s in
        1) gen_file "$WWW/s1/big.bin" "$S1_SIZE"
           (cd "$WWW/s1" && sha256sum big.bin) >"$MAN/1"
           echo "$u/s1/big.bin" >"$LINKS/1" ;;
        2) gen_file "$WWW/s2/capped.bin" "$S2_SIZE"
           (cd "$WWW/s2" && sha256sum capped.bin) >"$MAN/2"
           echo "$c/s2/capped.bin" >"$LINKS/2" ;;
        3) many_files 3 "$S3_COUNT" "$S3_FILE" ;;
        4) gen_file "$WWW/norange/whole.bin" "$S4_SIZE"
           (cd "$WWW/norange" && sha256sum whole.bin) >"$MAN/4"
           echo "$u/norange/whole.bin" >"$LINKS/4" ;;
        5) for i in 1 2 3; do gen_file "$WWW/s5/m$i.bin" "$S5_SIZE"; done
           (cd "$WWW/s5" && sha256sum m1.bin m2.bin m3.bin) >"$MAN/5"
           printf "$c/s5/m%d.bin\n" 1 2 3 >"$LINKS/5" ;;
        6) gen_file "$WWW/s6.bin" "$S6_FILE"
           local h; h=$(sha256sum <"$WWW/s6.bin" | cut -d' ' -f1)
           seq -f "%06g.bin" 1 "$S6_COUNT" | sed "s|^|$h  |" >"$MAN/6"
           seq -f "$u/many/%06g.bin" 1 "$S6_COUNT" >"$LINKS/6" ;;
        7 | 8) gen_file "$WWW/tls/s$s.bin" "$(size_of "$s")"
           (cd "$WWW/tls" && sha256sum "s$s.bin") >"$MAN/$s"
           echo "$t/tls/s$s.bin" >"$LINKS/$s" ;;
        9) gen_file "$WWW/s9/straggler.bin" "$S9_SIZE"
           (cd "$WWW/s9" && sha256sum straggler.bin) >"$MAN/9"
           echo "http://127.0.0.1:$SLOW_PORT/s9/straggler.bin" >"$LINKS/9" ;;
        10) gen_file "$WWW/s10/mirrored.bin" "$S10_SIZE"
            (cd "$WWW/s10" && sha256sum mirrored.bin) >"$MAN/10"
            # One line, two mirrors separated by a tab: aria2's links-file syntax, which pardl reads too.
            printf 'http://127.0.0.1:%s/s10/mirrored.bin\thttp://127.0.0.1:%s/s10/mirrored.bin\n' \
                "$M1_PORT" "$M2_PORT" >"$LINKS/10" ;;
        11) start_moto
            gen_file "$WORK/obj.bin" "$S11_SIZE"
            (cd "$WORK" && sha256sum obj.bin) >"$MAN/11"
            moto_object "$WORK/obj.bin" >"$LINKS/11"
            rm -f "$WORK/obj.bin" ;;
        12) many_files 12 "$S12_COUNT" "$S12_FILE" ;;
        13 | 15) one_file "$s" "$S13_SIZE" ;;
        14 | 16) one_file "$s" "$S14_SIZE" ;;
        *) die "no scenario $s (1-16)" ;;
        esac
        # curl's config file for the many-file scenarios: one url/output pair per link.
        sed -E 's|^(.*/)([^/]+)$|url = "\1\2"\noutput = "\2"|' "$LINKS/$s" >"$LINKS/$s.curl"
    done
    chmod -R a+rX "$WORK"
}

# Payload bytes of a scenario (for MiB/s).
payload() {
    case $1 in
    3) echo $(($(bytes "$S3_FILE") * S3_COUNT)) ;; 5) echo $((3 * $(bytes "$S5_SIZE"))) ;;
    6) echo $(($(bytes "$S6_FILE") * S6_COUNT)) ;; 12) echo $(($(bytes "$S12_FILE") * S12_COUNT)) ;;
    *) size_of "$1" ;;
    esac
}

# Jobs (files at once) and connections per file of each scenario.
jobs_of() { case $1 in 3 | 6 | 12) echo 16 ;; 5) echo 3 ;; *) echo 1 ;; esac; }
conns_of() { case $1 in 2 | 10) echo 8 ;; 3 | 6 | 12) echo 1 ;; *) echo 4 ;; esac; }
single() { [[ $(jobs_of "$1") == 1 ]]; }
tls() { [[ $1 == 7 || $1 == 8 ]]; }
# Scenarios whose downloads go to tmpfs (TMPFS_OUT) instead of the disk (BENCH_TMP).
on_tmpfs() { [[ $1 == 7 || $1 == 8 || $1 == 15 || $1 == 16 ]]; }
# The size of each file of a scenario that has one file (or, for 5, three of one size).
size_of() {
    case $1 in
    1) bytes "$S1_SIZE" ;; 2) bytes "$S2_SIZE" ;; 4) bytes "$S4_SIZE" ;; 5) bytes "$S5_SIZE" ;;
    7) bytes "$S7_SIZE" ;; 8) bytes "$S8_SIZE" ;; 9) bytes "$S9_SIZE" ;; 10) bytes "$S10_SIZE" ;;
    11) bytes "$S11_SIZE" ;; 13 | 15) bytes "$S13_SIZE" ;; 14 | 16) bytes "$S14_SIZE" ;; *) echo 0 ;;
    esac
}
# The ideal wall time of scenarios 9 and 10 (every connection busy to the end at its cap), in seconds.
ideal_of() {
    case $1 in
    9) awk -v b="$(bytes "$S9_SIZE")" -v r="$RATE" -v s="$SLOW_RATE" 'BEGIN {printf "%.2f", b / (3 * r + s)}' ;;
    10) awk -v b="$(bytes "$S10_SIZE")" -v r="$RATE" 'BEGIN {printf "%.2f", b / (8 * r)}' ;;
    esac
}

describe() {
    case $1 in
    1) echo "1 × $S1_SIZE, unlimited, 4 connections" ;;
    2) echo "1 × $S2_SIZE, $(numfmt --to=si "$RATE")B/s per connection, 8 connections" ;;
    3) echo "$S3_COUNT × $S3_FILE, 16 at once" ;;
    4) echo "1 × $S4_SIZE, Range ignored, 4 connections asked" ;;
    5) echo "3 × $S5_SIZE, $(numfmt --to=si "$RATE")B/s per connection, 3 jobs × 4 connections" ;;
    6) echo "$S6_COUNT links × $S6_FILE, 16 at once" ;;
    7) echo "1 × $S7_SIZE over HTTPS, unlimited, 4 connections" ;;
    8) echo "1 × $S8_SIZE over HTTPS, unlimited, 4 connections" ;;
    9) echo "1 × $S9_SIZE, $(numfmt --to=si "$RATE")B/s per connection and the ${SLOW_CONN}nd at $(numfmt --to=si "$SLOW_RATE")B/s, 4 connections" ;;
    10) echo "1 × $S10_SIZE from 2 mirrors, $(numfmt --to=si "$RATE")B/s per connection, 8 connections" ;;
    11) echo "1 × $S11_SIZE object in moto's S3 server (presigned URL), 4 connections" ;;
    12) echo "$S12_COUNT × $S12_FILE on the disk, 16 at once" ;;
    13) echo "1 × $S13_SIZE on the disk, unlimited, 4 connections" ;;
    14) echo "1 × $S14_SIZE on the disk, unlimited, 4 connections" ;;
    15) echo "1 × $S13_SIZE into tmpfs, unlimited, 4 connections" ;;
    16) echo "1 × $S14_SIZE into tmpfs, unlimited, 4 connections" ;;
    esac
}

# ---------------------------------------------------------------------------------------------------
# The command of TOOL for scenario S, into the array CMD; returns 1 if the tool has no way to do it.
# For TOOL+sync, CMD is TOOL's command and SYNC_AFTER what to sync after it (run_one runs both).
#
# Equivalence: J files at once, C connections per file, chunks of the same size where the tool takes
# a chunk size (pardl plans 1 chunk per connection plus its 1 MiB probe and splits a slow range;
# wget2 gets --chunk-size=SIZE/(4C)); every tool quiet, not preallocating (pardl sizes the .part
# file with ftruncate, like aria2's --file-allocation=trunc), writing into an empty directory.
tool_cmd() {
    local s=$1 tool=${2%+sync} out=$3
    local j c url name links chunk
    j=$(jobs_of "$s") c=$(conns_of "$s")
    url=$(head -1 "$LINKS/$s" | cut -f1) name=${url##*/} links=$LINKS/$s
    name=${name%%\?*}
    chunk=$(($(size_of "$s") / (4 * c)))
    ((chunk >= 1048576)) || chunk=1048576
    SYNC_AFTER=""
    if [[ $2 == *+sync ]]; then
        if single "$s"; then SYNC_AFTER=$out/$name; else SYNC_AFTER=$out; fi
    fi
    # HTTPS: each tool trusts the run's CA with its own option (curl's --cacert and aria2c's
    # --ca-certificate replace the system's roots, pardl's and wget2's add to them).
    local ca=()
    case $tool in
    pardl)
        local per_host=$((j * c > 16 ? j * c : 16))
        tls "$s" && ca=(--ca-certificate "$CA")
        CMD=("$PARDL" -q -d "$out" -j "$j" -x "$c" --max-per-host "$per_host" "${ca[@]}")
        if single "$s" && [[ $s != 10 ]]; then CMD+=("$url"); else CMD+=(-i "$links"); fi ;;
    aria2c)
        CMD=(aria2c --no-conf=true -q --console-log-level=error --summary-interval=0 -d "$out"
            --file-allocation=trunc --allow-overwrite=true --auto-file-renaming=false
            -j "$j" -x "$c" -s "$c" -k 1M)
        tls "$s" && CMD+=(--ca-certificate="$CA")
        if [[ $s == 11 ]]; then CMD+=(-o "$name"); fi
        if single "$s" && [[ $s != 10 ]]; then CMD+=("$url"); else CMD+=(-i "$links"); fi ;;
    axel)
        # axel can skip the check but cannot be given a CA.
        if ! single "$s" || tls "$s"; then return 1; fi
        CMD=(axel -q -n "$c" -o "$out/$name" "$url")
        # axel takes mirrors as more URLs.
        if [[ $s == 10 ]]; then CMD+=("$(cut -f2 "$LINKS/$s")"); fi ;;
    curl)
        # curl never splits a file: one connection per file; --parallel-max J files at once.
        tls "$s" && ca=(--cacert "$CA")
        if single "$s"; then
            CMD=(curl -q -sS -f "${ca[@]}" -o "$out/$name" "$url")
        else
            curl_list_command "$out" "$j" "$links"
        fi ;;
    wget2)
        CMD=(wget2 --no-config -q -P "$out" -t 5)
        tls "$s" && CMD+=(--ca-certificate="$CA")
        if [[ $c -gt 1 ]]; then
            CMD+=(--max-threads="$((j * c))" --chunk-size="$chunk")
        else
            CMD+=(--max-threads="$j")
        fi
        if [[ $s == 11 ]]; then CMD+=(-O "$out/$name"); fi
        if single "$s"; then CMD+=("$url"); else CMD+=(-i "$links"); fi ;;
    *) die "unknown tool $2" ;;
    esac
}

# How TOOL+sync syncs after the tool, for the commands shown with the results.
sync_shown() {
    if [[ -z $SYNC_AFTER ]]; then return 0; fi
    if single "$1"; then echo " && sync $SYNC_AFTER"; else echo " && find $SYNC_AFTER -type f -exec sync -- {} +"; fi
}

tool_version() {
    case $1 in
    pardl) "$PARDL" --version | head -1 ;;
    aria2c) aria2c --version | head -1 ;;
    axel) axel --version | head -1 ;;
    curl) curl --version | head -1 | cut -d' ' -f1-2 ;;
    wget2) wget2 --version | head -1 | cut -d' ' -f1-3 ;;
    *+sync) echo "$1: $(tool_version "${1%+sync}") then $(sync --version | head -1)" ;;
    esac
}

# Checks every file of the manifest in DIR; prints the number of bad or missing files.
verify() {
    local man=$1 dir=$2
    # grep -c prints 0 and fails when every file is right.
    (cd "$dir" || { wc -l <"$man"; exit 0; }  # no directory: every file missing
     cut -c67- "$man" | xargs -r -d '\n' openssl dgst -sha256 -r 2>/dev/null |
        sed 's/ \*/  /' | diff - "$man" | grep -c '^>' || true)
}

# ---------------------------------------------------------------------------------------------------
# One run: time it, check every output file, count what the server saw.
run_one() {
    local s=$1 tool=$2 run=$3 out=$WORK/out rc=0 limit=$RUN_TIMEOUT
    on_tmpfs "$s" && out=$TMPFS_WORK/out
    [[ $s == 4 ]] && limit=$S4_TIMEOUT
    [[ $s == 6 ]] && limit=$S6_TIMEOUT
    rm -rf "$out" && mkdir -p "$out"
    tool_cmd "$s" "$tool" "$out" || return 0
    if [[ -n $SYNC_AFTER ]]; then
        # TOOL, then `sync FILE` of what it wrote, under one timer.
        CMD=(bash -c 'target=$1; shift; "$@" || exit
            if [[ -d $target ]]; then find "$target" -type f -exec sync -- {} +; else sync -- "$target"; fi' \
            sync-after "$SYNC_AFTER" "${CMD[@]}")
    fi
    sync
    : >"$NG/logs/access.log"
    start_proxies "$s"
    local moto_lines=0
    [[ $s == 11 ]] && moto_lines=$(wc -l <"$WORK/moto.log")
    (cd "$out" && /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" \
        timeout -k 10 "$limit" "${CMD[@]}" >"$WORK/tool.log" 2>&1) || rc=$?
    sleep 0.3 # let nginx log requests a client dropped at exit
    stop_proxies
    local wall user sys rss bad reqs conns served
    read -r wall user sys rss < <(grep -E '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$' "$WORK/time" | tail -1)
    bad=$(verify "$MAN/$s" "$out")
    if [[ $s == 11 ]]; then
        # moto logs one line per request and neither connections nor bytes.
        reqs=$(tail -n +$((moto_lines + 1)) "$WORK/moto.log" | grep -c '"GET /bench/obj.bin' || true)
        conns=- served=-
    else
        reqs=$(wc -l <"$NG/logs/access.log")
        conns=$(cut -d' ' -f1 "$NG/logs/access.log" | sort -u | wc -l)
        served=$(awk '{b += $3} END {printf "%d", b}' "$NG/logs/access.log")
    fi
    if [[ $s == 10 ]]; then
        printf '%s\t%s\t%s\t%s\n' "$tool" "$run" "$(proxy_bytes "$WORK/proxy-m1.log")" \
            "$(proxy_bytes "$WORK/proxy-m2.log")" >>"$RESULTS_DIR/mirrors.tsv"
    fi
    local status=ok
    if ((rc != 0)); then status="exit$rc"; fi
    if ((bad != 0)); then status="${status/ok/}bad$bad"; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$tool" "$run" "$status" \
        "$wall" "$user" "$sys" "$rss" "$reqs" "$conns" "$served" >>"$TSV"
    local tls_used=""
    if tls "$s"; then
        # What each request negotiated (the access log's last field): the same for every tool?
        tls_used=" tls $(awk '{print $NF}' "$NG/logs/access.log" | sort -u | paste -sd, -)"
        printf '%s\t%s\t%s\n' "$s" "$tool" "${tls_used# tls }" >>"$RESULTS_DIR/tls.tsv"
    fi
    log "scenario $s $tool run $run: $status ${wall}s cpu $(awk "BEGIN{print $user+$sys}")s rss $((rss / 1024))MiB reqs $reqs conns $conns$tls_used"
    if [[ $status != ok ]]; then
        cp "$WORK/tool.log" "$RESULTS_DIR/fail-s$s-$tool-run$run.log"
        tail -3 "$WORK/tool.log" >&2 || true
    fi
    # Deleting thousands of files right before the next tool creates thousands makes that tool pay: on
    # ext4 without a journal, inode allocation skips (and reads) every inode deleted in the last 60 s
    # (recently_deleted() in fs/ext4/ialloc.c), which cost 2-5x in scenario 3 depending on who ran
    # before whom. So outputs of many small files are only moved aside here, and deleted when they
    # pass TRASH_MAX (then a pause of SETTLE seconds) or at the end; big files are deleted at once (a
    # few inodes; this keeps disk use bounded).
    if (($(find "$out" -maxdepth 1 | head -101 | wc -l) > 100)); then
        mkdir -p "$WORK/trash"
        mv "$out" "$WORK/trash/s$s-$tool-$run"
        TRASH_KIB=$((TRASH_KIB + $(du -sk "$WORK/trash/s$s-$tool-$run" | cut -f1)))
        if ((TRASH_KIB > $(bytes "$TRASH_MAX") / 1024)); then
            log "deleting $((TRASH_KIB / 1024)) MiB of kept outputs, then waiting ${SETTLE}s (ext4's recently-deleted window)"
            rm -rf "$WORK/trash"
            sync
            sleep "$SETTLE"
            TRASH_KIB=0
        fi
    else
        rm -rf "$out"
    fi
}

# ---------------------------------------------------------------------------------------------------
# Report: medians over the successful runs.
median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

report() {
    local s tool
    {
        echo "| # | scenario | tool | ok/runs | wall s | MiB/s | CPU s (user+sys) | CPU ms/MiB | peak RSS MiB | requests | connections | MiB served |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
        for s in $SCENARIOS; do
            for tool in $TOOLS; do
                local rows; rows=$(awk -F'\t' -v s="$s" -v t="$tool" '$1 == s && $2 == t' "$TSV")
                [[ -n $rows ]] || continue
                local total ok okrows
                total=$(wc -l <<<"$rows")
                okrows=$(awk -F'\t' '$4 == "ok"' <<<"$rows")
                ok=$(grep -c . <<<"$okrows" || true)
                local wall cpu rss reqs conns served mibs cpu_mib
                col() { [[ -n $okrows ]] && awk -F'\t' "{print $1}" <<<"$okrows" | median || echo -; }
                wall=$(col '$5') cpu=$(col '$6 + $7') rss=$(col '$8 / 1024')
                reqs=$(col '$9') conns=$(col '$10') served=$(col '($11 == "-" ? "-" : $11 / 1048576)')
                mibs=- cpu_mib=-
                [[ $wall == - ]] || mibs=$(awk -v p="$(payload "$s")" -v w="$wall" 'BEGIN {printf "%.1f", p / 1048576 / w}')
                [[ $cpu == - ]] || cpu_mib=$(awk -v p="$(payload "$s")" -v c="$cpu" 'BEGIN {printf "%.2f", c * 1000 / (p / 1048576)}')
                local fails=""
                if ((ok < total)); then
                    fails=" ($(awk -F'\t' '$4 != "ok" {print $4}' <<<"$rows" | sort | uniq -c | awk '{printf "%s%s×%s", sep, $1, $2; sep=", "}'))"
                fi
                printf '| %s | %s | %s | %s/%s%s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$s" "$(describe "$s")" "$tool" \
                    "$ok" "$total" "$fails" "$(fmt "$wall" 2)" "$mibs" "$(fmt "$cpu" 2)" "$cpu_mib" "$(fmt "$rss" 1)" \
                    "$(fmt "$reqs" 0)" "$(fmt "$conns" 0)" "$(fmt "$served" 1)"
            done
        done
        echo
        echo "pardl against the best peer (lowest median wall time among peers with every run correct):"
        echo
        echo "| # | pardl wall s | best peer | peer wall s | pardl / best (wall) | pardl CPU s | least-CPU peer | peer CPU s | pardl / least (CPU) |"
        echo "|---|---|---|---|---|---|---|---|---|"
        for s in $SCENARIOS; do
            awk -F'\t' -v s="$s" '
                $1 == s { n[$2]++; if ($4 == "ok") { ok[$2]++; w[$2, ok[$2]] = $5; c[$2, ok[$2]] = $6 + $7 } }
                function med(arr, t, k,   i, j, x, v) {
                    for (i = 1; i <= k; i++) v[i] = arr[t, i]
                    for (i = 2; i <= k; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
                    return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
                }
                END {
                    if (!("pardl" in ok)) { printf "| %s | failed | | | | | | | |\n", s; exit }
                    pw = med(w, "pardl", ok["pardl"]); pc = med(c, "pardl", ok["pardl"])
                    bw = ""; bc = ""
                    for (t in n) if (t != "pardl" && ok[t] == n[t]) {
                        tw = med(w, t, ok[t]); tc = med(c, t, ok[t])
                        if (bw == "" || tw < bw) { bw = tw; bwt = t }
                        if (bc == "" || tc < bc) { bc = tc; bct = t }
                    }
                    if (bw == "") { printf "| %s | %.2f | (no peer correct) | | | %.2f | | | |\n", s, pw, pc; exit }
                    printf "| %s | %.2f | %s | %.2f | **%.2f** | %.2f | %s | %.2f | %.2f |\n", s, pw, bwt, bw, pw / bw, pc, bct, bc, (bc > 0 ? pc / bc : 0)
                }' "$TSV"
        done
        targets
    } >"$RESULTS_DIR/table.md"
}

fmt() { if [[ $1 == - ]]; then echo -; else awk -v x="$1" -v d="$2" 'BEGIN {printf "%.*f", d, x}'; fi; }

# Median of column expression $3 (awk: '$5' wall, '$6 + $7' CPU) over TOOL's correct runs of
# scenario S ("-" if none).
median_of() { awk -F'\t' -v s="$1" -v t="$2" "\$1 == s && \$2 == t && \$4 == \"ok\" {print $3}" "$TSV" | median; }

# The peer with the lowest median wall time in scenario S among those with every run correct, as
# "TOOL WALL" (nothing if none).
best_peer() {
    local tool best="" wall
    for tool in $TOOLS; do
        [[ $tool != pardl ]] || continue
        awk -F'\t' -v s="$1" -v t="$tool" '$1 == s && $2 == t && $4 != "ok" {bad = 1} $1 == s && $2 == t {n++} END {exit !(n > 0 && !bad)}' "$TSV" || continue
        wall=$(median_of "$1" "$tool" '$5')
        if [[ -z $best ]] || awk -v a="$wall" -v b="${best#* }" 'BEGIN {exit !(a < b)}'; then best="$tool $wall"; fi
    done
    echo "$best"
}

# The targets of issue 12 (scenarios 9-11: stragglers, mirrors, object store) and issue 13 (3, 6 and
# 12: per-link cost; 13-16: one big file, durable and into tmpfs), checked against this run's medians.
targets() {
    local s lines=""
    for s in $SCENARIOS; do
        local pw pc aw cw cc ideal
        pw=$(median_of "$s" pardl '$5') pc=$(median_of "$s" pardl '$6 + $7')
        aw=$(median_of "$s" aria2c '$5') cw=$(median_of "$s" curl '$5') cc=$(median_of "$s" curl '$6 + $7')
        case $s in
        9) ideal=$(ideal_of 9)
           lines+=$(awk -v p="$pw" -v a="$aw" -v i="$ideal" 'BEGIN {
               if (p == "-") { print "| 9 | pardl failed | | | |"; exit }
               printf "| 9 | one slow connection of four: at most 1.15 × ideal and no slower than aria2c | %.2f s | ideal %.2f s (ratio %.2f); aria2c %s s | %s |\n", p, i, p / i, a,
                   (p <= 1.15 * i && (a == "-" || p <= a)) ? "met" : "**not met**" }')$'\n' ;;
        10) ideal=$(ideal_of 10)
            local share
            share=$(awk -F'\t' '$1 == "pardl" { t = $3 + $4; m = ($3 < $4 ? $3 : $4); if (t > 0) { f = m / t; if (min == "" || f < min) min = f } } END { printf "%.2f", (min == "" ? 0 : min) }' "$RESULTS_DIR/mirrors.tsv")
            lines+=$(awk -v p="$pw" -v a="$aw" -v i="$ideal" -v f="$share" 'BEGIN {
                if (p == "-") { print "| 10 | pardl failed | | | |"; exit }
                printf "| 10 | two mirrors, -x 8: within 1.15 × ideal, each mirror at least 1/5 | %.2f s | ideal %.2f s (ratio %.2f); smaller mirror share %.2f (worst run); aria2c %s s | %s |\n", p, i, p / i, f, a,
                    (p <= 1.15 * i && f >= 0.2) ? "met" : "**not met**" }')$'\n' ;;
        11) lines+=$(awk -v p="$pw" -v a="$aw" 'BEGIN {
                if (p == "-") { print "| 11 | pardl failed | | | |"; exit }
                printf "| 11 | object store, default options: at or under aria2c | %.2f s | aria2c %s s | %s |\n", p, a,
                    (a != "-" && p <= a) ? "met" : "**not met**" }')$'\n' ;;
        3 | 12) lines+=$(awk -v s="$s" -v p="$pw" -v pc="$pc" -v c="$cw" -v cc="$cc" 'BEGIN {
                if (p == "-") { printf "| %s | pardl failed | | | |\n", s; exit }
                if (c == "-") { printf "| %s | many small files: wall at or under curl, CPU under 1.5 × curl | %.2f s, CPU %.2f s | (no correct curl run) | |\n", s, p, pc; exit }
                printf "| %s | many small files: wall at or under curl, CPU under 1.5 × curl | %.2f s, CPU %.2f s | curl %.2f s, CPU %.2f s (ratios %.2f, %.2f) | %s |\n", s, p, pc, c, cc, p / c, (cc > 0 ? pc / cc : 0),
                    (p <= c && pc < 1.5 * cc) ? "met" : "**not met**" }')$'\n' ;;
        6) lines+=$(awk -v p="$pw" -v c="$cw" 'BEGIN {
               if (p == "-") { print "| 6 | pardl failed | | | |"; exit }
               if (c == "-") { printf "| 6 | links file of many links: at or under curl | %.2f s | (no correct curl run) | |\n", p; exit }
               printf "| 6 | links file of many links: at or under curl | %.2f s | curl %.2f s (ratio %.2f) | %s |\n", p, c, p / c,
                   (p <= c) ? "met" : "**not met**" }')$'\n' ;;
        13 | 14) local sw; sw=$(median_of "$s" curl+sync '$5')
            lines+=$(awk -v s="$s" -v p="$pw" -v c="$sw" 'BEGIN {
                if (p == "-") { printf "| %s | pardl failed | | | |\n", s; exit }
                if (c == "-") { printf "| %s | durable, on the disk: at or under curl && sync FILE | %.2f s | (no correct curl+sync run: add it to TOOLS) | |\n", s, p; exit }
                printf "| %s | durable, on the disk: at or under curl && sync FILE | %.2f s | curl+sync %.2f s (ratio %.2f) | %s |\n", s, p, c, p / c,
                    (p <= c) ? "met" : "**not met**" }')$'\n' ;;
        15 | 16) local best; best=$(best_peer "$s")
            lines+=$(awk -v s="$s" -v p="$pw" -v b="$best" 'BEGIN {
                if (p == "-") { printf "| %s | pardl failed | | | |\n", s; exit }
                if (b == "") { printf "| %s | into tmpfs: at or under the best peer | %.2f s | (no peer correct) | |\n", s, p; exit }
                split(b, f, " ")
                printf "| %s | into tmpfs: at or under the best peer | %.2f s | %s %.2f s (ratio %.2f) | %s |\n", s, p, f[1], f[2], p / f[2],
                    (p <= f[2]) ? "met" : "**not met**" }')$'\n' ;;
        esac
    done
    [[ -n $lines ]] || return 0
    echo
    echo "Targets (medians of this run):"
    echo
    echo "| # | target | pardl | against | verdict |"
    echo "|---|---|---|---|---|"
    printf '%s' "$lines"
}

# The file system of directory $1: device, type, and for ext4 whether it has a journal (it changes
# what fsync and file creation cost).
fs_info() {
    local src type dev journal=""
    read -r src type < <(df --output=source,fstype "$1" | tail -1)
    dev=$(basename "$src")
    if [[ $type == ext4 ]]; then
        if compgen -G "/proc/fs/jbd2/$dev-*" >/dev/null; then journal=", with journal"; else journal=", no journal"; fi
    fi
    if [[ $src == "$type" ]]; then src=$1; fi # tmpfs has no device
    echo "$src $type$journal"
}

# KiB the selected scenarios need in BENCH_TMP: the served files, the biggest download on the disk
# (big files are deleted after each run), the outputs kept aside (up to TRASH_MAX), and 1 GiB spare.
disk_need_kib() {
    local s served=0 biggest=0 kept=0 size
    for s in $SCENARIOS; do
        size=$(payload "$s")
        case $s in
        15 | 16) ;;                 # the same file as 13 and 14, downloaded into tmpfs
        11) ;;                      # moto keeps the object itself
        6) served=$((served + $(bytes "$S6_FILE"))) ;;
        *) served=$((served + size)) ;;
        esac
        if ! on_tmpfs "$s" && single "$s" && ((size > biggest)); then biggest=$size; fi
        [[ $s == 3 || $s == 6 || $s == 12 ]] && kept=$(bytes "$TRASH_MAX")
    done
    echo $(((served + biggest + kept) / 1024 + 1048576))
}

# ---------------------------------------------------------------------------------------------------
main() {
    install_missing
    [[ -x $PARDL ]] || { log "building pardl (release)"; (cd "$REPO" && cargo build --release --bin pardl); }
    # Proxies from the environment must not sit between the tools and 127.0.0.1.
    unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY

    mkdir -p "$RESULTS_DIR"
    WORK=$(mktemp -d "$BENCH_TMP/pardl-bench.XXXXXX")
    chmod 755 "$WORK"
    NG=$WORK/nginx WWW=$WORK/www MAN=$WORK/manifest LINKS=$WORK/links TSV=$RESULTS_DIR/runs.tsv
    TRASH_KIB=0
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    mkdir -p "$NG" "$WWW"

    df -h "$BENCH_TMP" >&2
    local need_kib avail_kib s tmpfs_used=0
    need_kib=$(disk_need_kib)
    avail_kib=$(df -k --output=avail "$BENCH_TMP" | tail -1)
    ((avail_kib > need_kib)) || die "$BENCH_TMP has ${avail_kib} KiB free, needs about ${need_kib} KiB (TRASH_MAX=$TRASH_MAX counts)"
    for s in $SCENARIOS; do on_tmpfs "$s" && tmpfs_used=1; done
    if ((tmpfs_used)); then
        TMPFS_WORK=$(mktemp -d "$TMPFS_OUT/pardl-bench.XXXXXX")
        df -h "$TMPFS_OUT" >&2
    fi

    : >"$TSV"
    : >"$RESULTS_DIR/tls.tsv"
    : >"$RESULTS_DIR/mirrors.tsv"
    local load_before; load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    local cpu_before; cpu_before=$(cpu_check)
    local started; started=$(date -u '+%Y-%m-%d %H:%M UTC')
    start_nginx
    log "nginx on 127.0.0.1:$HTTP_PORT (unlimited) and :$CAP_PORT (capped at $RATE B/s per connection)"
    log "generating data"
    make_data
    if [[ $SERVE == 1 ]]; then
        log "serving; links files in $LINKS, manifests in $MAN, access log $NG/logs/access.log; Ctrl-C stops"
        echo "U=http://127.0.0.1:$HTTP_PORT CAPPED=http://127.0.0.1:$CAP_PORT LINKS=$LINKS MAN=$MAN LOG=$NG/logs/access.log"
        sleep infinity &
        SLEEP_PID=$!
        wait "$SLEEP_PID"
    fi

    local run tool runs
    for s in $SCENARIOS; do
        runs=$RUNS
        [[ $s == 6 ]] && runs=$S6_RUNS
        log "scenario $s: $(describe "$s"), $runs run(s)"
        # Runs are interleaved (run 1 of every tool, then run 2 …) so that load from other processes
        # spreads over the tools instead of hitting one.
        for ((run = 1; run <= runs; run++)); do
            for tool in $TOOLS; do run_one "$s" "$tool" "$run"; done
        done
    done
    local load_after; load_after=$(cut -d' ' -f1-3 /proc/loadavg)
    local cpu_after; cpu_after=$(cpu_check)
    report

    {
        echo "Run of $started (finished $(date -u '+%H:%M UTC')); QUICK=$QUICK, RUNS=$RUNS, S6_RUNS=$S6_RUNS."
        echo
        echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem/ {print $2}') GiB memory, Linux $(uname -r); disk: $(fs_info "$BENCH_TMP")$( ((tmpfs_used)) && echo "; tmpfs: $(fs_info "$TMPFS_OUT")")."
        echo "Load average (1/5/15 min) before: $load_before; after: $load_after."
        echo "Host speed (benches/common.sh's cpu_check, a fixed loop; about 60 ms when the host is idle): $cpu_before ms before, $cpu_after ms after."
        echo "Versions: $(for t in $TOOLS; do printf '%s; ' "$(tool_version "$t")"; done)nginx $(nginx -v 2>&1 | cut -d/ -f2) ($NGINX_WORKERS worker)$([[ " $SCENARIOS " == *" 11 "* ]] && echo "; moto $(python3 -c 'import moto; print(moto.__version__)')")."
        echo "pardl commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)."
        if [[ -s $RESULTS_DIR/tls.tsv ]]; then
            echo "TLS negotiated (nginx's \$ssl_protocol/\$ssl_cipher): $(cut -f2,3 "$RESULTS_DIR/tls.tsv" | sort -u | tr '\t' ' ' | paste -sd';' - | sed 's/;/; /g')."
        fi
        echo
        echo "Commands (\$OUT an empty directory, \$U the server, \$TLS its HTTPS port, \$CAPPED, \$SLOWPROXY, \$MIRROR1 and \$MIRROR2 capping proxies in front of it, \$PRESIGNED_URL the object in moto; wall time, CPU and peak RSS from /usr/bin/time):"
        echo
        echo '```'
        for s in $SCENARIOS; do
            for tool in $TOOLS; do
                tool_cmd "$s" "$tool" '$OUT' || continue
                local line
                line="${CMD[*]}$(sync_shown "$s")"
                line=${line//http:\/\/127.0.0.1:$HTTP_PORT/\$U}
                line=${line//http:\/\/127.0.0.1:$CAP_PORT/\$CAPPED}
                line=${line//https:\/\/127.0.0.1:$TLS_PORT/\$TLS}
                line=${line//http:\/\/127.0.0.1:$SLOW_PORT/\$SLOWPROXY}
                line=${line//http:\/\/127.0.0.1:$M1_PORT/\$MIRROR1}
                line=${line//http:\/\/127.0.0.1:$M2_PORT/\$MIRROR2}
                if [[ $s == 11 ]]; then line=${line//$(head -1 "$LINKS/11")/\$PRESIGNED_URL}; fi
                line=${line//$CA/ca.pem}
                line=${line//$LINKS\//links-}
                line=${line//$PARDL/pardl}
                echo "# $s $tool: $line"
            done
        done
        echo '```'
        echo
        cat "$RESULTS_DIR/table.md"
    } >"$RESULTS_DIR/results.md"
    log "results: $RESULTS_DIR/results.md (per run: $TSV)"
    cat "$RESULTS_DIR/results.md"

    if [[ $UPDATE_DOCS == 1 ]]; then update_docs_section "$DOCS_SECTION" "$RESULTS_DIR/results.md"; fi
}

main "$@"
