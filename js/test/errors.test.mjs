// Every error case of the high-level API ends in an Error with a code, never a
// hang and never a silently truncated body. Misbehaving peers are real HTTP/2
// servers (Node's own node:http2, nghttp2 underneath) or raw TCP on 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { installPackage, freePort } from '../testing/helpers.mjs';

let h2o;
const cleanup = [];

before(async () => {
  h2o = await installPackage();
});

after(async () => {
  for (const f of cleanup) await f();
  await h2o.closeAll();
});

/** An h2c server whose `onStream(stream, headers, session)` misbehaves. */
async function h2Server(onStream) {
  const server = http2.createServer();
  const sessions = new Set();
  server.on('session', (s) => sessions.add(s));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {}); // resets are the point of these servers
    onStream(stream, headers, stream.session);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(
    () =>
      new Promise((r) => {
        for (const s of sessions) s.destroy();
        server.close(r);
      }),
  );
  return `http://127.0.0.1:${server.address().port}`;
}

/** A raw TCP server calling `onSocket(socket)`. */
async function tcpServer(onSocket) {
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(
    () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(r);
      }),
  );
  return server.address().port;
}

const code = (c) => (e) => {
  assert.equal(e.code, c, `${e.code}: ${e.message}`);
  assert.ok(e instanceof Error);
  return true;
};

test('bad URLs: ERR_H2O_INVALID_URL', async () => {
  await assert.rejects(h2o.connect('not a url'), code('ERR_H2O_INVALID_URL'));
  await assert.rejects(h2o.connect('ftp://127.0.0.1/'), code('ERR_H2O_INVALID_URL'));
  await assert.rejects(h2o.fetch('mailto:a@b'), code('ERR_H2O_INVALID_URL'));
  await assert.rejects(h2o.openWebSocket('gopher://127.0.0.1/'), code('ERR_H2O_INVALID_URL'));
});

test('refused connection: ERR_H2O_CONNECT', async () => {
  const port = await freePort();
  await assert.rejects(h2o.connect(`http://127.0.0.1:${port}`), code('ERR_H2O_CONNECT'));
  await assert.rejects(h2o.fetch(`http://127.0.0.1:${port}/`), code('ERR_H2O_CONNECT'));
});

test('a server that never speaks: ERR_H2O_TIMEOUT', async () => {
  const port = await tcpServer(() => {});
  await assert.rejects(h2o.connect(`http://127.0.0.1:${port}`, { connectTimeout: 300 }), code('ERR_H2O_TIMEOUT'));
});

