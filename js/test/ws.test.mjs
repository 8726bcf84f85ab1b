// openWebSocket against `h2o serve --ws-echo /ws` on 127.0.0.1, over
// HTTP/1.1 Upgrade and RFC 8441 (HTTP/2 extended CONNECT).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { installPackage, docroot, startH2o, bytes, sameBytes } from '../testing/helpers.mjs';

let h2o;
let server;

before(async () => {
  h2o = await installPackage();
  server = await startH2o(docroot());
});

after(() => server.stop());

/** Resolves with the next `type` event of `ws`. */
function next(ws, type) {
  return new Promise((resolve) => ws.addEventListener(type, resolve, { once: true }));
}

for (const h2 of [false, true]) {
  const kind = h2 ? 'RFC 8441 (h2)' : 'HTTP/1.1 Upgrade';

  test(`${kind}: text and binary echo, 16 MiB message, close code echoed`, async () => {
    const ws = await h2o.openWebSocket(`ws://127.0.0.1:${server.port}/ws`, { h2 });
    assert.equal(ws.readyState, 1);
    let m = next(ws, 'message');
    ws.send('héllo ✓');
    assert.equal((await m).data, 'héllo ✓');
    m = next(ws, 'message');
    ws.send(bytes(1000, 3));
    const got = (await m).data;
    assert.ok(got instanceof Uint8Array);
    assert.equal(sameBytes(got, bytes(1000, 3)), null);
    const big = bytes(16 << 20, 9);
    m = next(ws, 'message');
    ws.send(big);
    assert.equal(sameBytes((await m).data, big), null, '16 MiB');
    const closed = next(ws, 'close');
    ws.close(4001, 'bye');
    const c = await closed;
    assert.equal(c.code, 4001);
    assert.equal(typeof c.reason, 'string'); // h2o serve echoes the code, not the reason
    assert.equal(c.wasClean, true);
    assert.equal(ws.readyState, 3);
    assert.throws(() => ws.send('late'), { code: 'ERR_H2O_WS_CLOSED' });
  });

  test(`${kind}: close codes 1000 and 3000; invalid code refused`, async () => {
    for (const code of [1000, 3000]) {
      const ws = await h2o.openWebSocket(`ws://127.0.0.1:${server.port}/ws`, { h2 });
      assert.throws(() => ws.close(999), { code: 'ERR_H2O_INVALID_ARG' });
      const closed = next(ws, 'close');
      ws.close(code);
      assert.equal((await closed).code, code);
    }
  });
}

test('browser-style on* handler properties', async () => {
  const ws = await h2o.openWebSocket(`ws://127.0.0.1:${server.port}/ws`);
  const got = await new Promise((resolve) => {
    ws.onmessage = (e) => resolve(e.data);
    ws.send('via onmessage');
  });
  assert.equal(got, 'via onmessage');
  assert.equal(typeof ws.onmessage, 'function');
  const closed = new Promise((resolve) => (ws.onclose = resolve));
  ws.onmessage = null;
  ws.close(1000);
  assert.equal((await closed).code, 1000);
});

test('RFC 8441: several WebSockets share one session', async () => {
  const session = await h2o.connect(`http://127.0.0.1:${server.port}`);
  const a = await h2o.openWebSocket(`ws://127.0.0.1:${server.port}/ws`, { h2: true, session });
  const b = await h2o.openWebSocket(`ws://127.0.0.1:${server.port}/ws`, { h2: true, session });
  const ma = next(a, 'message');
  const mb = next(b, 'message');
  a.send('a');
  b.send('b');
  assert.equal((await ma).data, 'a');
  assert.equal((await mb).data, 'b');
  const r = await session.request({ path: '/index.html' });
  assert.equal(new TextDecoder().decode(r.body), 'hello from the docroot\n');
  const ca = next(a, 'close');
  const cb = next(b, 'close');
  a.close();
  b.close();
  await Promise.all([ca, cb]);
  await session.close();
});

test('handshake refused: ERR_H2O_WS_HANDSHAKE with the status', async () => {
  await assert.rejects(h2o.openWebSocket(`ws://127.0.0.1:${server.port}/not-ws`), (e) => {
    assert.equal(e.code, 'ERR_H2O_WS_HANDSHAKE');
    assert.ok(e.status >= 400, `status ${e.status}`);
    return true;
  });
  await assert.rejects(h2o.openWebSocket(`ws://127.0.0.1:${server.port}/not-ws`, { h2: true }), (e) => {
    assert.equal(e.code, 'ERR_H2O_WS_HANDSHAKE');
    return true;
  });
});
