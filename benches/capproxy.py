#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that caps the download speed of every connection, and of chosen ones
lower: a server whose connections are not equally fast (one lands on a busy backend).

    capproxy.py --listen PORT --upstream PORT --rate BYTES_PER_S [--slow N --slow-rate BYTES_PER_S]

Connections are numbered from 1 in the order they are accepted; connection N (given with --slow,
which may be repeated) is capped at --slow-rate instead of --rate. The cap is on what flows from
the upstream to the client, paced in slices of 1/50 s, for the connection's whole life (so it holds
for every request on a kept-alive connection, like nginx's stream proxy_download_rate). One line
per connection goes to stderr when it closes: its number, its cap and the bytes it carried.

Listens on 127.0.0.1 only and connects only to 127.0.0.1: a benchmark helper, never part of the
tests. Stops on SIGTERM or SIGINT.
"""

import argparse
import signal
import socket
import sys
import threading
import time

SLICE_PER_SECOND = 50


def pump(src, dst, rate, counter):
    """Copies src to dst, at most `rate` bytes per second if given; then shuts dst's write side."""
    slice_bytes = max(1, rate // SLICE_PER_SECOND) if rate else 256 * 1024
    started = time.monotonic()
    sent = 0
    try:
        while True:
            data = src.recv(slice_bytes)
            if not data:
                break
            dst.sendall(data)
            sent += len(data)
            if counter is not None:
                counter[0] = sent
            if rate:
                due = started + sent / rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
    except OSError:
        pass
    finally:
        for sock, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                sock.shutdown(how)
            except OSError:
                pass


def serve(client, number, upstream_port, rate, log):
    try:
        upstream = socket.create_connection(("127.0.0.1", upstream_port))
    except OSError as error:
        print(f"capproxy: connection {number}: upstream: {error}", file=sys.stderr)
        client.close()
        return
    for sock in (client, upstream):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    counter = [0]
    up = threading.Thread(target=pump, args=(client, upstream, 0, None), daemon=True)
    up.start()
    pump(upstream, client, rate, counter)
    up.join()
    client.close()
    upstream.close()
    if log:
        print(f"capproxy: connection {number}: {rate} B/s, {counter[0]} bytes", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--rate", type=int, required=True)
    parser.add_argument("--slow", type=int, action="append", default=[])
    parser.add_argument("--slow-rate", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.listen))
    listener.listen(128)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    number = 0
    try:
        while True:
            client, _ = listener.accept()
            number += 1
            rate = args.slow_rate if number in args.slow else args.rate
            threading.Thread(
                target=serve,
                args=(client, number, args.upstream, rate, not args.quiet),
                daemon=True,
            ).start()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
