// h2o-wasm: HTTP/2 + WebSocket for Node. Every protocol decision (framing,
// HPACK, streams, flow control, WebSocket framing and handshake checks) is made
// by the H2O Rust core compiled to wasm (pkg/, built from src/js.rs by
// build.sh). This file only moves bytes between Node sockets (`net`, `tls`)
// and the core, runs timers, and shapes results into Promises, WHATWG
// `Response`s and a browser-like WebSocket.
import { createRequire } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const wasm = require('./pkg/h2o_wasm.js');

export const { Connection, HpackEncoder, HpackDecoder, WebSocketCodec, mask, maskUsesSimd128 } = wasm;

/** An `Error` with a stable `code` (`ERR_H2O_*`) and optional details. */
export class H2OError extends Error {
  constructor(code, message, props = {}) {
    const { cause, ...rest } = props;
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'H2OError';
    this.code = code;
    Object.assign(this, rest);
  }
}

const now = () => performance.now();
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

function parseUrl(url, schemes) {
  let u;
  try {
    u = url instanceof URL ? url : new URL(String(url));
  } catch (e) {
    throw new H2OError('ERR_H2O_INVALID_URL', `invalid URL: ${url}`, { cause: e });
  }
  if (!schemes.includes(u.protocol)) {
    throw new H2OError('ERR_H2O_INVALID_URL', `unsupported scheme ${u.protocol} in ${u.href} (expected ${schemes.join(' or ')})`);
  }
  return u;
}

function toBytes(body, what = 'body') {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof URLSearchParams) return encoder.encode(body.toString());
  throw new H2OError('ERR_H2O_INVALID_ARG', `${what} must be a string, Uint8Array, ArrayBuffer or URLSearchParams`);
}

/** Queued request-body bytes per stream above which a streaming body waits. */
const UPLOAD_HIGH = 256 << 10;

/** A body sent as it is produced: a ReadableStream or any async iterable. */
function isStreamBody(body) {
  return (
    body !== null &&
    typeof body === 'object' &&
    !ArrayBuffer.isView(body) &&
    (typeof body.getReader === 'function' || typeof body[Symbol.asyncIterator] === 'function')
  );
}

function headerPairs(headers) {
  const out = [];
  if (headers === undefined || headers === null) return out;
  const push = (n, v) => {
    if (Array.isArray(v)) for (const x of v) out.push([String(n).toLowerCase(), String(x)]);
    else out.push([String(n).toLowerCase(), String(v)]);
  };
  if (typeof headers.forEach === 'function' && typeof headers.get === 'function') {
    headers.forEach((v, n) => push(n, v)); // Headers, Map
  } else if (Array.isArray(headers)) {
    for (const [n, v] of headers) push(n, v);
  } else if (typeof headers === 'object') {
    for (const n of Object.keys(headers)) push(n, headers[n]);
  } else {
    throw new H2OError('ERR_H2O_INVALID_ARG', 'headers must be an object, an array of pairs or a Headers');
  }
  return out;
}

function headerObject(pairs) {
  const o = Object.create(null);
  for (const [n, v] of pairs) {
    if (n === 'set-cookie') (o[n] ??= []).push(v);
    else o[n] = n in o ? `${o[n]}, ${v}` : v;
  }
  return o;
}

function concat(chunks, total) {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** Opens a TCP (or TLS with ALPN `protocols`) socket; rejects with ERR_H2O_CONNECT / _TLS / _TIMEOUT. */
function openSocket(u, options, protocols) {
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  const port = Number(u.port) || (secure ? 443 : 80);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const timeout = options.connectTimeout ?? 10_000;
  return new Promise((resolve, reject) => {
    let tcpUp = false;
    let socket;
    const fail = (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new H2OError('ERR_H2O_TIMEOUT', `connecting to ${u.host} timed out after ${timeout} ms`)),
      timeout,
    );
    if (secure) {
      socket = tls.connect({
        host,
        port,
        servername: net.isIP(host) ? undefined : host,
        ALPNProtocols: protocols,
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        rejectUnauthorized: options.rejectUnauthorized ?? true,
      });
      socket.once('connect', () => (tcpUp = true));
      socket.once('secureConnect', () => {
        if (protocols.includes('h2') && socket.alpnProtocol !== 'h2') {
          fail(new H2OError('ERR_H2O_TLS', `${u.host} did not negotiate HTTP/2 with ALPN (got ${socket.alpnProtocol || 'none'})`));
          return;
        }
        settle(socket);
      });
    } else {
      socket = net.connect({ host, port });
      socket.once('connect', () => {
        settle(socket);
      });
    }
    function settle(sock) {
      clearTimeout(timer);
      // The owner (Session, WebSocket) reports later failures via 'close';
      // keep a listener so an error in between is never an uncaught exception.
      sock.removeListener('error', onError);
      sock.on('error', () => {});
      resolve(sock);
    }
    socket.once('error', onError);
    function onError(e) {
      const tlsFail = secure && (tcpUp || /CERT|SSL|TLS|SELF_SIGNED|ALTNAME/.test(e.code ?? ''));
      fail(
        tlsFail
          ? new H2OError('ERR_H2O_TLS', `TLS handshake with ${u.host} failed: ${e.message}`, { cause: e })
          : new H2OError('ERR_H2O_CONNECT', `cannot connect to ${u.host}: ${e.message}`, { cause: e }),
      );
    }
  });
}

