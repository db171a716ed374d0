#!/usr/bin/env python3
"""The front-door target of issue 15: with 1,000 idle and 200 trickling
connections open and 100 agents long-polling, an ordinary GET answers in
under 1 s at p99.

Starts its own server (a fresh SQLite store in a temporary folder) on
loopback, opens the hostile load, then times GETs of /v1/leases by a new
client (a fresh connection each, as a client that arrives while the server is
under siege), and prints p50/p99/max. Bounded: at most GETS requests, each
cut at 20 s (a GET cut so counts as 20 s), the whole run at most ~2 minutes;
it stops the server and the load by itself.

  bench/api/frontdoor.py [STRAITS_BINARY] [-- extra serve flags]
  IDLE=1000 TRICKLE=200 AGENTS=100 GETS=200 bench/api/frontdoor.py build/straits

Idle and trickling connections that the server closes (its idle timeout,
its request deadline) are opened again at once, so that the numbers stay
what they say for the whole measurement.
"""
import asyncio
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

IDLE = int(os.environ.get("IDLE", "1000"))
TRICKLE = int(os.environ.get("TRICKLE", "200"))
AGENTS = int(os.environ.get("AGENTS", "100"))
GETS = int(os.environ.get("GETS", "200"))
GET_TIMEOUT = 20.0

args = sys.argv[1:]
extra = []
if "--" in args:
    extra = args[args.index("--") + 1:]
    args = args[: args.index("--")]
straits = os.path.realpath(args[0] if args else "build/straits")

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

folder = tempfile.mkdtemp(prefix="straits-frontdoor.")
out = open(os.path.join(folder, "out"), "w+")
server = subprocess.Popen(
    [straits, "serve", "--listen", "127.0.0.1:0", "--store", f"sqlite:{folder}/bench.db",
     "--schedule-interval", "0", "--quiet"] + extra,
    stdout=out, stderr=subprocess.DEVNULL)
port = token = None
for _ in range(200):
    out.seek(0)
    text = out.read()
    m = re.search(r"serving on https?://127\.0\.0\.1:(\d+)", text)
    t = re.search(r"export STRAITS_TOKEN=(\S+)", text)
    if m and t:
        port, token = int(m.group(1)), t.group(1)
        break
    time.sleep(0.1)
if port is None:
    server.kill()
    sys.exit("frontdoor: the server did not start")

stop = False


async def request(method, path, body=None, timeout=GET_TIMEOUT):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        data = body.encode() if body else b""
        writer.write((f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                      "Connection: close\r\n\r\n").encode() + data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout)
        status = int(answer.split(b" ", 2)[1])
        return status, answer.split(b"\r\n\r\n", 1)[1]
    finally:
        writer.close()


async def idle():
    while not stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await reader.read()  # until the server closes it
            writer.close()
        except OSError:
            await asyncio.sleep(0.5)


async def trickle():
    header = b"GET /v1/leases HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000
    while not stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for byte in header:
                if stop:
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(2.5)
            writer.close()
        except OSError:
            await asyncio.sleep(0.5)


async def agent(agent_id):
    while not stop:
        try:
            await request("GET", f"/v1/agents/{agent_id}/assignments?wait=30", timeout=70)
        except (OSError, asyncio.TimeoutError, IndexError, ValueError):
            await asyncio.sleep(0.5)


async def main():
    global stop
    agents = []
    for i in range(AGENTS):
        status, body = await request("POST", "/v1/agents", json.dumps(
            {"name": f"bench-{i}", "sites": ["sg-tuas-1"], "backend": "local"}))
        if status != 201:
            sys.exit(f"frontdoor: registering an agent answered {status}: {body[:200]}")
        agents.append(json.loads(body)["id"])
    tasks = [asyncio.create_task(idle()) for _ in range(IDLE)]
    tasks += [asyncio.create_task(trickle()) for _ in range(TRICKLE)]
    tasks += [asyncio.create_task(agent(a)) for a in agents]
    await asyncio.sleep(3)  # everything connected and sending
    took, failed, started = [], 0, time.monotonic()
    for _ in range(GETS):
        if time.monotonic() - started > 90:
            break
        t0 = time.monotonic()
        try:
            status, _ = await request("GET", "/v1/leases")
            if status != 200:
                failed += 1
        except (OSError, asyncio.TimeoutError, IndexError, ValueError):
            failed += 1
        took.append(min(time.monotonic() - t0, GET_TIMEOUT))
        await asyncio.sleep(0.05)
    stop = True
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    took.sort()
    def pct(p):
        return took[min(len(took) - 1, int(len(took) * p))] * 1000
    print(f"idle {IDLE}, trickling {TRICKLE}, agents long-polling {AGENTS}: "
          f"{len(took)} GETs, p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, "
          f"max {took[-1] * 1000:.1f} ms, failed {failed}")


try:
    asyncio.run(main())
finally:
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
    shutil.rmtree(folder, ignore_errors=True)
