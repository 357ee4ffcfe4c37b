#!/usr/bin/env python3
"""One heavy request must not stall everyone (issue 22): a benchmark, not a test.

Starts `./peregrine serve` (the demo checkpoint unless --model is given), then
  1. counts tokens of a fresh 50-page blank PDF (a new page size each run defeats the encoder cache): wall time;
  2. sends that PDF as a chat `file` part (streamed, max_tokens 1) and, while it runs, a tiny chat request
     (max_tokens 2) every --interval seconds, one at a time: latency p50 / p99 / max;
  3. hangs up the heavy request and measures how long until the server's CPU falls idle (the abort landed),
     once mid-prefill and once right after sending (mid-render / mid-encode).
Only the Python standard library. Prints a Markdown block for docs/performance.md.

  scripts/heavy-request-bench.py [--duration 60] [--pages 50] [--port 8123] [-- extra serve flags]
"""
import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blank_pdf(pages, w, h):
    """A minimal valid PDF of `pages` empty w x h pt pages (about 7 KB for 50)."""
    objs = ["<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join("%d 0 R" % (3 + i) for i in range(pages)), pages)]
    for _ in range(pages):
        objs.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] >>" % (w, h))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs):
        offsets.append(len(out))
        out += ("%d 0 obj\n%s\nendobj\n" % (i + 1, o)).encode()
    xref = len(out)
    out += ("xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)).encode()
    for off in offsets:
        out += ("%010d 00000 n \n" % off).encode()
    out += ("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)).encode()
    return bytes(out)


def pdf_body(pdf, stream, max_tokens, model):
    import base64
    url = "data:application/pdf;base64," + base64.b64encode(pdf).decode()
    return json.dumps({"model": model, "stream": stream, "max_tokens": max_tokens, "messages": [{"role": "user",
                       "content": [{"type": "text", "text": "Summarize."},
                                   {"type": "file", "file": {"filename": "blank.pdf", "file_data": url}}]}]})


def post(port, path, body, timeout=600):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body.encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            data = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        data, status = e.read(), e.code
    return status, time.monotonic() - t0, data


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_after(pid, start, limit=120.0):
    """Seconds from `start` until the process uses under 15% of a core over 0.3 s."""
    last_t, last_c = time.monotonic(), cpu_seconds(pid)
    while time.monotonic() - start < limit:
        time.sleep(0.1)
        t, c = time.monotonic(), cpu_seconds(pid)
        if t - last_t >= 0.3:
            if (c - last_c) / (t - last_t) < 0.15:
                return last_t - start
            last_t, last_c = t, c
    return float("inf")


def metric(port, name):
    """The first sample of a metric family (summed over labels), 0 when absent."""
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read().decode()
    except Exception:
        return 0
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def running(port):
    return metric(port, "vllm:num_requests_running")


def open_heavy(port, body):
    s = socket.create_connection(("127.0.0.1", port))
    head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % len(body.encode()))
    s.sendall(head.encode() + body.encode())
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--interval", type=float, default=0.25)
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("serve_flags", nargs="*")
    a = ap.parse_args()
    if a.port == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            a.port = probe.getsockname()[1]
    log = open("/tmp/heavy-request-bench.server.log", "w")
    # The CPU backend's default cap (8192 vision tokens) would refuse the heavy request: lift it to measure it.
    flags = ["--max-vision-tokens-per-request", "65536"] + a.serve_flags
    server = subprocess.Popen([os.path.join(ROOT, "peregrine"), "serve", "--port", str(a.port)] + flags,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/ready" % a.port, timeout=2) as r:
                    if r.status == 200 and server.poll() is None:
                        break
            except Exception:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("the server did not become ready (see /tmp/heavy-request-bench.server.log)")
            time.sleep(0.5)
        pid = server.pid  # the launcher execs java
        model = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/v1/models" % a.port).read())["data"][0]["id"]
        tiny = json.dumps({"model": model, "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]})
        for _ in range(3):
            post(a.port, "/v1/chat/completions", tiny)  # warm-up
        quiet = [post(a.port, "/v1/chat/completions", tiny)[1] for _ in range(10)]
        side = 200 + random.randint(1, 400) / 10.0  # a page size the encoder cache has not seen
        pdf = blank_pdf(a.pages, side, side)
        count_body = json.dumps({"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                            "data": __import__("base64").b64encode(pdf).decode()}}]}]})
        c0 = cpu_seconds(pid)
        status, count_s, data = post(a.port, "/v1/messages/count_tokens", count_body)
        count_cpu = cpu_seconds(pid) - c0
        tokens = json.loads(data).get("input_tokens") if status == 200 else data[:200]

        heavy = open_heavy(a.port, pdf_body(blank_pdf(a.pages, side + 1, side + 1), True, 1, model))
        t_heavy = time.monotonic()
        lat, statuses = {"encode": [], "prefill": []}, {}
        t_running = None
        while True:
            phase = "prefill" if running(a.port) > 0 else "encode"
            if phase == "prefill" and t_running is None:
                t_running = time.monotonic()
                steps0, prompt0 = metric(a.port, "vllm:iteration_tokens_count"), metric(a.port, "vllm:prompt_tokens_total")
            if t_running is not None and time.monotonic() - t_running > a.duration:
                break
            if time.monotonic() - t_heavy > a.duration + 300:
                break
            st, dt, _ = post(a.port, "/v1/chat/completions", tiny)
            statuses[st] = statuses.get(st, 0) + 1
            lat[phase].append(dt)
            time.sleep(a.interval)
        t_end = time.monotonic()
        steps = metric(a.port, "vllm:iteration_tokens_count") - steps0 if t_running else 0
        prefilled = metric(a.port, "vllm:prompt_tokens_total") - prompt0 if t_running else 0
        heavy.settimeout(0.01)
        try:
            first = heavy.recv(200)
        except OSError:
            first = b""
        heavy_answered = first.startswith(b"HTTP/1.1 200")
        t_close = time.monotonic()
        heavy.close()
        abort_prefill = idle_after(pid, t_close)

        heavy = open_heavy(a.port, pdf_body(blank_pdf(a.pages, side + 2, side + 2), True, 1, model))
        time.sleep(0.5)
        t_close = time.monotonic()
        heavy.close()
        abort_early = idle_after(pid, t_close)

        def q(xs, p):
            xs = sorted(xs)
            return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")
        print("```")
        print("heavy request: %d blank %.1fx%.1f pt pages -> %s prompt tokens (count_tokens: %.2f s wall, %.2f CPU-s)"
              % (a.pages, side, side, tokens, count_s, count_cpu))
        print("tiny chat (max_tokens 2) alone:        p50 %.3f s  max %.3f s  (n=%d)"
              % (statistics.median(quiet), max(quiet), len(quiet)))
        for phase in ("encode", "prefill"):
            xs = lat[phase]
            print("tiny chat during the heavy one's %-7s p50 %.3f s  p99 %.3f s  max %.3f s  (n=%d)"
                  % (phase + ":", q(xs, 0.5), q(xs, 0.99), max(xs) if xs else float("nan"), len(xs)))
        print("statuses %s; heavy request in the engine %.1f s after it was sent; its stream had started: %s"
              % (statuses, (t_running or float("nan")) - t_heavy, heavy_answered))
        if steps:
            print("engine during the prefill phase: %d steps, %.3f s a step, %.0f prompt tokens/s (heavy + tiny)"
                  % (steps, (t_end - t_running) / steps, prefilled / (t_end - t_running)))
        print("hang-up mid-prefill -> server idle in  %.2f s" % abort_prefill)
        print("hang-up 0.5 s after sending (render/encode) -> idle in %.2f s" % abort_early)
        print("```")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)


if __name__ == "__main__":
    main()
