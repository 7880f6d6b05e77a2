#!/usr/bin/env python3
"""Runs the tls-probe variants against a local HTTPS (and plain HTTP) OTLP stand-in.

Standard library only, plus the `openssl` CLI for a throwaway CA and server certificate.
Each scenario runs as N fresh processes, the scenarios taking turns in a random order each
round. Writes out/runs-KEY.jsonl (every run) and out/results-KEY.md (the table), and prints
the latter.

    python3 driver.py [--runs 100] [--key rsa2048|ec256] [--seed 1]
"""

import argparse
import datetime
import http.server
import json
import math
import os
import platform
import random
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")
# The Debian bundle; on provided.al2023 the probe would find /etc/pki/tls/certs/ca-bundle.crt.
BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# (scenario, binary variant, extra environment, note)
SCENARIOS = [
    ("none", "none", {}, "plain HTTP baseline"),
    ("ring-webpki", "ring-webpki", {}, ""),
    ("ring-native", "ring-native", {}, "default probe: bundle + cert dir"),
    ("ring-native [SSL_CERT_FILE]", "ring-native", {"SSL_CERT_FILE": BUNDLE}, "bundle only"),
    ("aws-lc-webpki", "aws-lc-webpki", {}, ""),
    ("aws-lc-webpki [x25519]", "aws-lc-webpki", {"TLS_PROBE_KX": "x25519"}, "no ML-KEM offered"),
    ("aws-lc-webpki [prime]", "aws-lc-webpki", {"TLS_PROBE_PRIME": "1"}, "RNG drawn in init"),
    ("aws-lc-native", "aws-lc-native", {}, "default probe: bundle + cert dir"),
    ("aws-lc-native [SSL_CERT_FILE]", "aws-lc-native", {"SSL_CERT_FILE": BUNDLE}, "bundle only"),
    ("aws-lc-nojitter-webpki", "aws-lc-nojitter-webpki", {}, "AWS_LC_SYS_NO_JITTER_ENTROPY=1"),
]


