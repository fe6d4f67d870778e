#!/usr/bin/env python3
"""poolcheck driver script for PyMongo (pinned: pymongo==4.20.1).

Runs a seeded workload ("plan") with a real PyMongo client against the
poolcheck mock server and records the client's own CMAP pool events, so the
poolcheck oracle can judge them. The Rust side (`poolcheck drivers`) embeds
this file and depends on its protocol exactly; see README.md beside it.

  python pymongo_driver.py --mode sync|async --plan PLAN.json

  --mode sync   workers are threads sharing one pymongo.MongoClient
  --mode async  workers are asyncio tasks sharing one pymongo.AsyncMongoClient

Cancellation (an op whose `cancel_ms` is not null):
  sync:  the op runs inside `with pymongo.timeout(cancel_ms / 1000):` (CSOT,
         client-side operation timeout); a timeout-class PyMongo error
         (PyMongoError.timeout is true) of such an op counts as `cancelled`.
  async: the op runs as `asyncio.wait_for(op, cancel_ms / 1000)` (the task is
         cancelled); the TimeoutError raised by wait_for counts as
         `cancelled`.
  Every op error, cancellations included, is also counted by exception class
  name in `errors`.

Standard library + pymongo only. Stdout carries only the protocol lines;
diagnostics go to stderr.
"""

import argparse
import json
import os
import platform
import sys
import threading
import time

EVENT_TYPES = (
    "ConnectionPoolCreated",
    "ConnectionPoolReady",
    "ConnectionPoolCleared",
    "ConnectionPoolClosed",
    "ConnectionCreated",
    "ConnectionReady",
    "ConnectionClosed",
    "ConnectionCheckOutStarted",
    "ConnectionCheckOutFailed",
    "ConnectionCheckedOut",
    "ConnectionCheckedIn",
)

# PyMongo's reason constants already use CMAP's spellings; map them
# explicitly anyway so a future rename shows up as a known spelling or as
# an unknown lowercase-camel string the runner flags.
CLOSED_REASONS = {
    "stale": "stale",
    "idle": "idle",
    "error": "error",
    "poolclosed": "poolClosed",
    "pool_closed": "poolClosed",
}
CHECKOUT_FAILED_REASONS = {
    "timeout": "timeout",
    "connectionerror": "connectionError",
    "conn_error": "connectionError",
    "connection_error": "connectionError",
    "poolclosed": "poolClosed",
    "pool_closed": "poolClosed",
}

START_NS = time.monotonic_ns()


def die(msg, code=2):
    sys.stderr.write("pymongo_driver: %s\n" % msg.replace("\n", " "))
    sys.stderr.flush()
    os._exit(code)


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def lower_camel(s):
    s = str(s)
    if "_" in s or s.isupper():
        parts = [p for p in s.lower().split("_") if p]
        if not parts:
            return s
        return parts[0] + "".join(p.capitalize() for p in parts[1:])
    return s[:1].lower() + s[1:]


def map_reason(raw, table):
    if raw is None:
        return None
    return table.get(str(raw).lower(), lower_camel(raw))


