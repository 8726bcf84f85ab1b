// The low-level classes with a transport the test brings itself (a plain
// net.Socket), against `h2o serve` on 127.0.0.1, and HPACK/mask against
// known vectors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { installPackage, docroot, startH2o, bytes, sameBytes } from '../testing/helpers.mjs';

let h2o;
let server;

before(async () => {
  h2o = await installPackage();
  server = await startH2o(docroot());
});

after(() => server.stop());

test('Connection over a caller-owned socket: GET byte-exact, then GOAWAY', async () => {
  const conn = new h2o.Connection('client', { adaptiveWindow: false });
  const sock = net.connect(server.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const t0 = performance.now();
  const id = conn.request('GET', `http://127.0.0.1:${server.port}/b1048576`, [['user-agent', 'lowlevel-test']], true);
  sock.write(conn.takeOutput(performance.now() - t0));
  const chunks = [];
  let status = 0;
  await new Promise((resolve, reject) => {
    sock.on('data', (d) => {
      try {
        conn.receive(d, performance.now() - t0);
      } catch (e) {
        reject(e);
      }
      for (let ev = conn.pollEvent(); ev; ev = conn.pollEvent()) {
        if (ev.type === 'response') status = ev.status;
        if (ev.type === 'data' && ev.streamId === id) chunks.push(ev.data);
        if (ev.type === 'closed' && ev.streamId === id) resolve();
        if (ev.type === 'reset') reject(new Error(`reset ${ev.codeName}`));
      }
      const out = conn.takeOutput(performance.now() - t0);
      if (out.length) sock.write(out);
    });
  });
  assert.equal(status, 200);
  const body = Buffer.concat(chunks);
  assert.equal(sameBytes(body, bytes(1 << 20, (1 << 20) + 1)), null);
  conn.shutdown();
  sock.write(conn.takeOutput(performance.now() - t0));
  assert.equal(conn.isClosed(), true);
  sock.end();
  conn.free();
});

test('HPACK: RFC 7541 C.4.1 request decodes; encoder output round-trips', () => {
  const dec = new h2o.HpackDecoder();
  const block = Buffer.from('828684418cf1e3c2e5f23a6ba0ab90f4ff', 'hex');
  assert.deepEqual(dec.decode(block), [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', 'www.example.com'],
  ]);
  const enc = new h2o.HpackEncoder();
  const fields = [[':status', '200'], ['set-cookie', 'a=b'], ['x-latin1', 'caf\u00e9']];
  const d2 = new h2o.HpackDecoder();
  for (let i = 0; i < 3; i++) assert.deepEqual(d2.decode(enc.encode(fields)), fields);
  assert.throws(() => d2.decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), { code: 'ERR_H2O_COMPRESSION' });
});

test('mask: RFC 6455 5.7 vector, offsets, simd128 build', () => {
  const b = Buffer.from('Hello');
  h2o.mask(b, Buffer.from([0x37, 0xfa, 0x21, 0x3d]));
  assert.deepEqual([...b], [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  const data = bytes(100_003, 5);
  const whole = Buffer.from(data);
  h2o.mask(whole, Buffer.from([1, 2, 3, 4]));
  const pieces = Buffer.from(data);
  h2o.mask(pieces.subarray(0, 777), Buffer.from([1, 2, 3, 4]), 0);
  h2o.mask(pieces.subarray(777), Buffer.from([1, 2, 3, 4]), 777);
  assert.equal(Buffer.compare(whole, pieces), 0);
  assert.equal(h2o.maskUsesSimd128(), true);
});
