"""Slow and idle clients against a running server: the evidence behind the README's server table.

    .venv/bin/python bench/slow_clients.py --url http://127.0.0.1:8000 --key phx_...

For each attack, opens `--connections` connections that misbehave, waits for them to reach the
server, then times a `GET /healthz` and an authenticated list (each on a new connection, `--budget`
seconds to answer) three times while the attack holds, and prints how many were answered and the
slowest. Attacks:
- partial: a request line and part of the headers, then nothing;
- slowloris: headers one byte at a time, one byte per connection every second;
- slow-body: a create's complete headers announcing a 1 KiB body, then the body one byte per second
  (with a key: it needs task:write, so that the service reads the body).
Point it at any server (`make run`, or another server started on the same app) to compare them.
"""

import argparse
import contextlib
import http.client
import socket
import threading
import time
from urllib.parse import urlsplit

PROBES = 3


def probe(host, port, path, key, budget):
    """Seconds to a 200, or None when the answer was not a 200 within the budget."""
    started = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=budget)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
        response = conn.getresponse()
        response.read()
        return time.monotonic() - started if response.status == 200 else None
    except OSError:
        return None
    finally:
        conn.close()


def attack(kind, host, port, count, stop, body_path, key):
    """Opens `count` connections misbehaving as `kind`; keeps them busy until `stop` is set."""
    sockets = []
    for index in range(count):
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError:
            break  # the server refuses more: what is held is the attack
        head = f"GET /healthz?n={index} HTTP/1.1\r\nHost: {host}\r\n"
        if kind == "partial":
            sock.sendall(head.encode() + b"X-")
        elif kind == "slowloris":
            sock.sendall(head.encode())
        elif kind == "slow-body":
            # A create with a valid key: the service reads the body (a /healthz POST would not).
            sock.sendall(
                f"POST {body_path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                "Content-Type: application/json\r\nContent-Length: 1024\r\n\r\n".encode()
            )
        sockets.append(sock)
    trickle = b"X-Slow: " + b"a" * 4096 if kind == "slowloris" else b"a" * 1024
    position = 0
    while not stop.wait(1.0):
        if kind == "partial":
            continue
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.sendall(trickle[position : position + 1])
        position = (position + 1) % len(trickle)
    for sock in sockets:
        sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
    parser.add_argument("--key", help="a task:read+write key for the list probe and the slow body")
    parser.add_argument("--project", type=int, default=1, help="the key's project id")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--budget", type=float, default=5.0, help="seconds each probe may take")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    host, port = parts.hostname, parts.port or 80
    list_path = f"/api/projects/{args.project}/signal_source_configs/"
    paths = ["/healthz"] + ([list_path] if args.key else [])

    print(f"{args.connections} connections per attack, {PROBES} probes per path, {args.budget} s budget")
    for kind in ("partial", "slowloris", "slow-body"):
        stop = threading.Event()
        attacker = threading.Thread(
            target=attack, args=(kind, host, port, args.connections, stop, list_path, args.key), daemon=True
        )
        attacker.start()
        time.sleep(2.0)  # every connection has reached the server
        results = []
        for path in paths:
            times = [probe(host, port, path, args.key, args.budget) for _ in range(PROBES)]
            answered = [t for t in times if t is not None]
            slowest = f"max {max(answered) * 1000:.0f} ms" if answered else "-"
            results.append(f"{path.split('?')[0]}: {len(answered)}/{PROBES} answered, {slowest}")
        stop.set()
        attacker.join()
        print(f"{kind:10} " + "; ".join(results))
        time.sleep(1.0)


if __name__ == "__main__":
    main()
