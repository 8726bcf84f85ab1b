// session.request and fetch against real HTTP/2 servers on 127.0.0.1:
// `h2o serve` (this repo's) and nghttpd (nghttp2). Bodies are compared byte
// for byte with the files served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { installPackage, docroot, startH2o, startNghttpd, bytes, SIZES, sameBytes } from '../testing/helpers.mjs';

let h2o;
let servers;
let root;

before(async () => {
  h2o = await installPackage();
  root = docroot();
  servers = { 'h2o serve': await startH2o(root), nghttpd: await startNghttpd(root) };
});

after(async () => {
  await h2o.closeAll();
  for (const s of Object.values(servers)) s.stop();
});

for (const name of ['h2o serve', 'nghttpd']) {
  test(`${name}: session.request bodies 0 B .. 5 MiB are byte-exact`, async () => {
    const session = await h2o.connect(servers[name].url);
    for (const n of SIZES) {
      const r = await session.request({ path: `/b${n}` });
      assert.equal(r.status, 200, `/b${n}`);
      assert.equal(sameBytes(r.body, bytes(n, n + 1)), null, `/b${n}`);
    }
    await session.close();
    assert.equal(session.closed, true);
  });

  test(`${name}: 100 concurrent requests multiplexed on one session`, async () => {
    const session = await h2o.connect(servers[name].url);
    const paths = Array.from({ length: 100 }, (_, i) => `/b${SIZES[i % 8]}`);
    const pending = paths.map((path) => session.request({ path }));
    assert.ok(session.activeStreams > 1, 'requests are in flight together');
    const all = await Promise.all(pending);
    all.forEach((r, i) => {
      const n = SIZES[i % 8];
      assert.equal(r.status, 200);
      assert.equal(sameBytes(r.body, bytes(n, n + 1)), null, paths[i]);
    });
    await session.close();
  });

  test(`${name}: fetch streams byte-exact bodies; 404; HEAD`, async () => {
    for (const n of [0, 16_385, 5 << 20]) {
      const res = await h2o.fetch(`${servers[name].url}/b${n}`);
      assert.equal(res.status, 200);
      assert.equal(res.ok, true);
      const body = new Uint8Array(await res.arrayBuffer());
      assert.equal(sameBytes(body, bytes(n, n + 1)), null, `/b${n}`);
    }
    const text = await (await h2o.fetch(`${servers[name].url}/index.html`)).text();
    assert.equal(text, 'hello from the docroot\n');
    const missing = await h2o.fetch(`${servers[name].url}/nope`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    const head = await h2o.fetch(`${servers[name].url}/b65536`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '65536');
    assert.equal(head.body, null);
  });
}

test('nghttpd: POST bodies are echoed byte-exact (session.request and fetch)', async () => {
  const session = await h2o.connect(servers.nghttpd.url);
  for (const n of [0, 1, 100_000, 1 << 20, 5 << 20]) {
    const body = bytes(n, 77 + n);
    const r = await session.request({ method: 'POST', path: '/echo', body });
    assert.equal(r.status, 200, `POST ${n}`);
    assert.equal(sameBytes(r.body, body), null, `POST ${n}`);
  }
  await session.close();
  const res = await h2o.fetch(`${servers.nghttpd.url}/echo`, { method: 'POST', body: 'a string body' });
  assert.equal(await res.text(), 'a string body');
});

test('nghttpd: trailers arrive with the response', async () => {
  const session = await h2o.connect(servers.nghttpd.url);
  const r = await session.request({ path: '/b100' });
  assert.equal(r.status, 200);
  assert.equal(r.trailers['x-trailer'], 't1');
  assert.equal(sameBytes(r.body, bytes(100, 101)), null);
  await session.close();
});

test('fetch: a slow reader is backpressure (the window stays closed)', async () => {
  const session = await h2o.connect(servers['h2o serve'].url, {
    settings: { initialWindowSize: 65_535, connectionWindowSize: 65_535, adaptiveWindow: false },
  });
  const n = 5 << 20;
  const res = await h2o.fetch(`${servers['h2o serve'].url}/b${n}`, { session });
  await new Promise((r) => setTimeout(r, 500));
  // Unread: at most the stream's queue (1 MiB high-water mark) plus one window
  // and socket chunks have been read from the socket, not 5 MiB.
  assert.ok(session.bytesRead < 2 << 20, `read ${session.bytesRead} bytes without a reader`);
  const body = new Uint8Array(await res.arrayBuffer());
  assert.equal(sameBytes(body, bytes(n, n + 1)), null);
  assert.ok(session.bytesRead >= n);
  await session.close();
});

test('fetch pools one session per origin', async () => {
  const url = servers['h2o serve'].url;
  const all = await Promise.all(Array.from({ length: 20 }, () => h2o.fetch(`${url}/b100`).then((r) => r.arrayBuffer())));
  assert.equal(all.length, 20);
  for (const b of all) assert.equal(sameBytes(new Uint8Array(b), bytes(100, 101)), null);
});

test('requests above the peer MAX_CONCURRENT_STREAMS wait for a free stream', async () => {
  const limited = await startNghttpd(root, ['-m', '4']);
  try {
    const session = await h2o.connect(limited.url);
    const pending = Array.from({ length: 60 }, (_, i) => session.request({ path: `/b${SIZES[i % 9]}` }));
    assert.equal(session.activeStreams, 60);
    const all = await Promise.all(pending);
    all.forEach((r, i) => assert.equal(sameBytes(r.body, bytes(SIZES[i % 9], SIZES[i % 9] + 1)), null));
    await session.close();
  } finally {
    limited.stop();
  }
});

test('nghttpd: streaming request bodies (ReadableStream, async generator) are echoed byte-exact', async () => {
  const n = 5 << 20;
  const body = bytes(n, 4242);
  const chunksOf = (size) => Array.from({ length: Math.ceil(n / size) }, (_, i) => body.subarray(i * size, (i + 1) * size));
  const session = await h2o.connect(servers.nghttpd.url);
  const stream = ReadableStream.from(chunksOf(64 << 10));
  const r1 = await session.request({ method: 'POST', path: '/echo', body: stream });
  assert.equal(sameBytes(r1.body, body), null, 'ReadableStream');
  async function* gen() {
    for (const c of chunksOf(100_000)) yield c;
  }
  const r2 = await session.request({ method: 'POST', path: '/echo', body: gen() });
  assert.equal(sameBytes(r2.body, body), null, 'async generator');
  await session.close();
  const res = await h2o.fetch(`${servers.nghttpd.url}/echo`, { method: 'POST', body: ReadableStream.from(chunksOf(1 << 20)), duplex: 'half' });
  assert.equal(sameBytes(new Uint8Array(await res.arrayBuffer()), body), null, 'fetch');
});