/**
 * One HTTP/2 connection (a client `Connection` in wasm over a Node socket);
 * many requests at once are multiplexed on it.
 */
export class Session {
  #conn;
  #socket;
  #streams = new Map();
  #error = null;
  #closed = false;
  #flushQueued = false;
  #writeBlocked = false;
  #timer = null;
  #pausedBy = new Set();
  #waiting = [];
  #closeWaiters = [];
  #settled;
  #options;
  #origin;
  goaway = null;
  /** Bytes read from the socket so far. */
  bytesRead = 0;

  constructor(socket, url, options = {}) {
    this.#socket = socket;
    this.#options = options;
    this.#origin = `${url.protocol}//${url.host}`;
    this.#conn = new Connection('client', options.settings);
    this.#conn.handleTimeout(now());
    socket.setNoDelay?.(true);
    this.#settled = new Promise((resolve, reject) => {
      this._settingsResolve = resolve;
      this._settingsReject = reject;
    });
    this.#settled.catch(() => {});
    socket.on('data', (chunk) => this.#onData(chunk));
    socket.on('error', (e) =>
      this.#fail(new H2OError('ERR_H2O_CONNECTION_CLOSED', `connection to ${this.#origin} failed: ${e.message}`, { cause: e })),
    );
    socket.on('close', () => {
      this.#fail(new H2OError('ERR_H2O_CONNECTION_CLOSED', `connection to ${this.#origin} closed before the response was complete`));
      // Release the wasm-side connection now rather than at GC finalization;
      // every path that could still touch it checks #error (set just above).
      this.#conn.free();
      for (const w of this.#closeWaiters.splice(0)) w();
    });
    if (socket.destroyed) {
      queueMicrotask(() => this.#fail(new H2OError('ERR_H2O_CONNECTION_CLOSED', `connection to ${this.#origin} closed`)));
    } else {
      this.#flush();
    }
  }

  /** `scheme://host:port` this session talks to. */
  get origin() {
    return this.#origin;
  }

  /** True once the session can take no new requests (closed, failed or GOAWAY received). */
  get closed() {
    return this.#closed || this.#error !== null || this.goaway !== null;
  }

  /** Requests in flight (open streams plus those waiting for the peer stream limit). */
  get activeStreams() {
    return this.#streams.size + this.#waiting.length;
  }

  /** Resolves when the peer's SETTINGS arrived (the peer speaks HTTP/2). */
  ready() {
    return this.#settled;
  }

  #onData(chunk) {
    this.bytesRead += chunk.length;
    if (this.#error) return;
    try {
      this.#conn.receive(chunk, now());
    } catch (e) {
      this.#flush();
      this.#fail(e.code ? e : new H2OError('ERR_H2O_PROTOCOL', String(e.message ?? e)));
      this.#socket.end();
      return;
    }
    this.#process();
  }

  #process() {
    // Writing can produce events (SendReady once a stream's queue drained), so
    // poll again after every flush that wrote something.
    for (;;) {
      if (this.#error) return;
      if (this.#pausedBy.size === 0) {
        for (let ev = this.#conn.pollEvent(); ev !== undefined; ev = this.#conn.pollEvent()) {
          this.#dispatch(ev);
          if (this.#pausedBy.size !== 0 || this.#error) break;
        }
      }
      if (!this.#flush()) break;
    }
    this.#arm();
  }

  #dispatch(ev) {
    const s = ev.streamId === undefined ? undefined : this.#streams.get(ev.streamId);
    switch (ev.type) {
      case 'response':
        if (!s) break;
        // 1xx heads are informational; the final head follows.
        if (ev.status >= 200) s.onResponse(ev.status, ev.headers, ev.endStream);
        if (ev.endStream) {
          s.recvDone = true;
          s.onEnd();
        }
        break;
      case 'data':
        if (s) {
          s.onData(ev.data);
          if (ev.endStream) {
            s.recvDone = true;
            s.onEnd();
          }
        }
        break;
      case 'trailers':
        if (s) {
          s.trailers = ev.headers;
          s.recvDone = true;
          s.onEnd();
        }
        break;
      case 'closed':
        if (s) {
          if (!s.recvDone) s.onEnd();
          this.#forget(ev.streamId);
        }
        break;
      case 'reset':
        if (s) {
          this.#forget(ev.streamId);
          if (!s.recvDone) {
            const refused = this.goaway && ev.codeName === 'REFUSED_STREAM';
            s.onError(
              refused
                ? new H2OError('ERR_H2O_GOAWAY', `request refused: ${this.#origin} sent GOAWAY ${this.goaway.codeName}`, { h2Code: ev.codeName })
                : new H2OError('ERR_H2O_RESET', `stream reset by ${ev.remote ? 'the server' : 'us after a stream error'}: ${ev.codeName}`, { h2Code: ev.codeName }),
            );
          }
        }
        break;
      case 'sendReady':
        if (s?.onSendReady) {
          const wake = s.onSendReady;
          s.onSendReady = undefined;
          wake();
        }
        break;
      case 'settings':
        this._settingsResolve();
        if (this.#waiting.length !== 0) queueMicrotask(() => this.#startWaiting());
        break;
      case 'goaway':
        this.goaway = ev;
        if (ev.code !== 0) {
          // Streams the server did process still end with their own events.
        }
        break;
      default:
        break;
    }
  }

  #forget(id) {
    const rec = this.#streams.get(id);
    this.#streams.delete(id);
    rec?.onSendReady?.(); // wakes a body pump waiting on this stream
    if (this.#pausedBy.delete(id) && this.#pausedBy.size === 0) {
      this.#socket.resume();
      queueMicrotask(() => this.#process());
    }
    if (this.#waiting.length !== 0) queueMicrotask(() => this.#startWaiting());
    if (this.#streams.size === 0 && this.#waiting.length === 0 && this.#options.unrefWhenIdle) this.#socket.unref();
  }

  #fail(err) {
    if (this.#error) return;
    this.#error = err;
    this._settingsReject(err);
    clearTimeout(this.#timer);
    for (const [id, s] of this.#streams) {
      this.#streams.delete(id);
      s.onSendReady?.();
      if (!s.recvDone) s.onError(err);
    }
    for (const { handlers } of this.#waiting.splice(0)) handlers.onError(err);
  }

  #queueFlush() {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      this.#process();
    });
  }

  /** Writes the core's output to the socket; true if anything was written. */
  #flush() {
    if (this.#writeBlocked || this.#socket.destroyed || this.#error) return false;
    let wrote = false;
    for (;;) {
      const out = this.#conn.takeOutput(now());
      if (out.length === 0) break;
      wrote = true;
      if (!this.#socket.write(out)) {
        this.#writeBlocked = true;
        this.#socket.once('drain', () => {
          this.#writeBlocked = false;
          this.#process();
        });
        return wrote;
      }
    }
    if (this.#conn.isClosed() && !this.#socket.writableEnded) this.#socket.end();
    return wrote;
  }

  #arm() {
    clearTimeout(this.#timer);
    if (this.#error) return;
    const t = this.#conn.pollTimeout();
    if (t === undefined) return;
    this.#timer = setTimeout(() => {
      this.#conn.handleTimeout(now());
      this.#process();
      if (this.#conn.isClosed() && !this.#error) {
        this.#fail(new H2OError('ERR_H2O_TIMEOUT', `${this.#origin} did not acknowledge SETTINGS in time`));
      }
    }, Math.max(0, t - now()));
    this.#timer.unref();
  }

  // Streams are driven through their record (the `handlers` object given to
  // `_open`): `rec.id` is the stream id once opened. A request above the
  // peer's MAX_CONCURRENT_STREAMS waits in `#waiting` until a stream ends.

  /** @internal Stops taking events (and so stops opening flow-control windows) for `rec`. */
  _pause(rec) {
    if (rec.id === undefined) return;
    if (this.#pausedBy.size === 0) this.#socket.pause();
    this.#pausedBy.add(rec.id);
  }

  /** @internal */
  _resume(rec) {
    if (!this.#pausedBy.delete(rec.id) || this.#pausedBy.size !== 0) return;
    this.#socket.resume();
    queueMicrotask(() => this.#process());
  }

  /**
   * @internal Opens a stream (or queues it while the peer's stream limit is
   * reached); `handlers` gets onResponse/onData/onEnd/onError and is the
   * stream's record for the other `_` methods. Bad arguments throw.
   */
  _open({ method = 'GET', path = '/', headers, body, protocol }, handlers) {
    if (this.#error) throw this.#error;
    if (this.#closed) throw new H2OError('ERR_H2O_CONNECTION_CLOSED', 'session is closed');
    if (typeof path !== 'string' || !path.startsWith('/')) {
      throw new H2OError('ERR_H2O_INVALID_ARG', `path must start with "/" (got ${path})`);
    }
    const streaming = isStreamBody(body);
    const req = {
      method: String(method).toUpperCase(),
      url: this.#origin + path,
      pairs: headerPairs(headers),
      bytes: streaming ? null : toBytes(body),
      stream: streaming ? body : null,
      protocol,
    };
    handlers.recvDone = false;
    handlers.id = undefined;
    if (this.#waiting.length !== 0 || !this.#start(req, handlers)) this.#waiting.push({ req, handlers });
    if (this.#options.unrefWhenIdle) this.#socket.ref();
    return handlers;
  }

  /** Opens `req` in the core; false if the peer's stream limit is reached. */
  #start(req, handlers) {
    let id;
    try {
      id =
        req.protocol === 'websocket'
          ? this.#conn.requestWebSocket(req.url)
          : this.#conn.request(req.method, req.url, req.pairs, req.bytes === null && req.stream === null, undefined);
    } catch (e) {
      if (e.code === 'ERR_H2O_STREAM_LIMIT') return false;
      throw e;
    }
    if (req.bytes !== null) this.#conn.sendData(id, req.bytes, true);
    handlers.id = id;
    this.#streams.set(id, handlers);
    this.#queueFlush();
    if (req.stream !== null) this.#pump(handlers, req.stream);
    return true;
  }

  /**
   * Sends a streaming request body: a chunk at a time, waiting while more
   * than UPLOAD_HIGH bytes are queued in the core (flow control holds them
   * back until the server reads), so a slow server slows the source down.
   */
  async #pump(rec, src) {
    const live = () => !this.#error && this.#streams.get(rec.id) === rec;
    try {
      for await (const chunk of src) {
        if (!live()) return;
        const b = toBytes(chunk, 'body chunk');
        if (b.byteLength === 0) continue;
        this.#conn.sendData(rec.id, b, false);
        this.#queueFlush();
        while (live() && (this.#conn.queuedLength(rec.id) ?? 0) > UPLOAD_HIGH) {
          await new Promise((r) => (rec.onSendReady = r));
        }
      }
      if (!live()) return;
      this.#conn.sendData(rec.id, EMPTY, true);
      this.#queueFlush();
    } catch (e) {
      if (!live()) return;
      this._reset(rec);
      rec.onError(e?.code ? e : new H2OError('ERR_H2O_BODY', `request body stream failed: ${e?.message ?? e}`, { cause: e }));
    }
  }

  /** Starts waiting requests while the peer's stream limit allows. */
  #startWaiting() {
    while (this.#waiting.length !== 0 && !this.#error) {
      const { req, handlers } = this.#waiting[0];
      let started;
      try {
        started = this.#start(req, handlers);
      } catch (e) {
        this.#waiting.shift();
        handlers.onError(e);
        continue;
      }
      if (!started) return;
      this.#waiting.shift();
    }
  }

  /** @internal */
  _send(rec, bytes, end) {
    if (this.#error) throw this.#error;
    if (rec.id === undefined) throw new H2OError('ERR_H2O_INVALID_STREAM', 'stream not open yet');
    this.#conn.sendData(rec.id, bytes, end);
    this.#queueFlush();
  }

  /** @internal Cancels a stream (RST_STREAM `code`, default CANCEL) or a waiting request. */
  _reset(rec, code = 8) {
    if (rec === undefined) return;
    const w = this.#waiting.findIndex((x) => x.handlers === rec);
    if (w >= 0) {
      this.#waiting.splice(w, 1);
      return;
    }
    if (rec.id === undefined || this.#streams.get(rec.id) !== rec) return;
    this.#forget(rec.id);
    try {
      this.#conn.reset(rec.id, code);
    } catch {
      // already gone in the core
    }
    this.#queueFlush();
  }

  /**
   * Sends a request and resolves to `{ status, headers, trailers, body }` once the
   * whole response arrived. `timeout` (ms, default 60000) covers the whole exchange.
   */
  request(opts = {}) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      let total = 0;
      let head = null;
      let rec;
      const timeout = opts.timeout ?? this.#options.timeout ?? 60_000;
      const timer = setTimeout(() => {
        this._reset(rec);
        reject(new H2OError('ERR_H2O_TIMEOUT', `request ${opts.path ?? '/'} timed out after ${timeout} ms`));
      }, timeout);
      const done = (fn, v) => {
        clearTimeout(timer);
        fn(v);
      };
      const handlers = {
        onResponse: (status, headers) => (head = { status, headers }),
        onData: (d) => {
          chunks.push(d);
          total += d.byteLength;
        },
        onEnd: () => {
          if (!head) return done(reject, new H2OError('ERR_H2O_PROTOCOL', 'stream ended without a response'));
          done(resolve, {
            status: head.status,
            headers: headerObject(head.headers),
            trailers: headerObject(handlers.trailers ?? []),
            body: total === 0 ? EMPTY : concat(chunks, total),
          });
        },
        onError: (e) => done(reject, e),
      };
      try {
        rec = this._open(opts, handlers);
      } catch (e) {
        done(reject, e);
      }
    });
  }

  /** Graceful close: GOAWAY, open streams finish, then the socket closes. */
  close() {
    if (this.#socket.destroyed) return Promise.resolve();
    const p = new Promise((resolve) => this.#closeWaiters.push(resolve));
    this.#closed = true;
    if (!this.#error) this.#conn.shutdown(0);
    this.#flush();
    const t = setTimeout(() => this.#socket.destroy(), this.#options.closeTimeout ?? 5000);
    t.unref();
    return p;
  }

  /** Closes the socket at once; open requests fail with ERR_H2O_CONNECTION_CLOSED. */
  destroy() {
    this.#closed = true;
    this.#socket.destroy();
  }
}

/**
 * Connects to `url` (`http://` for h2c prior knowledge, `https://` for TLS
 * with ALPN h2) and resolves once the server's SETTINGS arrived.
 */
export async function connect(url, options = {}) {
  const u = parseUrl(url, ['http:', 'https:']);
  const socket = await openSocket(u, options, ['h2']);
  const session = new Session(socket, u, options);
  const timeout = options.connectTimeout ?? 10_000;
  let timer;
  try {
    await Promise.race([
      session.ready(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new H2OError('ERR_H2O_TIMEOUT', `${u.host} sent no HTTP/2 SETTINGS within ${timeout} ms`)),
          timeout,
        );
      }),
    ]);
  } catch (e) {
    session.destroy();
    throw e.code === 'ERR_H2O_CONNECTION_CLOSED'
      ? new H2OError('ERR_H2O_PROTOCOL', `${u.host} closed the connection before HTTP/2 SETTINGS (not an h2c server?)`, { cause: e })
      : e;
  } finally {
    clearTimeout(timer);
  }
  return session;
}

// --- fetch -----------------------------------------------------------------

const pool = new Map();

async function pooledSession(u, options) {
  const origin = `${u.protocol}//${u.host}`;
  let entry = pool.get(origin);
  if (entry) {
    const s = await entry.catch(() => null);
    if (s && !s.closed) return s;
    if (pool.get(origin) === entry) pool.delete(origin);
  }
  entry = connect(u, { ...options, unrefWhenIdle: true });
  pool.set(origin, entry);
  entry.catch(() => pool.get(origin) === entry && pool.delete(origin));
  return entry;
}

/** Closes every pooled `fetch` session. */
export async function closeAll() {
  const entries = [...pool.values()];
  pool.clear();
  await Promise.all(entries.map((e) => e.then((s) => s.close(), () => {})));
}

const NULL_BODY = new Set([101, 103, 204, 205, 304]);


/**
 * WHATWG-style `fetch` over HTTP/2 (one pooled session per origin). Resolves
 * to a global `Response` whose `body` streams; a slow reader stops the
 * connection's reads, so flow-control windows stay closed (backpressure).
 * `init`: method, headers, body, signal, plus `timeout` (ms to the response
 * head, default 60000) and connect options (`ca`, `connectTimeout`, …).
 */
export async function fetch(input, init = {}) {
  const req = typeof Request !== 'undefined' && input instanceof Request ? input : null;
  const u = parseUrl(req ? req.url : input, ['http:', 'https:']);
  const method = (init.method ?? req?.method ?? 'GET').toUpperCase();
  const hinit = init.headers ?? req?.headers;
  // No Headers object for the common header-less GET (it costs ~5% of a request).
  const headers = hinit === undefined ? null : new Headers(hinit);
  let body = init.body ?? null;
  if (body === null && req && req.body) body = req.body;
  else if (typeof Blob !== 'undefined' && body instanceof Blob) body = new Uint8Array(await body.arrayBuffer());
  const pairs = [];
  headers?.forEach((v, n) => pairs.push([n, v]));
  if (body !== null && typeof body === 'string' && !headers?.has('content-type')) {
    pairs.push(['content-type', 'text/plain;charset=UTF-8']);
  }
  const signal = init.signal ?? req?.signal;
  if (signal?.aborted) throw signal.reason ?? new DOMException('aborted', 'AbortError');
  const path = u.pathname + u.search;
  if (init.session) return fetchOn(init.session, u, path, method, pairs, body, signal, init);
  const session = await pooledSession(u, init);
  try {
    return await fetchOn(session, u, path, method, pairs, body, signal, init);
  } catch (e) {
    // Refused by a GOAWAY (never processed, RFC 9113 §6.8): once more on a new
    // pooled connection, unless the body was a stream that is already consumed.
    if (e.code !== 'ERR_H2O_GOAWAY' || isStreamBody(body)) throw e;
    return fetchOn(await pooledSession(u, init), u, path, method, pairs, body, signal, init);
  }
}

/** One fetch attempt on `session`. */
function fetchOn(session, u, path, method, pairs, body, signal, init) {
  return new Promise((resolve, reject) => {
    let controller = null;
    let rec;
    let settled = false;
    const timeout = init.timeout ?? 60_000;
    const timer = setTimeout(() => {
      session._reset(rec);
      fail(new H2OError('ERR_H2O_TIMEOUT', `${u.href}: no response within ${timeout} ms`));
    }, timeout);
    const fail = (e) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (!settled) {
        settled = true;
        reject(e);
      } else if (controller) {
        try {
          controller.error(e);
        } catch {
          // stream already closed
        }
      }
    };
    const onAbort = () => {
      session._reset(rec);
      fail(signal.reason ?? new DOMException('aborted', 'AbortError'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    // The Response is built one microtask after the head arrived, so a body
    // that came in the same read (small responses) is handed over whole
    // instead of through a ReadableStream; larger bodies stream.
    let early = null; // chunks received before the Response exists
    let ended = false;
    const build = (status, hdrs) => {
      if (settled) return;
      settled = true;
      const h = new Headers();
      for (const [n, v] of hdrs) h.append(n, v);
      let body = null;
      if (!NULL_BODY.has(status) && method !== 'HEAD') {
        if (ended) {
          body = concat(early, early.reduce((n, c) => n + c.byteLength, 0));
        } else {
          body = new ReadableStream(
            {
              start: (c) => {
                controller = c;
                for (const chunk of early) c.enqueue(chunk);
              },
              pull: () => session._resume(rec),
              cancel: () => session._reset(rec),
            },
            { highWaterMark: 1 << 20, size: (chunk) => chunk.byteLength },
          );
        }
      }
      early = null;
      const res = new Response(body, { status, headers: h });
      Object.defineProperty(res, 'url', { value: u.href });
      resolve(res);
    };
    const handlers = {
      onResponse: (status, hdrs) => {
        clearTimeout(timer);
        early = [];
        queueMicrotask(() => build(status, hdrs));
      },
      onData: (d) => {
        if (early) {
          early.push(d);
          return;
        }
        if (!controller) return;
        controller.enqueue(d);
        if (controller.desiredSize <= 0) session._pause(rec);
      },
      onEnd: () => {
        signal?.removeEventListener('abort', onAbort);
        if (early) {
          ended = true;
          return;
        }
        if (!settled) return fail(new H2OError('ERR_H2O_PROTOCOL', 'stream ended without a response'));
        try {
          controller?.close();
        } catch {
          // already closed
        }
      },
      onError: fail,
    };
    try {
      rec = session._open({ method, path, headers: pairs, body }, handlers);
    } catch (e) {
      fail(e);
    }
  });
}

// --- WebSocket -------------------------------------------------------------

/**
 * A WebSocket like the browser's (`send`, `close`, `readyState`,
 * `addEventListener('open' | 'message' | 'close' | 'error')`). Text arrives as
 * `string`, binary as `Uint8Array`. Created by {@link openWebSocket}.
 */
export class WebSocket extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  readyState = 0;
  url;
  #codec;
  #write;
  #end;
  #closeInfo = null;

  #handlers = {};

  /** @internal */
  constructor(url, codec, write, end) {
    super();
    this.url = url;
    this.#codec = codec;
    this.#write = write;
    this.#end = end;
  }

  /** @internal Bytes from the transport. */
  _receive(bytes) {
    if (this.readyState === 3) return;
    try {
      this.#codec.receive(bytes);
    } catch (e) {
      // Messages before the violation are still delivered; then the close
      // frame (1002/1007/1009) goes out and the transport ends.
      this.#deliver();
      this.#flush();
      this.#end();
      this.#emitError(e);
      this._finish(e.closeCode ?? 1006, e.message, false);
      return;
    }
    this.#drain();
    this.#flush();
  }

  #drain() {
    this.#deliver();
    if (this.#codec.isClosed()) {
      this.#flush();
      const c = this.#closeInfo ?? { code: 1006, reason: '' };
      this.#end();
      this._finish(c.code, c.reason, true);
    }
  }

  #deliver() {
    for (let ev = this.#codec.pollEvent(); ev !== undefined; ev = this.#codec.pollEvent()) {
      if (ev.type === 'message') {
        this.dispatchEvent(new MessageEvent('message', { data: ev.data }));
      } else if (ev.type === 'close') {
        this.#closeInfo = { code: ev.code, reason: ev.reason };
        this.readyState = 2;
      }
    }
  }

  #flush() {
    const out = this.#codec.takeOutput();
    if (out.length) this.#write(out);
  }

  #emitError(e) {
    const ev = new Event('error');
    ev.error = e;
    this.dispatchEvent(ev);
  }

  /** @internal The transport ended (or the close handshake finished). */
  _finish(code, reason, wasClean) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    // Every codec use checks readyState first; free it once this call is done.
    const codec = this.#codec;
    queueMicrotask(() => codec.free());
    const ev = new Event('close');
    Object.assign(ev, { code, reason, wasClean });
    this.dispatchEvent(ev);
  }

  /** @internal */
  _transportClosed() {
    if (this.readyState !== 3) {
      if (!this.#codec.isClosed()) this.#emitError(new H2OError('ERR_H2O_CONNECTION_CLOSED', 'connection closed without a WebSocket close handshake'));
      this._finish(this.#closeInfo?.code ?? 1006, this.#closeInfo?.reason ?? '', false);
    }
  }

  /** Browser-style `onopen`/`onmessage`/`onclose`/`onerror` handler properties. */
  static {
    for (const type of ['open', 'message', 'close', 'error']) {
      Object.defineProperty(this.prototype, `on${type}`, {
        get() {
          return this.#handlers[type] ?? null;
        },
        set(fn) {
          const old = this.#handlers[type];
          if (old) this.removeEventListener(type, old);
          this.#handlers[type] = typeof fn === 'function' ? fn : null;
          if (this.#handlers[type]) this.addEventListener(type, this.#handlers[type]);
        },
      });
    }
  }

  /** Sends a text (`string`) or binary (bytes) message. */
  send(data) {
    if (this.readyState !== 1) throw new H2OError('ERR_H2O_WS_CLOSED', 'WebSocket is not open');
    if (typeof data === 'string') this.#codec.sendText(data);
    else this.#codec.sendBinary(toBytes(data, 'data'));
    this.#flush();
  }

  /** Starts the close handshake (`code` default 1000). */
  close(code = 1000, reason = '') {
    if (this.readyState >= 2) return;
    this.#codec.close(code, reason);
    this.readyState = 2;
    this.#flush();
  }
}

/**
 * Opens a WebSocket: HTTP/1.1 Upgrade (`ws://`, `http://`; `wss://`/`https://`
 * over TLS), or RFC 8441 over an HTTP/2 session with `{ h2: true }`. Resolves
 * once open.
 */
export async function openWebSocket(url, options = {}) {
  const u = parseUrl(url, ['ws:', 'wss:', 'http:', 'https:']);
  const secure = u.protocol === 'wss:' || u.protocol === 'https:';
  const path = u.pathname + u.search;
  const timeout = options.timeout ?? 10_000;
  if (options.h2) {
    const httpUrl = new URL(u.href);
    httpUrl.protocol = secure ? 'https:' : 'http:';
    const session = options.session ?? (await connect(httpUrl, options));
    const codec = new WebSocketCodec('client', options);
    const ownSession = !options.session;
    return new Promise((resolveWs, rejectWs) => {
      let ws;
      let rec;
      const resolve = resolveWs;
      const reject = (e) => {
        if (ownSession) session.close();
        rejectWs(e);
      };
      const timer = setTimeout(() => {
        session._reset(rec);
        reject(new H2OError('ERR_H2O_TIMEOUT', `WebSocket handshake with ${u.host} timed out`));
      }, timeout);
      const handlers = {
        onResponse: (status) => {
          clearTimeout(timer);
          try {
            WebSocketCodec.verifyH2Response(status);
          } catch (e) {
            session._reset(rec);
            reject(e);
            return;
          }
          ws.readyState = 1;
          resolve(ws);
          ws.dispatchEvent(new Event('open'));
        },
        onData: (d) => ws._receive(d),
        onEnd: () => {
          ws._transportClosed();
          if (ownSession) session.close();
        },
        onError: (e) => {
          clearTimeout(timer);
          if (ws.readyState === 0) reject(e);
          else {
            ws._transportClosed();
            if (ownSession) session.close();
          }
        },
      };
      try {
        rec = session._open({ method: 'CONNECT', path, protocol: 'websocket' }, handlers);
      } catch (e) {
        clearTimeout(timer);
        reject(e);
        return;
      }
      ws = new WebSocket(
        u.href,
        codec,
        (bytes) => session._send(rec, bytes, false),
        () => {
          try {
            session._send(rec, EMPTY, true);
          } catch {
            // stream already finished
          }
        },
      );
    });
  }
  const socket = await openSocket(u, options, ['http/1.1']);
  socket.setNoDelay(true);
  const httpUrl = `http://${u.host}${path}`;
  const hs = WebSocketCodec.clientHandshake(httpUrl);
  return new Promise((resolve, reject) => {
    let buf = EMPTY;
    let ws = null;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new H2OError('ERR_H2O_TIMEOUT', `WebSocket handshake with ${u.host} timed out`));
    }, timeout);
    socket.on('data', (chunk) => {
      if (ws) return ws._receive(chunk);
      buf = buf.length ? concat([buf, chunk], buf.length + chunk.length) : chunk;
      let n;
      try {
        n = WebSocketCodec.parseHandshakeResponse(buf, hs.key);
      } catch (e) {
        clearTimeout(timer);
        socket.destroy();
        reject(e);
        return;
      }
      if (n === 0) return;
      clearTimeout(timer);
      ws = new WebSocket(
        u.href,
        new WebSocketCodec('client', options),
        (bytes) => socket.write(bytes),
        () => socket.end(),
      );
      ws.readyState = 1;
      resolve(ws);
      ws.dispatchEvent(new Event('open'));
      if (buf.length > n) ws._receive(buf.subarray(n));
    });
    socket.on('error', (e) => {
      if (!ws) {
        clearTimeout(timer);
        reject(new H2OError('ERR_H2O_CONNECTION_CLOSED', `WebSocket connection failed: ${e.message}`, { cause: e }));
      }
    });
    socket.on('close', () => {
      if (ws) ws._transportClosed();
      else {
        clearTimeout(timer);
        reject(new H2OError('ERR_H2O_WS_HANDSHAKE', `${u.host} closed the connection during the WebSocket handshake`));
      }
    });
    socket.write(hs.request);
  });
}