class EventLog:
    """One JSON line per event, written and flushed under one lock; the
    timestamp is read inside the lock so file order == report order and
    times never decrease."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._f = open(path, "w", encoding="utf-8")
        self._closed = False

    def write(self, fields):
        with self._lock:
            if self._closed:
                return
            rec = {"t_us": (time.monotonic_ns() - START_NS) // 1000}
            rec.update(fields)
            self._f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            self._f.flush()

    def close(self):
        with self._lock:
            if not self._closed:
                self._closed = True
                self._f.flush()
                self._f.close()


def make_listener(monitoring, log):
    def guarded(fn):
        def wrapper(self, event):
            try:
                fn(self, event)
            except Exception as exc:  # a listener error must never escape
                try:
                    sys.stderr.write("pymongo_driver: listener error: %r\n" % (exc,))
                except Exception:
                    pass

        return wrapper

    def conn(kind):
        @guarded
        def handler(self, event):
            log.write({"type": kind, "connection_id": int(event.connection_id)})

        return handler

    class PoolListener(monitoring.ConnectionPoolListener):
        @guarded
        def pool_created(self, event):
            log.write({"type": "ConnectionPoolCreated"})

        @guarded
        def pool_ready(self, event):
            log.write({"type": "ConnectionPoolReady"})

        @guarded
        def pool_cleared(self, event):
            rec = {"type": "ConnectionPoolCleared"}
            interrupt = getattr(event, "interrupt_connections", None)
            if interrupt is not None:
                rec["interrupt"] = bool(interrupt)
            log.write(rec)

        @guarded
        def pool_closed(self, event):
            log.write({"type": "ConnectionPoolClosed"})

        connection_created = conn("ConnectionCreated")
        connection_ready = conn("ConnectionReady")

        @guarded
        def connection_closed(self, event):
            log.write(
                {
                    "type": "ConnectionClosed",
                    "connection_id": int(event.connection_id),
                    "reason": map_reason(event.reason, CLOSED_REASONS),
                }
            )

        @guarded
        def connection_check_out_started(self, event):
            log.write({"type": "ConnectionCheckOutStarted"})

        @guarded
        def connection_check_out_failed(self, event):
            log.write(
                {
                    "type": "ConnectionCheckOutFailed",
                    "reason": map_reason(event.reason, CHECKOUT_FAILED_REASONS),
                }
            )

        connection_checked_out = conn("ConnectionCheckedOut")
        connection_checked_in = conn("ConnectionCheckedIn")

    return PoolListener()


def with_socket_timeout(uri):
    """Add socketTimeoutMS=10000 unless the URI sets it (the only option the
    script may add), so a lost reply cannot block an op forever."""
    query = uri.split("?", 1)[1] if "?" in uri else ""
    for pair in query.split("&"):
        if pair.split("=", 1)[0].lower() == "sockettimeoutms":
            return uri
    if "?" in uri:
        sep = "" if uri.endswith("?") or uri.endswith("&") else "&"
        return uri + sep + "socketTimeoutMS=10000"
    rest = uri.split("://", 1)[1] if "://" in uri else uri
    return uri + ("?" if "/" in rest else "/?") + "socketTimeoutMS=10000"


def load_plan(path):
    try:
        with open(path, encoding="utf-8") as f:
            plan = json.load(f)
    except Exception as exc:
        die("cannot read plan %s: %s" % (path, exc))
    if not isinstance(plan, dict):
        die("plan is not a JSON object")
    for key in ("uri", "events_path", "workers"):
        if key not in plan:
            die("plan lacks %r" % key)
    if not isinstance(plan["uri"], str) or not isinstance(plan["events_path"], str):
        die("plan's uri and events_path must be strings")
    if not isinstance(plan["workers"], list):
        die("plan's workers must be a list")
    for w, ops in enumerate(plan["workers"]):
        if not isinstance(ops, list):
            die("worker %d is not a list of ops" % w)
        for n, op in enumerate(ops):
            if not isinstance(op, dict) or op.get("op") not in ("ping", "insert", "find", "sleep"):
                die("worker %d op %d: unknown op %r" % (w, n, op))
            if op["op"] == "sleep" and not isinstance(op.get("millis"), (int, float)):
                die("worker %d op %d: sleep without millis" % (w, n))
            for k in ("think_ms", "cancel_ms"):
                v = op.get(k)
                if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0):
                    die("worker %d op %d: bad %s %r" % (w, n, k, v))
    return plan


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = 0
        self.cancelled = 0
        self.ops = 0
        self.errors = {}

    def record(self, outcome, exc=None):
        with self.lock:
            self.ops += 1
            if outcome == "ok":
                self.ok += 1
            elif outcome == "cancelled":
                self.cancelled += 1
            else:
                self.failed += 1
            if exc is not None:
                name = type(exc).__name__
                self.errors[name] = self.errors.get(name, 0) + 1

    def line(self):
        with self.lock:
            return {
                "phase": "load-done",
                "ok": self.ok,
                "failed": self.failed,
                "cancelled": self.cancelled,
                "errors": dict(sorted(self.errors.items())),
                "ops": self.ops,
            }


def op_document(op, w, n):
    kind = op["op"]
    if kind == "insert":
        return {"w": w, "n": n}
    if kind == "find":
        return {"w": w, "n": n - 1}
    if kind == "sleep":
        millis = op["millis"]
        return {"sleep": 1, "millis": int(millis) if float(millis).is_integer() else millis}
    return {"ping": 1}


def emit_ready(driver, pymongo):
    emit(
        {
            "phase": "ready",
            "driver": driver,
            "version": pymongo.version,
            "runtime": "python %s" % platform.python_version(),
        }
    )


def think(op):
    t = op.get("think_ms") or 0
    return t / 1000.0


# ---------------------------------------------------------------- sync ----


def run_sync(plan, uri, log, pymongo, monitoring):
    try:
        client = pymongo.MongoClient(uri, event_listeners=[make_listener(monitoring, log)])
    except Exception as exc:
        die("cannot construct MongoClient: %r" % (exc,))
    emit_ready("pymongo", pymongo)
    admin = client["admin"]
    docs = client["poolcheck"]["docs"]
    tally = Tally()

    def call(op, w, n):
        kind = op["op"]
        doc = op_document(op, w, n)
        if kind == "insert":
            docs.insert_one(doc)
        elif kind == "find":
            docs.find_one(doc)
        else:
            admin.command(doc)

    def worker(w, ops):
        for n, op in enumerate(ops):
            cancel_ms = op.get("cancel_ms")
            try:
                if cancel_ms is None:
                    call(op, w, n)
                else:
                    with pymongo.timeout(cancel_ms / 1000.0):
                        call(op, w, n)
                tally.record("ok")
            except Exception as exc:
                cancelled = (
                    cancel_ms is not None
                    and isinstance(exc, pymongo.errors.PyMongoError)
                    and getattr(exc, "timeout", False)
                )
                tally.record("cancelled" if cancelled else "failed", exc)
            t = think(op)
            if t > 0:
                time.sleep(t)

    threads = [
        threading.Thread(target=worker, args=(w, ops), name="worker-%d" % w, daemon=True)
        for w, ops in enumerate(plan["workers"])
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    emit(tally.line())

    wait_for_line("close")
    try:
        client.close()
    except Exception as exc:
        sys.stderr.write("pymongo_driver: client.close() raised %r\n" % (exc,))
    emit({"phase": "closed"})
    wait_for_line("exit")


def wait_for_line(word):
    while True:
        line = sys.stdin.readline()
        if not line or line.strip() == word:
            return


# --------------------------------------------------------------- async ----


def run_async(plan, uri, log, pymongo, monitoring):
    import asyncio

    async def main():
        try:
            client = pymongo.AsyncMongoClient(uri, event_listeners=[make_listener(monitoring, log)])
        except Exception as exc:
            die("cannot construct AsyncMongoClient: %r" % (exc,))
        emit_ready("pymongo-async", pymongo)
        admin = client["admin"]
        docs = client["poolcheck"]["docs"]
        tally = Tally()

        async def call(op, w, n):
            kind = op["op"]
            doc = op_document(op, w, n)
            if kind == "insert":
                await docs.insert_one(doc)
            elif kind == "find":
                await docs.find_one(doc)
            else:
                await admin.command(doc)

        async def worker(w, ops):
            for n, op in enumerate(ops):
                cancel_ms = op.get("cancel_ms")
                try:
                    if cancel_ms is None:
                        await call(op, w, n)
                        tally.record("ok")
                    else:
                        try:
                            await asyncio.wait_for(call(op, w, n), cancel_ms / 1000.0)
                            tally.record("ok")
                        except asyncio.TimeoutError as exc:  # the cancellation
                            tally.record("cancelled", exc)
                except Exception as exc:
                    tally.record("failed", exc)
                t = think(op)
                if t > 0:
                    await asyncio.sleep(t)

        await asyncio.gather(*(worker(w, ops) for w, ops in enumerate(plan["workers"])))
        emit(tally.line())

        loop = asyncio.get_running_loop()

        async def wait_for_line_async(word):
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line or line.strip() == word:
                    return

        await wait_for_line_async("close")
        try:
            await client.close()
        except Exception as exc:
            sys.stderr.write("pymongo_driver: client.close() raised %r\n" % (exc,))
        emit({"phase": "closed"})
        await wait_for_line_async("exit")

    asyncio.run(main())


def main():
    parser = argparse.ArgumentParser(description="poolcheck PyMongo driver script")
    parser.add_argument("--mode", choices=("sync", "async"), required=True)
    parser.add_argument("--plan", required=True)
    try:
        args = parser.parse_args()
    except SystemExit as exc:
        if exc.code:
            die("bad arguments", 2)
        raise
    plan = load_plan(args.plan)

    try:
        import pymongo
        import pymongo.errors
        from pymongo import monitoring
    except Exception as exc:
        die("cannot import pymongo: %r" % (exc,), 3)
    if args.mode == "async" and not hasattr(pymongo, "AsyncMongoClient"):
        die("pymongo %s has no AsyncMongoClient" % pymongo.version, 3)

    try:
        log = EventLog(plan["events_path"])
    except Exception as exc:
        die("cannot open events file %s: %s" % (plan["events_path"], exc))

    uri = with_socket_timeout(plan["uri"])
    if args.mode == "sync":
        run_sync(plan, uri, log, pymongo, monitoring)
    else:
        run_async(plan, uri, log, pymongo, monitoring)

    log.close()
    sys.stdout.flush()
    sys.stderr.flush()
    # Every worker has finished and the client is closed; leave without
    # waiting on interpreter shutdown (driver background threads and
    # executors) so the runner never waits on a hung teardown.
    os._exit(0)


if __name__ == "__main__":
    main()
