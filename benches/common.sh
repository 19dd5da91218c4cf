# Helpers shared by the scripts in benches/ (sourced, not run): logging, sizes,
# ports, and starting and stopping a private nginx whose prefix directory is $NG.
# shellcheck shell=bash

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }
bytes() { numfmt --from=iec "$1"; }

# How fast the host runs a fixed loop right now, in ms (the best of three): on a virtual machine
# whose host is busy every CPU-bound step slows down, a single-threaded peer more than pardl, so
# results are read with it. About 60 ms on this project's benchmark machine when its host is idle.
cpu_check() {
    local best=999999 start end i
    for i in 1 2 3; do
        start=$(date +%s%N)
        awk 'BEGIN { for (i = 0; i < 3000000; i++) s += i * i }'
        end=$(date +%s%N)
        (((end - start) / 1000000 < best)) && best=$(((end - start) / 1000000))
    done
    echo "$best"
}

# The first port from $1 on that nothing listens on.
free_port() {
    local p
    for ((p = $1; p < $1 + 200; p++)); do
        if ! ss -Htln "sport = :$p" | grep -q .; then echo "$p"; return 0; fi
    done
    die "no free port from $1"
}

# The lines of nginx's http block that every benchmark's server shares: files served as they are,
# with sendfile, and temp paths inside $NG.
nginx_http_basics() {
    cat <<EOF
    default_type application/octet-stream;
    types { }
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $NG/tmp/body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
EOF
}

# Checks and starts the nginx configured in $NG/nginx.conf, and waits until 127.0.0.1:$1 answers.
launch_nginx() {
    nginx -t -q -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" || die "bad nginx config"
    nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" -g 'daemon on;'
    wait_for_http "$1" 50 nginx "$NG/logs/error.log"
}

# Waits until http://127.0.0.1:$1/ answers (with any status), trying $2 times 0.1 s apart; if it
# never does, dies naming the server $3 and its log $4.
wait_for_http() {
    local i
    for ((i = 0; i < $2; i++)); do
        [[ $(curl -q -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/") != 000 ]] && return 0
        sleep 0.1
    done
    die "$3 did not start (see $4)"
}

stop_nginx() {
    if [[ -n ${NG:-} && -f $NG/nginx.pid ]]; then
        kill -QUIT "$(cat "$NG/nginx.pid")" 2>/dev/null || true
        local i
        for ((i = 0; i < 50; i++)); do [[ -f $NG/nginx.pid ]] || break; sleep 0.1; done
    fi
}

# CPU time (utime + stime) the worker processes of the nginx running from $NG have used so far, in
# clock ticks.
nginx_worker_ticks() {
    local pid total=0 f
    for pid in $(pgrep -P "$(cat "$NG/nginx.pid")"); do
        read -r -a f <"/proc/$pid/stat" || continue
        # Fields 14 and 15 (utime, stime); the comm field ("nginx") has no spaces.
        total=$((total + f[13] + f[14]))
    done
    echo "$total"
}

# curl's command for a list of links, into the array CMD: the transfers of the curl config file
# $3.curl (one `url =` and `output =` pair per link, written by compare.sh next to the links file
# $3), $2 at once, into the directory $1. curl never splits a file: one connection per file.
# compare.sh and ab.sh both run it.
curl_list_command() {
    # shellcheck disable=SC2034 # CMD is the caller's
    CMD=(curl -q -sS -f -Z --parallel-immediate --parallel-max "$2" --output-dir "$1" -K "$3.curl")
}

# Replaces what stands between `<!-- $1:begin -->` and `<!-- $1:end -->` in docs/benchmarks.md with
# the contents of file $2.
update_docs_section() {
    local doc=$REPO/docs/benchmarks.md
    grep -q "<!-- $1:begin -->" "$doc" || die "no $1 markers in $doc"
    awk -v f="$2" -v begin="<!-- $1:begin -->" -v end="<!-- $1:end -->" '
        index($0, begin) { print; while ((getline l < f) > 0) print l; skip = 1; next }
        index($0, end) { skip = 0 }
        !skip' "$doc" >"$doc.new" && mv "$doc.new" "$doc"
    log "updated $doc"
}
