#!/usr/bin/env python3
"""PyMongo smoke test against poolcheck's mock-server binary.

CI runs it after `pip install pymongo` and after starting the server in the background
(`cargo run --release -p mock-server --features cli -- --port PORT`); `ci/pymongo_smoke.sh` does all of
that. Usage:

    python3 ci/pymongo_smoke.py --port PORT [--host 127.0.0.1] [--judge]

Each check prints `PASS name` or `FAIL name: why`; the last line is
`pymongo-smoke: N passed, M failed`, and the exit status is non-zero if any check failed.
"""

import argparse
import sys
import threading
import time
import traceback

from pymongo import MongoClient, monitoring
from pymongo.errors import PyMongoError

DB = "pymongo_smoke"
SERVER_SELECTION_TIMEOUT_MS = 5000


class CommandLog(monitoring.CommandListener):
    """Counts the commands the driver starts, succeeds and fails, by name."""

    def __init__(self):
        self._lock = threading.Lock()
        self.started_names = []
        self.failed_names = []

    def _record(self, name, bucket):
        with self._lock:
            bucket.append(name)

    def started(self, event):
        self._record(event.command_name, self.started_names)

    def succeeded(self, event):
        pass

    def failed(self, event):
        self._record(event.command_name, self.failed_names)

    def reset(self):
        with self._lock:
            self.started_names = []
            self.failed_names = []

    def count(self, name, failed=False):
        with self._lock:
            names = self.failed_names if failed else self.started_names
            return sum(1 for n in names if n == name)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def fail_point(client, mode, data=None):
    """Runs configureFailPoint on admin; returns the reply's count: how often the fail
    point fired since the server started (as mongod reports it, a running total)."""
    command = {"configureFailPoint": "failCommand", "mode": mode}
    if data is not None:
        command["data"] = data
    reply = client.admin.command(command)
    check(reply.get("ok") == 1, f"configureFailPoint failed: {reply}")
    return int(reply["count"])


# ----- the checks -----

def check_ping(client, log):
    reply = client.admin.command("ping")
    check(reply.get("ok") == 1, f"ping: {reply}")
    hello = client.admin.command("hello")
    check(hello.get("isWritablePrimary") is True, f"hello: {hello}")
    check(hello.get("maxWireVersion", 0) >= 9, f"maxWireVersion: {hello}")


def check_insert(client, log):
    coll = client[DB]["insert"]
    coll.drop()
    one = coll.insert_one({"_id": 1, "name": "one"})
    check(one.inserted_id == 1, f"insert_one id: {one.inserted_id}")
    many = coll.insert_many([{"n": i} for i in range(10)])
    check(len(many.inserted_ids) == 10, f"insert_many ids: {many.inserted_ids}")
    check(coll.find_one({"_id": 1}) == {"_id": 1, "name": "one"}, "find_one after insert")


