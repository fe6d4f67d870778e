#!/usr/bin/env node
// poolcheck driver script for the MongoDB Node.js driver (pinned: mongodb@7.9.1,
// Node >= 20.19). CommonJS; `require('mongodb')` resolves through NODE_PATH,
// which the runner sets. No other npm packages.
//
// Runs a seeded workload ("plan") with a real MongoClient against the poolcheck
// mock server and records the client's own CMAP pool events, so the poolcheck
// oracle can judge them. The Rust side (`poolcheck drivers --driver node`)
// embeds this file and depends on its protocol exactly; see README.md beside it.
//
//   node node_driver.js --plan PLAN.json
//
// Workers are concurrent async functions sharing one MongoClient.
//
// Cancellation (an op whose `cancel_ms` is not null):
//   ping  -> db('admin').command({ping: 1}, {signal: AbortSignal.timeout(cancel_ms)})
//   sleep -> db('admin').command({sleep: 1, millis}, {signal: AbortSignal.timeout(cancel_ms)})
//   find  -> collection.findOne(filter, {signal: AbortSignal.timeout(cancel_ms)})
//            (Db.command and Collection.findOne take `Abortable` options in 7.9.1)
//   insert-> collection.insertOne(doc, {timeoutMS: cancel_ms})
//            (InsertOneOptions has no `signal` in 7.9.1, so client-side
//            operation timeout, CSOT, is used instead)
// An op counts as `cancelled` when (signal ops) its signal has fired by the
// time the op fails and the error is the signal's reason or a driver timeout
// error: mongodb@7.9.1 turns an AbortSignal.timeout abort into
// MongoOperationTimeoutError (on the wire) or MongoWaitQueueTimeoutError
// (while waiting for a pooled connection), not into signal.reason; or
// (insert, timeoutMS) when it fails with MongoOperationTimeoutError, or with
// MongoWaitQueueTimeoutError after at least cancel_ms. Every op error,
// cancellations included, is also counted by its error name (err.name, e.g.
// "MongoNetworkError") in `errors`.
//
// Stdout carries only the protocol lines; diagnostics go to stderr.
'use strict';

const fs = require('fs');
const path = require('path');

const START = process.hrtime.bigint();

function die(msg, code = 2) {
  try {
    fs.writeSync(2, `node_driver: ${String(msg).replace(/\n/g, ' ')}\n`);
  } catch (_) {
    /* nothing left to report to */
  }
  process.exit(code);
}

function emit(obj) {
  // Stdout to a pipe is synchronous on Linux; writeSync makes it explicit.
  writeAllSync(1, JSON.stringify(obj) + '\n');
}

function writeAllSync(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      if (err && err.code === 'EAGAIN') continue;
      throw err;
    }
  }
}

function parseArgs(argv) {
  let plan = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--plan' && i + 1 < argv.length) plan = argv[++i];
    else if (argv[i].startsWith('--plan=')) plan = argv[i].slice('--plan='.length);
    else die(`unknown argument ${argv[i]}`);
  }
  if (!plan) die('usage: node node_driver.js --plan PLAN.json');
  return { plan };
}

const OPS = new Set(['ping', 'insert', 'find', 'sleep']);

function loadPlan(file) {
  let plan;
  try {
    plan = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    die(`cannot read plan ${file}: ${err && err.message}`);
  }
  if (!plan || typeof plan !== 'object' || Array.isArray(plan)) die('plan is not a JSON object');
  for (const key of ['uri', 'events_path', 'workers']) {
    if (!(key in plan)) die(`plan lacks "${key}"`);
  }
  if (typeof plan.uri !== 'string' || typeof plan.events_path !== 'string') {
    die("plan's uri and events_path must be strings");
  }
  if (!Array.isArray(plan.workers)) die("plan's workers must be a list");
  plan.workers.forEach((ops, w) => {
    if (!Array.isArray(ops)) die(`worker ${w} is not a list of ops`);
    ops.forEach((op, n) => {
      if (!op || typeof op !== 'object' || !OPS.has(op.op)) {
        die(`worker ${w} op ${n}: unknown op ${JSON.stringify(op)}`);
      }
      if (op.op === 'sleep' && typeof op.millis !== 'number') {
        die(`worker ${w} op ${n}: sleep without millis`);
      }
      for (const k of ['think_ms', 'cancel_ms']) {
        const v = op[k];
        if (v !== undefined && v !== null && (typeof v !== 'number' || v < 0)) {
          die(`worker ${w} op ${n}: bad ${k} ${JSON.stringify(v)}`);
        }
      }
    });
  });
  return plan;
}