test('an HTTP/1.1 server: ERR_H2O_PROTOCOL', async () => {
  const port = await tcpServer((s) => s.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n'));
  await assert.rejects(h2o.connect(`http://127.0.0.1:${port}`), code('ERR_H2O_PROTOCOL'));
});

test('stream reset by the server: ERR_H2O_RESET with h2Code', async () => {
  const url = await h2Server((stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
  const session = await h2o.connect(url);
  await assert.rejects(session.request({ path: '/' }), (e) => {
    assert.equal(e.code, 'ERR_H2O_RESET');
    assert.equal(e.h2Code, 'INTERNAL_ERROR');
    return true;
  });
  // The session survives a stream reset.
  await assert.rejects(session.request({ path: '/' }), code('ERR_H2O_RESET'));
  session.destroy();
  await assert.rejects(h2o.fetch(`${url}/x`), code('ERR_H2O_RESET'));
});

test('GOAWAY: streams above last-stream-id fail with ERR_H2O_GOAWAY, the others finish', async () => {
  const url = await h2Server((stream, headers, session) => {
    if (stream.id === 1) {
      session.goaway(http2.constants.NGHTTP2_NO_ERROR, 1);
      stream.respond({ ':status': 200 });
      stream.end('first');
    }
  });
  const session = await h2o.connect(url);
  const a = session.request({ path: '/1' });
  const b = session.request({ path: '/2' });
  const ra = await a;
  assert.equal(new TextDecoder().decode(ra.body), 'first');
  await assert.rejects(b, (e) => {
    assert.equal(e.code, 'ERR_H2O_GOAWAY');
    assert.equal(e.h2Code, 'REFUSED_STREAM');
    return true;
  });
  assert.equal(session.closed, true);
  await assert.rejects(session.request({ path: '/3' }), code('ERR_H2O_GOAWAY'));
  session.destroy();
});

test('connection lost mid-body: ERR_H2O_CONNECTION_CLOSED, never a truncated body', async () => {
  const url = await h2Server((stream, headers, session) => {
    stream.respond({ ':status': 200, 'content-length': '100000' });
    stream.write(Buffer.alloc(50_000, 1), () => setTimeout(() => session.destroy(), 50));
  });
  const session = await h2o.connect(url);
  await assert.rejects(session.request({ path: '/' }), code('ERR_H2O_CONNECTION_CLOSED'));
  const res = await h2o.fetch(`${url}/streamed`);
  assert.equal(res.status, 200);
  await assert.rejects(res.arrayBuffer(), code('ERR_H2O_CONNECTION_CLOSED'));
});

test('request timeout: ERR_H2O_TIMEOUT, stream cancelled', async () => {
  let reset = null;
  const url = await h2Server((stream) => stream.on('close', () => (reset = stream.rstCode)));
  const session = await h2o.connect(url);
  await assert.rejects(session.request({ path: '/', timeout: 200 }), code('ERR_H2O_TIMEOUT'));
  await assert.rejects(h2o.fetch(`${url}/`, { timeout: 200 }), code('ERR_H2O_TIMEOUT'));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(reset, http2.constants.NGHTTP2_CANCEL);
  session.destroy();
});

test('fetch abort signal rejects with the reason', async () => {
  const url = await h2Server(() => {});
  const ac = new AbortController();
  const p = h2o.fetch(`${url}/`, { signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(p, { name: 'AbortError' });
});

test('bad arguments: ERR_H2O_INVALID_ARG', async () => {
  const url = await h2Server((stream) => {
    stream.respond({ ':status': 200 });
    stream.end();
  });
  const session = await h2o.connect(url);
  await assert.rejects(session.request({ path: 'no-slash' }), code('ERR_H2O_INVALID_ARG'));
  await assert.rejects(session.request({ path: '/', headers: { connection: 'close' } }), code('ERR_H2O_INVALID_ARG'));
  await assert.rejects(session.request({ path: '/', body: 42 }), code('ERR_H2O_INVALID_ARG'));
  await assert.rejects(session.request({ path: '/', headers: { 'x-a': '\u263a' } }), code('ERR_H2O_INVALID_ARG'));
  assert.throws(() => h2o.mask(new Uint8Array(4), new Uint8Array(3)), code('ERR_H2O_INVALID_ARG'));
  assert.throws(() => new h2o.Connection('neither'), code('ERR_H2O_INVALID_ARG'));
  // The session is still fine.
  assert.equal((await session.request({ path: '/' })).status, 200);
  await session.close();
});

test('TLS failures: ERR_H2O_TLS', async () => {
  const port = await tcpServer((s) => s.end('not tls at all\r\n'));
  await assert.rejects(h2o.connect(`https://127.0.0.1:${port}`), code('ERR_H2O_TLS'));
});

test('protocol error from the peer: ERR_H2O_PROTOCOL with h2Code, pending requests fail', async () => {
  // Valid SETTINGS, then a DATA frame on stream 0 (connection PROTOCOL_ERROR).
  const port = await tcpServer((s) => {
    s.once('data', () => {
      s.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      setTimeout(() => s.write(Buffer.from([0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41])), 100);
    });
  });
  const session = await h2o.connect(`http://127.0.0.1:${port}`);
  await assert.rejects(session.request({ path: '/' }), (e) => {
    assert.equal(e.code, 'ERR_H2O_PROTOCOL');
    assert.equal(e.h2Code, 'PROTOCOL_ERROR');
    return true;
  });
  session.destroy();
});

test('upload backpressure: a server that does not read stops the body source', async () => {
  const url = await h2Server((stream) => stream.pause()); // never reads the request body
  const session = await h2o.connect(url);
  let pulled = 0;
  async function* endless() {
    const chunk = new Uint8Array(64 << 10);
    for (;;) {
      pulled += chunk.byteLength;
      yield chunk;
    }
  }
  const p = session.request({ method: 'POST', path: '/', body: endless(), timeout: 700 });
  await assert.rejects(p, code('ERR_H2O_TIMEOUT'));
  // At most the server's window (64 KiB + what Node buffers) plus our 256 KiB queue.
  assert.ok(pulled < 2 << 20, `pulled ${pulled} bytes from the source`);
  session.destroy();
});

test('a failing body stream fails the request: ERR_H2O_BODY', async () => {
  const url = await h2Server((stream) => stream.resume());
  const session = await h2o.connect(url);
  async function* broken() {
    yield new Uint8Array(10);
    throw new Error('disk on fire');
  }
  await assert.rejects(session.request({ method: 'POST', path: '/', body: broken() }), (e) => {
    assert.equal(e.code, 'ERR_H2O_BODY');
    assert.match(e.message, /disk on fire/);
    return true;
  });
  session.destroy();
});

test('WebSocket: a server breaking RFC 6455 gives an error event (ERR_H2O_WS_PROTOCOL) and close 1002', async () => {
  const { createHash } = await import('node:crypto');
  const port = await tcpServer((s) => {
    let head = '';
    s.on('data', (d) => {
      head += d;
      if (!head.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: *(\S+)/i.exec(head)[1];
      const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      // A masked frame from a server is a protocol error (RFC 6455 5.1).
      setTimeout(() => s.write(Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x41 ^ 1])), 50);
      head = '';
    });
  });
  const ws = await h2o.openWebSocket(`ws://127.0.0.1:${port}/`);
  const error = new Promise((r) => ws.addEventListener('error', r, { once: true }));
  const closed = new Promise((r) => ws.addEventListener('close', r, { once: true }));
  const e = await error;
  assert.equal(e.error.code, 'ERR_H2O_WS_PROTOCOL');
  assert.equal(e.error.closeCode, 1002);
  const c = await closed;
  assert.equal(c.code, 1002);
  assert.equal(c.wasClean, false);
});

test('WebSocket: handshake with a wrong accept key is refused', async () => {
  const port = await tcpServer((s) =>
    s.once('data', () => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n')),
  );
  await assert.rejects(h2o.openWebSocket(`ws://127.0.0.1:${port}/`), code('ERR_H2O_WS_HANDSHAKE'));
});

test('fetch retries a request refused by GOAWAY once, on a new pooled connection', async () => {
  let sessions = 0;
  const url = await h2Server((stream, headers, session) => {
    if (!session.counted) {
      session.counted = true;
      sessions++;
    }
    if (stream.id === 1 && sessions === 1) session.goaway(http2.constants.NGHTTP2_NO_ERROR, 1);
    if (stream.id <= 1 || sessions > 1) {
      stream.respond({ ':status': 200 });
      stream.end(`conn ${sessions} ${headers[':path']}`);
    }
  });
  const [a, b] = await Promise.all([h2o.fetch(`${url}/a`), h2o.fetch(`${url}/b`)]);
  assert.equal(await a.text(), 'conn 1 /a');
  assert.equal(await b.text(), 'conn 2 /b');
  assert.equal(sessions, 2);
});