def check_find_cursor(client, log):
    coll = client[DB]["cursor"]
    coll.drop()
    total, batch = 250, 20
    coll.insert_many([{"_id": i, "pad": "x" * 10} for i in range(total)])
    log.reset()
    got = [d["_id"] for d in coll.find({}, batch_size=batch).sort("_id", 1)]
    check(got == list(range(total)), f"read {len(got)} documents, out of order or missing")
    get_mores = log.count("getMore")
    expected = -(-(total - batch) // batch)  # ceil(230 / 20) = 12
    check(get_mores == expected, f"{get_mores} getMores, expected {expected}")
    # filter + sort + limit + projection
    top = list(coll.find({"_id": {"$gte": 100}}, {"_id": 1}).sort("_id", -1).limit(3))
    check(top == [{"_id": 249}, {"_id": 248}, {"_id": 247}], f"filtered find: {top}")


def check_update(client, log):
    coll = client[DB]["update"]
    coll.drop()
    coll.insert_many([{"_id": i, "n": i, "even": i % 2 == 0} for i in range(6)])
    one = coll.update_one({"_id": 1}, {"$set": {"tag": "one"}})
    check((one.matched_count, one.modified_count) == (1, 1), f"update_one: {one.raw_result}")
    many = coll.update_many({"even": True}, {"$inc": {"n": 100}})
    check((many.matched_count, many.modified_count) == (3, 3), f"update_many: {many.raw_result}")
    up = coll.update_one({"_id": 99}, {"$set": {"n": 99}}, upsert=True)
    check(up.upserted_id == 99, f"upsert: {up.raw_result}")
    check(coll.find_one({"_id": 4})["n"] == 104, "update_many applied")
    check(coll.find_one({"_id": 1})["tag"] == "one", "update_one applied")


def check_delete(client, log):
    coll = client[DB]["delete"]
    coll.drop()
    coll.insert_many([{"_id": i, "odd": i % 2 == 1} for i in range(10)])
    check(coll.delete_one({"_id": 0}).deleted_count == 1, "delete_one")
    check(coll.delete_many({"odd": True}).deleted_count == 5, "delete_many")
    left = sorted(d["_id"] for d in coll.find())
    check(left == [2, 4, 6, 8], f"left after deletes: {left}")


def check_count(client, log):
    coll = client[DB]["count"]
    coll.drop()
    coll.insert_many([{"_id": i, "big": i >= 7} for i in range(10)])
    check(coll.count_documents({}) == 10, "count all")
    check(coll.count_documents({"big": True}) == 3, "count filtered")
    check(coll.count_documents({"missing": 1}) == 0, "count of an empty match is 0")
    check(coll.count_documents({}, skip=2, limit=5) == 5, "count with skip and limit")
    check(coll.estimated_document_count() == 10, "estimated_document_count")


def check_retryable_read(client, log):
    coll = client[DB]["retry"]
    coll.drop()
    coll.insert_many([{"_id": i} for i in range(5)])
    before = fail_point(client, {"times": 1},
                        {"failCommands": ["find"], "closeConnection": True})
    log.reset()
    try:
        got = [d["_id"] for d in coll.find().sort("_id", 1)]
    finally:
        fired = fail_point(client, "off") - before
    check(got == [0, 1, 2, 3, 4], f"the retried find returned {got}")
    check(fired == 1, f"the fail point fired {fired} times, expected 1")
    check(log.count("find") == 2, f"{log.count('find')} find attempts, expected 2")
    check(log.count("find", failed=True) == 1, "the first attempt failed")


def check_block_connection(client, log):
    coll = client[DB]["block"]
    coll.drop()
    coll.insert_one({"_id": 1})
    before = fail_point(client, {"times": 1},
                        {"failCommands": ["find"], "blockConnection": True, "blockTimeMS": 200})
    started = time.monotonic()
    try:
        doc = coll.find_one({"_id": 1})
    finally:
        fired = fail_point(client, "off") - before
    took = time.monotonic() - started
    check(doc == {"_id": 1}, f"blocked find returned {doc}")
    check(took >= 0.2, f"blocked find took {took:.3f} s, less than blockTimeMS")
    check(fired == 1, f"the fail point fired {fired} times")


def check_server_status(client, log):
    status = client.admin.command("serverStatus")
    conns = status.get("connections", {})
    for key in ("current", "available", "totalCreated", "active"):
        check(key in conns, f"serverStatus.connections.{key} missing: {conns}")
    # The client holds at least its monitor and the connection running this command.
    check(conns["current"] >= 1, f"current: {conns}")
    check(conns["totalCreated"] >= conns["current"], f"totalCreated < current: {conns}")
    # A second client's connections are counted, and given back when it closes.
    other = MongoClient(client.address[0], client.address[1], directConnection=True,
                        serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
                        appname="pymongo-smoke-other")
    other.admin.command("ping")
    during = client.admin.command("serverStatus")["connections"]["current"]
    check(during > conns["current"], f"a second client adds connections: {during} vs {conns}")
    other.close()
    deadline = time.monotonic() + 5
    while True:
        after = client.admin.command("serverStatus")["connections"]["current"]
        if after <= conns["current"]:
            break
        check(time.monotonic() < deadline,
              f"connections not given back after close: {after} > {conns['current']}")
        time.sleep(0.02)


def check_judge_verdict(client, log):
    """The server's pool judge (`--judge`) saw no violation by PyMongo, a well-behaved
    driver: within maxPoolSize and maxConnecting, no request pipelined on a connection,
    and the second client's connections closed after it ended its sessions."""
    verdict = client.admin.command("poolcheckVerdict")
    check(verdict.get("checks") == ["WIRE-MAX", "WIRE-CONNECTING", "WIRE-SHARED", "WIRE-LEAK"],
          f"checks: {verdict}")
    check(verdict.get("pooledConnections", 0) >= 1, f"no pooled connection seen: {verdict}")
    check(verdict.get("violations") == [], f"violations: {verdict.get('violations')}")


CHECKS = [
    check_ping,
    check_insert,
    check_find_cursor,
    check_update,
    check_delete,
    check_count,
    check_retryable_read,
    check_block_connection,
    check_server_status,
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--judge", action="store_true",
                        help="the server runs with --judge: check its verdict last")
    args = parser.parse_args()
    checks = CHECKS + ([check_judge_verdict] if args.judge else [])

    log = CommandLog()
    client = MongoClient(args.host, args.port, directConnection=True,
                         serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
                         appname="pymongo-smoke", event_listeners=[log])
    passed = failed = 0
    try:
        for fn in checks:
            name = fn.__name__.removeprefix("check_")
            try:
                fn(client, log)
            except (AssertionError, PyMongoError) as err:
                failed += 1
                print(f"FAIL {name}: {type(err).__name__}: {err}")
            except Exception:  # a bug in the check itself still counts as a failure
                failed += 1
                print(f"FAIL {name}: unexpected error")
                traceback.print_exc()
            else:
                passed += 1
                print(f"PASS {name}")
    finally:
        client.close()
    print(f"pymongo-smoke: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