// Add socketTimeoutMS=10000 unless the URI sets it (the only option the script
// may add), so a lost reply cannot block an op forever.
function withSocketTimeout(uri) {
  const q = uri.includes('?') ? uri.slice(uri.indexOf('?') + 1) : '';
  for (const pair of q.split('&')) {
    if (pair.split('=')[0].toLowerCase() === 'sockettimeoutms') return uri;
  }
  if (uri.includes('?')) {
    const sep = uri.endsWith('?') || uri.endsWith('&') ? '' : '&';
    return `${uri}${sep}socketTimeoutMS=10000`;
  }
  const rest = uri.includes('://') ? uri.slice(uri.indexOf('://') + 3) : uri;
  return `${uri}${rest.includes('/') ? '?' : '/?'}socketTimeoutMS=10000`;
}

// Node's reasons already use CMAP's spellings; map explicitly anyway.
const CLOSED_REASONS = { stale: 'stale', idle: 'idle', error: 'error', poolclosed: 'poolClosed' };
const CHECKOUT_FAILED_REASONS = {
  timeout: 'timeout',
  connectionerror: 'connectionError',
  poolclosed: 'poolClosed',
};

function lowerCamel(s) {
  s = String(s);
  if (s.includes('_') || s === s.toUpperCase()) {
    const parts = s.toLowerCase().split('_').filter(Boolean);
    if (parts.length === 0) return s;
    return parts[0] + parts.slice(1).map((p) => p[0].toUpperCase() + p.slice(1)).join('');
  }
  return s[0].toLowerCase() + s.slice(1);
}

function mapReason(raw, table) {
  if (raw === undefined || raw === null) return undefined;
  return table[String(raw).toLowerCase()] || lowerCamel(raw);
}

// Events: Node runs listeners on its one thread, so each append (time read,
// line written with a synchronous write to the file) is already atomic; file
// order is report order and times never decrease.
class EventLog {
  constructor(file) {
    this.fd = fs.openSync(file, 'w');
  }
  write(fields) {
    if (this.fd === null) return;
    const rec = { t_us: Number((process.hrtime.bigint() - START) / 1000n), ...fields };
    writeAllSync(this.fd, JSON.stringify(rec) + '\n');
  }
  close() {
    if (this.fd === null) return;
    try {
      fs.fsyncSync(this.fd);
    } catch (_) {
      /* a pipe or special file */
    }
    fs.closeSync(this.fd);
    this.fd = null;
  }
}

function connId(ev) {
  const id = Number(ev.connectionId);
  return Number.isFinite(id) ? id : ev.connectionId;
}

