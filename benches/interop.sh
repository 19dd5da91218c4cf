#!/usr/bin/env bash
# Interoperability: pardl against real web servers, each started privately on 127.0.0.1.
#
# Usage (from the repository root; see docs/benchmarks.md, "Interoperability"):
#   benches/interop.sh                    # every server, results printed
#   UPDATE_DOCS=1 benches/interop.sh      # also write the table into docs/benchmarks.md
#   SERVERS="apache lighttpd" benches/interop.sh
#
# For each server it downloads three files with `pardl -x 4 -k 1M`: a 24 MiB file (several chunks), a
# file whose name has a space and a non-ASCII character, and a compressible text file, then checks
# that each is byte-exact under the right name, and that pardl used several connections exactly when
# the server honours Range (asked independently with curl -r 0-0). Every server runs from a mktemp
# directory with its own config, pid file and logs, listens on 127.0.0.1 only, and is stopped on exit.
# Never part of cargo test or CI; needs root (or the packages installed) as it installs with apt.
set -euo pipefail
umask 022

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVERS=${SERVERS:-"apache lighttpd caddy busybox python nginx-gzip nginx-tls"}
PARDL=${PARDL:-$REPO/target/release/pardl}
RESULTS_DIR=${RESULTS_DIR:-$REPO/target/bench-results}
UPDATE_DOCS=${UPDATE_DOCS:-0}
KEEP=${KEEP:-0}

# shellcheck source=benches/common.sh
source "$REPO/benches/common.sh"

# The name with a space and a non-ASCII character, and how it is written in a URL.
ODD_NAME='quarterly report é.bin'
ODD_URL='quarterly%20report%20%C3%A9.bin'