def make_pki(tmp, key):
    """A CA and a server certificate for 127.0.0.1 / localhost, signed by that CA."""
    keyopt = {
        "rsa2048": ["-newkey", "rsa:2048"],
        "ec256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
    }[key]
    p = lambda name: os.path.join(tmp, name)  # noqa: E731
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", *keyopt, "-nodes", "-keyout", p("ca.key"), "-out", p("ca.pem"),
        "-days", "2", "-subj", "/CN=tls-choice test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *keyopt, "-nodes", "-keyout", p("server.key"), "-out", p("server.csr"),
        "-subj", "/CN=localhost")
    with open(p("ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-days", "2", "-sha256", "-extfile", p("ext.cnf"),
        "-out", p("server.pem"))
    return p("ca.pem"), p("server.pem"), p("server.key")


class Collector(http.server.BaseHTTPRequestHandler):
    """Answers every POST with 200 and an empty body, keeping the connection alive."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def serve(tls_context=None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    server.daemon_threads = True
    # Like real collectors (Go, nginx, Envoy). Without it the server's second TLS 1.3 session
    # ticket waits for the client's delayed ACK: +40 ms on every cold export. (Accepted sockets
    # inherit it from the listening one on Linux.)
    server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls_context is not None:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def run_probe(binary, env):
    """One fresh process: its JSON line, wall time and rusage."""
    t0 = time.perf_counter_ns()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall_us = (time.perf_counter_ns() - t0) // 1000
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{binary} failed ({proc.returncode}): {out!r}")
    row = json.loads(out)
    # (The probe reports its own peak RSS: rusage's ru_maxrss would count the forked Python.)
    row.update(wall_us=wall_us, cpu_us=int((usage.ru_utime + usage.ru_stime) * 1e6))
    return row


def pct(values, q):
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def ms(us):
    return f"{us / 1000:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100, help="fresh processes per scenario")
    ap.add_argument("--key", choices=["rsa2048", "ec256"], default="rsa2048")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    random.seed(args.seed)

    binaries = {v: os.path.join(OUT, f"tls-probe-{v}") for _, v, _, _ in SCENARIOS}
    missing = [b for b in binaries.values() if not os.path.exists(b)]
    if missing:
        sys.exit(f"missing {missing}: run ./build.sh first")

    tmp = tempfile.mkdtemp(prefix="tls-choice-")
    ca, cert, key = make_pki(tmp, args.key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    https_port, http_port = serve(ctx), serve()

    base_env = {k: v for k, v in os.environ.items()
                if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR") and not k.startswith("TLS_PROBE_")}
    base_env["OTEL_EXPORTER_OTLP_CERTIFICATE"] = ca

    def env_for(name, variant, extra):
        scheme, port = ("http", http_port) if variant == "none" else ("https", https_port)
        return {**base_env, **extra, "TLS_PROBE_URL": f"{scheme}://127.0.0.1:{port}/v1/traces"}

    started = datetime.datetime.now().astimezone()
    load_before = os.getloadavg()
    info = {}
    for name, variant, extra, _ in SCENARIOS:  # warm-up (page cache) and what was negotiated
        row = run_probe(binaries[variant], {**env_for(name, variant, extra), "TLS_PROBE_INFO": "1"})
        info[name] = row
    rows = {name: [] for name, *_ in SCENARIOS}
    for _ in range(args.runs):
        order = list(SCENARIOS)
        random.shuffle(order)
        for name, variant, extra, _ in order:
            rows[name].append(run_probe(binaries[variant], env_for(name, variant, extra)))
    load_after = os.getloadavg()
    finished = datetime.datetime.now().astimezone()

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"runs-{args.key}.jsonl"), "w") as f:
        for name, rs in rows.items():
            for r in rs:
                f.write(json.dumps({"scenario": name, **r}) + "\n")

    sizes = {v: os.path.getsize(b) for v, b in binaries.items()}
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.machine())
    lines = [
        f"Run {started:%Y-%m-%d %H:%M %Z} to {finished:%H:%M}, {args.runs} fresh processes per "
        f"scenario (random order each round), server key {args.key}, {os.cpu_count()} x {cpu}, "
        f"load average (1/5/15 min) before {'/'.join(f'{x:.2f}' for x in load_before)}, "
        f"after {'/'.join(f'{x:.2f}' for x in load_after)}. Times in ms, median / p90.",
        "",
        "| scenario | stripped size (bytes) | Δ vs none | roots: n, load | init | first export "
        "(cold) | warm export | process wall | process CPU | peak RSS (KiB) | negotiated |",
        "|---|--:|--:|--|--|--|--|--|--|--:|--|",
    ]
    for name, variant, _, note in SCENARIOS:
        rs = rows[name]
        col = lambda k: [r[k] for r in rs]  # noqa: E731
        mp = lambda k: f"{ms(statistics.median(col(k)))} / {ms(pct(col(k), 0.9))}"  # noqa: E731
        roots = "-" if variant == "none" else (
            f"{rs[0]['roots_n']}, {ms(statistics.median(col('roots_us')))}")
        i = info[name]
        neg = "-" if variant == "none" else f"{i['version']} {i['suite']} {i['kx']}"
        label = f"{name}" + (f" ({note})" if note else "")
        init = mp("init_us") + (f" (RNG {ms(statistics.median(col('prime_us')))})"
                                if "prime_us" in rs[0] else "")
        lines.append(
            f"| {label} | {sizes[variant]:,} | {sizes[variant] - sizes['none']:+,} | {roots} | "
            f"{init} | {mp('first_us')} | {mp('warm_us')} | {mp('wall_us')} | "
            f"{ms(statistics.median(col('cpu_us')))} | {int(statistics.median(col('rss_hwm_kb')))} "
            f"| {neg} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(OUT, f"results-{args.key}.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
