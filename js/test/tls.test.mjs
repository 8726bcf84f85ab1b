// https: (Node `tls`, ALPN h2) against nginx with TLS + HTTP/2, started on
// 127.0.0.1 with a temp config and an openssl-made certificate. (h2o serve
// has no TLS yet; switch to `h2o serve --tls-cert` once it does.) Also wss:
// against Node `ws` (the tests/ws interop peer) on an https server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { installPackage, docroot, tempDir, freePort, waitConnectable, bytes, SIZES, sameBytes, PKG_DIR } from '../testing/helpers.mjs';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(existsSync);
let h2o;
let url;
let ca;
let nginx;

before(async () => {
  assert.ok(NGINX, 'nginx missing (apt-get install nginx; scripts/test.sh does)');
  h2o = await installPackage();
  const dir = tempDir('h2o-js-tls-');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  ca = readFileSync(join(dir, 'cert.pem'));
  const port = await freePort();
  const root = docroot();
  mkdirSync(join(dir, 'logs'));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log stderr error;
events {}
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    root ${root};
  }
}
`,
  );
  nginx = spawn(NGINX, ['-p', dir, '-e', 'stderr', '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  process.on('exit', () => nginx.kill('SIGKILL'));
  await waitConnectable(port);
  url = `https://127.0.0.1:${port}`;
});

after(async () => {
  await h2o.closeAll();
  nginx?.kill();
});

test('nginx over TLS: session.request byte-exact, 100 concurrent, fetch', async () => {
  const session = await h2o.connect(url, { ca });
  for (const n of SIZES) {
    const r = await session.request({ path: `/b${n}` });
    assert.equal(r.status, 200);
    assert.equal(sameBytes(r.body, bytes(n, n + 1)), null, `/b${n}`);
  }
  const all = await Promise.all(Array.from({ length: 100 }, (_, i) => session.request({ path: `/b${SIZES[i % 8]}` })));
  all.forEach((r, i) => assert.equal(sameBytes(r.body, bytes(SIZES[i % 8], SIZES[i % 8] + 1)), null));
  await session.close();
  const res = await h2o.fetch(`${url}/b65536`, { ca });
  assert.equal(sameBytes(new Uint8Array(await res.arrayBuffer()), bytes(65_536, 65_537)), null);
});

test('untrusted certificate: ERR_H2O_TLS', async () => {
  await assert.rejects(h2o.connect(url), (e) => {
    assert.equal(e.code, 'ERR_H2O_TLS', e.message);
    return true;
  });
});

test('server without ALPN h2: ERR_H2O_TLS', async () => {
  const dir = tempDir('h2o-js-tls2-');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const server = tls.createServer({
    key: readFileSync(join(dir, 'key.pem')),
    cert: readFileSync(join(dir, 'cert.pem')),
    ALPNProtocols: ['http/1.1'],
  });
  server.on('secureConnection', (s) => s.on('error', () => {}));
  server.on('tlsClientError', () => {});
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    await assert.rejects(h2o.connect(`https://127.0.0.1:${server.address().port}`, { ca: readFileSync(join(dir, 'cert.pem')) }), (e) => {
      assert.equal(e.code, 'ERR_H2O_TLS', e.message);
      return true;
    });
  } finally {
    server.close();
  }
});

test('wss: WebSocket over TLS against Node ws (tests/ws peer) on an https server', async () => {
  const { createRequire } = await import('node:module');
  const https = await import('node:https');
  const req = createRequire(join(PKG_DIR, '..', 'tests', 'ws', 'package.json'));
  const { WebSocketServer } = req('ws'); // installed by scripts/test.sh (tests/ws: npm ci)
  const dir = tempDir('h2o-js-wss-');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'));
  const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert });
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 << 20 });
  wss.on('connection', (sock) => sock.on('message', (data, isBinary) => sock.send(data, { binary: isBinary })));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const ws = await h2o.openWebSocket(`wss://127.0.0.1:${server.address().port}/`, { ca: cert });
    const next = () => new Promise((r) => ws.addEventListener('message', (e) => r(e.data), { once: true }));
    let m = next();
    ws.send('over tls');
    assert.equal(await m, 'over tls');
    const big = bytes(3 << 20, 11);
    m = next();
    ws.send(big);
    assert.equal(sameBytes(await m, big), null);
    const closed = new Promise((r) => ws.addEventListener('close', r, { once: true }));
    ws.close(4002, 'done');
    assert.equal((await closed).code, 4002);
    await assert.rejects(h2o.openWebSocket(`wss://127.0.0.1:${server.address().port}/`), (e) => {
      assert.equal(e.code, 'ERR_H2O_TLS', e.message);
      return true;
    });
  } finally {
    wss.close();
    server.closeAllConnections?.();
    server.close();
  }
});
