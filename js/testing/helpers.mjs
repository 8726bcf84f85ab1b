// Test support: installs the package the way a user would (npm pack + npm
// install of the tarball into an empty temp folder) and starts real servers
// on 127.0.0.1: `h2o serve` (built from this repo) and `nghttpd`.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import net from 'node:net';

const here = dirname(fileURLToPath(import.meta.url));
export const PKG_DIR = resolve(here, '..');
export const REPO = resolve(PKG_DIR, '..');

const temps = [];
export function tempDir(prefix = 'h2o-js-') {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}
process.on('exit', () => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** npm pack + npm install into an empty folder; returns the package's exports. */
export async function installPackage() {
  const dir = tempDir('h2o-js-app-');
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: PKG_DIR, encoding: 'utf8' });
  const tgz = join(dir, out.trim().split('\n').pop());
  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--silent', '--no-audit', '--no-fund', '--offline', tgz], { cwd: app, stdio: 'inherit' });
  // A user's module importing the package by name (package.json "exports").
  writeFileSync(join(app, 'entry.mjs'), "export * from 'h2o-wasm';\n");
  return import(pathToFileURL(join(app, 'entry.mjs')).href);
}

/** Deterministic bytes (xorshift) so bodies can be compared byte for byte. */
export function bytes(n, seed = 1) {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export const SIZES = [0, 1, 100, 16_383, 16_384, 16_385, 65_535, 65_536, 1 << 20, 5 << 20];

/** A docroot with `/b<N>` for every size in SIZES. */
export function docroot() {
  const root = tempDir('h2o-js-root-');
  for (const n of SIZES) writeFileSync(join(root, `b${n}`), bytes(n, n + 1));
  writeFileSync(join(root, 'index.html'), 'hello from the docroot\n');
  return root;
}

function h2oBin() {
  const bin = process.env.H2O_BIN ?? join(REPO, 'target', 'release', 'h2o');
  if (!existsSync(bin)) throw new Error(`${bin} missing: run cargo build --release first`);
  return bin;
}

function track(child) {
  process.on('exit', () => child.kill('SIGKILL'));
  return child;
}

/** Starts `h2o serve --addr 127.0.0.1:0 --root ROOT --ws-echo /ws`; resolves to { url, port, stop }. */
export function startH2o(root, extra = []) {
  return new Promise((resolvePromise, reject) => {
    const child = track(spawn(h2oBin(), ['serve', '--addr', '127.0.0.1:0', '--root', root, '--ws-echo', '/ws', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] }));
    let out = '';
    const t = setTimeout(() => reject(new Error(`h2o serve did not start: ${out}`)), 10_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (127\.0\.0\.1:(\d+))/.exec(out);
      if (m) {
        clearTimeout(t);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolvePromise({ url: `http://${m[1]}`, port: Number(m[2]), stop: () => child.kill() });
      }
    });
    child.on('exit', (c) => reject(new Error(`h2o serve exited (${c}): ${out}`)));
  });
}

/** A free loopback port (bound then released). */
export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

export async function waitConnectable(port, deadlineMs = 10_000) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise((res) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listening on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts nghttpd (h2c, --echo-upload, a trailer) on a free port; resolves to { url, port, stop }. */
export async function startNghttpd(root, extra = []) {
  const bin = existsSync('/usr/sbin/nghttpd') ? '/usr/sbin/nghttpd' : 'nghttpd';
  const port = await freePort();
  const child = track(
    spawn(bin, ['--no-tls', '-a', '127.0.0.1', '-d', root, '--echo-upload', '--trailer', 'x-trailer: t1', ...extra, String(port)], { stdio: 'ignore' }),
  );
  await waitConnectable(port);
  return { url: `http://127.0.0.1:${port}`, port, stop: () => child.kill() };
}

/** Byte-exact comparison with a short message on mismatch. */
export function sameBytes(a, b) {
  if (a.byteLength !== b.byteLength) return `length ${a.byteLength} != ${b.byteLength}`;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return `differs at byte ${i}`;
  return null;
}