function attachListeners(client, log) {
  const on = (name, fn) =>
    client.on(name, (ev) => {
      try {
        fn(ev);
      } catch (err) {
        try {
          fs.writeSync(2, `node_driver: listener error: ${err && err.stack}\n`);
        } catch (_) {
          /* ignore */
        }
      }
    });
  on('connectionPoolCreated', () => log.write({ type: 'ConnectionPoolCreated' }));
  on('connectionPoolReady', () => log.write({ type: 'ConnectionPoolReady' }));
  on('connectionPoolCleared', (ev) => {
    const rec = { type: 'ConnectionPoolCleared' };
    if (typeof ev.interruptInUseConnections === 'boolean') rec.interrupt = ev.interruptInUseConnections;
    log.write(rec);
  });
  on('connectionPoolClosed', () => log.write({ type: 'ConnectionPoolClosed' }));
  on('connectionCreated', (ev) => log.write({ type: 'ConnectionCreated', connection_id: connId(ev) }));
  on('connectionReady', (ev) => log.write({ type: 'ConnectionReady', connection_id: connId(ev) }));
  on('connectionClosed', (ev) =>
    log.write({
      type: 'ConnectionClosed',
      connection_id: connId(ev),
      reason: mapReason(ev.reason, CLOSED_REASONS),
    }),
  );
  on('connectionCheckOutStarted', () => log.write({ type: 'ConnectionCheckOutStarted' }));
  on('connectionCheckOutFailed', (ev) =>
    log.write({
      type: 'ConnectionCheckOutFailed',
      reason: mapReason(ev.reason, CHECKOUT_FAILED_REASONS),
    }),
  );
  on('connectionCheckedOut', (ev) => log.write({ type: 'ConnectionCheckedOut', connection_id: connId(ev) }));
  on('connectionCheckedIn', (ev) => log.write({ type: 'ConnectionCheckedIn', connection_id: connId(ev) }));
}

function driverVersion() {
  try {
    return require('mongodb/package.json').version;
  } catch (_) {
    try {
      let dir = path.dirname(require.resolve('mongodb'));
      for (let i = 0; i < 4; i++) {
        const p = path.join(dir, 'package.json');
        if (fs.existsSync(p)) {
          const pkg = JSON.parse(fs.readFileSync(p, 'utf8'));
          if (pkg.name === 'mongodb') return pkg.version;
        }
        dir = path.dirname(dir);
      }
    } catch (_) {
      /* fall through */
    }
  }
  return 'unknown';
}

function errorName(err) {
  if (err && typeof err === 'object') {
    if (typeof err.name === 'string' && err.name) return err.name;
    if (err.constructor && err.constructor.name) return err.constructor.name;
  }
  return typeof err;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Lines of stdin, one at a time; EOF yields null (forever after).
function stdinLines() {
  const waiting = [];
  const queued = [];
  let buf = '';
  let ended = false;
  const deliver = () => {
    while (waiting.length && (queued.length || ended)) {
      waiting.shift()(queued.length ? queued.shift() : null);
    }
  };
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      queued.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    deliver();
  });
  const finish = () => {
    if (ended) return;
    if (buf.length) queued.push(buf);
    buf = '';
    ended = true;
    deliver();
  };
  process.stdin.on('end', finish);
  process.stdin.on('close', finish);
  process.stdin.on('error', finish);
  return () =>
    new Promise((resolve) => {
      waiting.push(resolve);
      deliver();
    });
}