install_missing() {
    local need=()
    command -v apache2 >/dev/null || need+=(apache2)
    command -v lighttpd >/dev/null || need+=(lighttpd)
    command -v caddy >/dev/null || need+=(caddy)
    command -v busybox >/dev/null || need+=(busybox)
    command -v python3 >/dev/null || need+=(python3)
    command -v nginx >/dev/null || need+=(nginx)
    command -v curl >/dev/null || need+=(curl)
    command -v openssl >/dev/null || need+=(openssl)
    if ((${#need[@]})); then
        [[ $EUID == 0 ]] || die "missing packages ${need[*]}; install them or run as root"
        log "installing ${need[*]}"
        apt-get update -qq
        # Debian starts a freshly installed server on port 80; the script stops those at once, it
        # only uses its own private instances.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
        for service in apache2 lighttpd caddy; do
            command -v service >/dev/null && service "$service" stop >/dev/null 2>&1 || true
        done
    fi
}

STOPS=()
cleanup() {
    local stop
    for stop in "${STOPS[@]}"; do eval "$stop" >/dev/null 2>&1 || true; done
    if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}

# Kills the process whose pid is in file $1, if any.
kill_pidfile() { [[ -f $1 ]] && kill "$(cat "$1")" 2>/dev/null; }

# Waits until $1 answers with an HTTP status (any); extra curl arguments after it.
wait_for() {
    local url=$1 i
    shift
    for ((i = 0; i < 100; i++)); do
        [[ $(curl -q -s "$@" -o /dev/null -w '%{http_code}' "$url" || true) != 000 ]] && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------------------------------------------
# Each start_NAME starts the server on a free port with its own files under $WORK/NAME, appends how
# to stop it to STOPS, and sets BASE (its URL) and CURL_ARGS/PARDL_ARGS (extra arguments for it).
start_apache() {
    local d=$WORK/apache port mods=/usr/lib/apache2/modules
    port=$(free_port 18600)
    mkdir -p "$d"
    cat >"$d/httpd.conf" <<EOF
ServerRoot $d
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile $d/httpd.pid
DefaultRuntimeDir $d
ErrorLog $d/error.log
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule mime_module $mods/mod_mime.so
TypesConfig /dev/null
User www-data
Group www-data
DocumentRoot $WWW
<Directory $WWW>
    Require all granted
</Directory>
EOF
    apache2 -f "$d/httpd.conf" -k start
    STOPS+=("kill_pidfile $d/httpd.pid")
    BASE=http://127.0.0.1:$port
}

start_lighttpd() {
    local d=$WORK/lighttpd port
    port=$(free_port 18620)
    mkdir -p "$d"
    cat >"$d/lighttpd.conf" <<EOF
server.document-root = "$WWW"
server.bind = "127.0.0.1"
server.port = $port
server.pid-file = "$d/lighttpd.pid"
server.errorlog = "$d/error.log"
server.username = "www-data"
server.groupname = "www-data"
mimetype.assign = ( "" => "application/octet-stream" )
EOF
    chown www-data:www-data "$d" # it opens its error log after dropping privileges
    lighttpd -f "$d/lighttpd.conf"
    STOPS+=("kill_pidfile $d/lighttpd.pid")
    BASE=http://127.0.0.1:$port
}

start_caddy() {
    local d=$WORK/caddy port
    port=$(free_port 18640)
    mkdir -p "$d"
    cat >"$d/Caddyfile" <<EOF
{
    admin off
    auto_https off
}
http://127.0.0.1:$port {
    root * $WWW
    file_server
}
EOF
    XDG_DATA_HOME=$d XDG_CONFIG_HOME=$d caddy start --config "$d/Caddyfile" --adapter caddyfile \
        --pidfile "$d/caddy.pid" >"$d/caddy.log" 2>&1
    STOPS+=("kill_pidfile $d/caddy.pid")
    BASE=http://127.0.0.1:$port
}

start_busybox() {
    local d=$WORK/busybox port
    port=$(free_port 18660)
    mkdir -p "$d"
    busybox httpd -f -p "127.0.0.1:$port" -h "$WWW" >"$d/httpd.log" 2>&1 &
    echo $! >"$d/httpd.pid"
    STOPS+=("kill_pidfile $d/httpd.pid")
    BASE=http://127.0.0.1:$port
}

start_python() {
    local d=$WORK/python port
    port=$(free_port 18680)
    mkdir -p "$d"
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$WWW" >"$d/http.log" 2>&1 &
    echo $! >"$d/http.pid"
    STOPS+=("kill_pidfile $d/http.pid")
    BASE=http://127.0.0.1:$port
}

# nginx with the given extra http-block lines and listen parameters; $1 names the instance.
start_nginx_with() {
    local name=$1 listen=$2 extra=$3 port
    NG=$WORK/$name
    port=$(free_port 18700)
    mkdir -p "$NG/tmp" "$NG/logs"
    cat >"$NG/nginx.conf" <<EOF
worker_processes 1;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log $NG/logs/access.log;
$(nginx_http_basics)
$extra
    server {
        listen 127.0.0.1:$port $listen;
        root $WWW;
        location / { }
    }
}
EOF
    nginx -t -q -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" || die "bad nginx config"
    nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" -g 'daemon on;'
    STOPS+=("kill -QUIT \$(cat $NG/nginx.pid)")
    BASE=$port
}

start_nginx-gzip() {
    # gzip for every type and size: pardl asks for identity, so the bytes must arrive as they are.
    start_nginx_with nginx-gzip "" "    gzip on; gzip_types *; gzip_min_length 1; gzip_proxied any;"
    BASE=http://127.0.0.1:$BASE
}

start_nginx-tls() {
    local tls=$WORK/tls
    mkdir -p "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=pardl interop CA" -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$tls/ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
        -days 2 -extfile "$tls/ext" -out "$tls/server.pem" 2>/dev/null
    start_nginx_with nginx-tls ssl "    ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate $tls/server.pem; ssl_certificate_key $tls/server.key;"
    BASE=https://127.0.0.1:$BASE
    CURL_ARGS=(--cacert "$tls/ca.pem")
    PARDL_ARGS=(--ca-certificate "$tls/ca.pem")
}

version_of() {
    case $1 in
    apache) apache2 -v | head -1 | sed 's/Server version: //' ;;
    lighttpd) lighttpd -v | head -1 | cut -d' ' -f1 ;;
    caddy) echo "Caddy $(caddy version | cut -d' ' -f1)" ;;
    busybox) busybox | head -1 | cut -d' ' -f1-2 ;;
    python) echo "Python $(python3 -c 'import sys; print(sys.version.split()[0])') http.server" ;;
    nginx-gzip) echo "$(nginx -v 2>&1 | cut -d: -f2 | sed 's/^ //'), gzip on" ;;
    nginx-tls) echo "$(nginx -v 2>&1 | cut -d: -f2 | sed 's/^ //'), TLS, private CA" ;;
    esac
}

# ---------------------------------------------------------------------------------------------------
# Checks one server; appends a row to $TABLE.
check_server() {
    local name=$1 out=$WORK/out-$1 base ranges used exact=yes names=yes verdict
    CURL_ARGS=() PARDL_ARGS=()
    "start_$name"
    base=$BASE
    wait_for "$base/small.txt" "${CURL_ARGS[@]}" || die "$name did not start"
    # Whether the server honours Range, asked independently of pardl.
    if [[ $(curl -q -s "${CURL_ARGS[@]}" -r 0-0 -o /dev/null -w '%{http_code}' "$base/big.bin") == 206 ]]; then
        ranges=yes
    else
        ranges=no
    fi
    mkdir -p "$out"
    local rc=0
    "$PARDL" -q -x 4 -k 1M -d "$out" --report "$out.jsonl" "${PARDL_ARGS[@]}" \
        "$base/big.bin" "$base/$ODD_URL" "$base/small.txt" >"$out.log" 2>&1 || rc=$?
    local f
    for f in big.bin "$ODD_NAME" small.txt; do
        [[ -f $out/$f ]] || { names=no; exact=no; continue; }
        cmp -s "$WWW/$f" "$out/$f" || exact=no
    done
    [[ $(find "$out" -type f | wc -l) == 3 ]] || names=no
    # The most connections that carried bytes of big.bin at once.
    used=$(grep '"url":"[^"]*/big.bin"' "$out.jsonl" | sed -E 's/.*"connections":([0-9]+).*/\1/' || echo 0)
    verdict=ok
    [[ $rc == 0 && $exact == yes && $names == yes ]] || verdict=FAIL
    if [[ $ranges == yes && ${used:-0} -lt 2 ]] || [[ $ranges == no && ${used:-0} -gt 1 ]]; then
        verdict=FAIL
    fi
    log "$name: exit $rc, byte-exact $exact, names $names, Range $ranges, connections $used: $verdict"
    [[ $verdict == ok ]] || tail -5 "$out.log" >&2
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(version_of "$name")" "$exact" "$names" \
        "$ranges" "${used:-?}" "$verdict" >>"$TABLE"
}

main() {
    install_missing
    [[ -x $PARDL ]] || { log "building pardl (release)"; (cd "$REPO" && cargo build --release --bin pardl); }
    unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY
    mkdir -p "$RESULTS_DIR"
    WORK=$(mktemp -d /tmp/pardl-interop.XXXXXX)
    chmod 755 "$WORK"
    WWW=$WORK/www
    TABLE=$RESULTS_DIR/interop.md
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    mkdir -p "$WWW"
    head -c $((24 << 20)) /dev/urandom >"$WWW/big.bin"
    head -c $((3 << 20)) /dev/urandom >"$WWW/$ODD_NAME"
    for _ in $(seq 2000); do echo "a compressible line of text, the same again and again"; done >"$WWW/small.txt"
    # Files published a while ago: Apache takes a validator younger than a second as weak and then
    # refuses If-Range (pardl correctly falls back to one stream; see docs/benchmarks.md).
    touch -d '1 hour ago' "$WWW"/*
    chmod -R a+rX "$WORK"

    {
        echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), pardl commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown):"
        echo "\`pardl -q -x 4 -k 1M -d OUT --report OUT.jsonl BASE/big.bin 'BASE/$ODD_URL' BASE/small.txt\`"
        echo "(24 MiB, 3 MiB, 106 KB of text); \"Range\" is whether the server answered \`curl -r 0-0\` with 206,"
        echo "\"connections\" the report's most connections at once for big.bin."
        echo
        echo "| server | version | byte-exact | names right | Range | connections | result |"
        echo "|---|---|---|---|---|---|---|"
    } >"$TABLE"
    local name
    for name in $SERVERS; do check_server "$name"; done
    cat "$TABLE"
    if [[ $UPDATE_DOCS == 1 ]]; then update_docs_section interop "$TABLE"; fi
    ! grep -q '| FAIL |' "$TABLE"
}

main "$@"