async function waitForLine(nextLine, word) {
  for (;;) {
    const line = await nextLine();
    if (line === null || line.trim() === word) return;
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const plan = loadPlan(args.plan);

  let mongodb;
  try {
    mongodb = require('mongodb');
  } catch (err) {
    die(`cannot require mongodb: ${err && err.message}`, 3);
  }

  let log;
  try {
    log = new EventLog(plan.events_path);
  } catch (err) {
    die(`cannot open events file ${plan.events_path}: ${err && err.message}`);
  }

  let client;
  try {
    client = new mongodb.MongoClient(withSocketTimeout(plan.uri));
    attachListeners(client, log);
  } catch (err) {
    die(`cannot construct MongoClient: ${err && err.message}`);
  }
  // Start reading stdin now so no line is lost; it is consumed after the load.
  const nextLine = stdinLines();

  emit({
    phase: 'ready',
    driver: 'node',
    version: driverVersion(),
    runtime: `node ${process.version}`,
  });

  const admin = client.db('admin');
  const docs = client.db('poolcheck').collection('docs');
  const tally = { ok: 0, failed: 0, cancelled: 0, ops: 0, errors: {} };

  // mongodb@7.9.1 does not surface signal.reason for an AbortSignal.timeout
  // signal: an abort while the op is on the wire rejects with
  // MongoOperationTimeoutError, and an abort while waiting for a pooled
  // connection rejects with MongoWaitQueueTimeoutError. So a signal op counts
  // as cancelled when its signal has fired by the time the error arrives and
  // the error is the reason itself or one of those timeout errors. An insert
  // (timeoutMS) counts as cancelled on MongoOperationTimeoutError.
  const TIMEOUT_ERRORS = ['MongoOperationTimeoutError', 'MongoWaitQueueTimeoutError'];
  function isCancellation(op, err, signal, elapsedMs) {
    if (op.cancel_ms === undefined || op.cancel_ms === null) return false;
    const name = errorName(err);
    if (signal) {
      if (!signal.aborted) return false;
      return err === signal.reason || name === 'TimeoutError' || name === 'AbortError' || TIMEOUT_ERRORS.includes(name);
    }
    if (name === 'MongoOperationTimeoutError') return true;
    return name === 'MongoWaitQueueTimeoutError' && elapsedMs >= op.cancel_ms;
  }

  async function worker(w, ops) {
    for (let n = 0; n < ops.length; n++) {
      const op = ops[n];
      let signal;
      tally.ops++;
      const t0 = Date.now();
      try {
        const cancelMs = op.cancel_ms;
        // ping, sleep and find take an AbortSignal; insert uses timeoutMS.
        if (cancelMs !== undefined && cancelMs !== null && op.op !== 'insert') {
          signal = AbortSignal.timeout(Math.max(1, Math.round(cancelMs)));
        }
        await runOpWith(op, w, n, signal);
        tally.ok++;
      } catch (err) {
        if (isCancellation(op, err, signal, Date.now() - t0)) tally.cancelled++;
        else tally.failed++;
        const name = errorName(err);
        tally.errors[name] = (tally.errors[name] || 0) + 1;
      }
      const think = op.think_ms || 0;
      if (think > 0) await sleep(think);
    }
  }

  async function runOpWith(op, w, n, signal) {
    const opts = signal ? { signal } : {};
    switch (op.op) {
      case 'ping':
        return admin.command({ ping: 1 }, opts);
      case 'sleep':
        return admin.command({ sleep: 1, millis: op.millis }, opts);
      case 'find':
        return docs.findOne({ w, n: n - 1 }, opts);
      case 'insert': {
        const c = op.cancel_ms;
        return docs.insertOne(
          { w, n },
          c !== undefined && c !== null ? { timeoutMS: Math.max(1, Math.round(c)) } : {},
        );
      }
      default:
        throw new Error(`unknown op ${op.op}`);
    }
  }
  await Promise.all(plan.workers.map((ops, w) => worker(w, ops)));
  const errors = {};
  for (const k of Object.keys(tally.errors).sort()) errors[k] = tally.errors[k];
  emit({
    phase: 'load-done',
    ok: tally.ok,
    failed: tally.failed,
    cancelled: tally.cancelled,
    errors,
    ops: tally.ops,
  });

  await waitForLine(nextLine, 'close');
  try {
    await client.close();
  } catch (err) {
    fs.writeSync(2, `node_driver: client.close() failed: ${err && err.stack}\n`);
  }
  emit({ phase: 'closed' });
  await waitForLine(nextLine, 'exit');
  log.close();
  process.exit(0);
}

process.on('unhandledRejection', (reason) => {
  try {
    fs.writeSync(2, `node_driver: unhandled rejection: ${reason && reason.stack ? reason.stack : reason}\n`);
  } catch (_) {
    /* ignore */
  }
});

main().catch((err) => die(`internal error: ${err && err.stack ? err.stack : err}`, 4));
