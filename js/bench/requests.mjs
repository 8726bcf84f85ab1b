// Requests/s of h2o-wasm's session.request and fetch vs node:http2 and undici
// (allowH2 + useH2c), same load: one HTTP/2 connection, CONC requests in
// flight, TOTAL GETs of PATH from an already running h2c server at URL;
// median of ROUNDS interleaved rounds after one warm-up round per client.
// Usage: node requests.mjs URL [PATH=/small] [TOTAL=20000] [CONC=64] [ROUNDS=3] [BODY_BYTES=12]
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import * as h2o from '../index.js';

const [url, path = '/small', totalArg = '20000', concArg = '64', roundsArg = '3', expectArg = '12'] = process.argv.slice(2);
const TOTAL = Number(totalArg);
const CONC = Number(concArg);
const ROUNDS = Number(roundsArg);
// Every client must receive the whole body every time (checked per round).
const expectBytes = Number(expectArg);

/** Runs `one()` TOTAL times with CONC in flight; returns req/s. */
async function load(one) {
  let started = 0;
  let bytes = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (started < TOTAL) {
      started++;
      const n = await one();
      bytes += n;
    }
  };
  await Promise.all(Array.from({ length: CONC }, worker));
  const s = (performance.now() - t0) / 1000;
  if (bytes !== TOTAL * expectBytes) throw new Error(`received ${bytes} body bytes, expected ${TOTAL * expectBytes}`);
  return TOTAL / s;
}

const clients = {
  async 'h2o-wasm session.request'() {
    const session = await h2o.connect(url);
    return {
      one: async () => {
        const r = await session.request({ path });
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        return r.body.byteLength;
      },
      close: () => session.close(),
    };
  },
  async 'h2o-wasm fetch'() {
    const session = await h2o.connect(url);
    return {
      one: async () => {
        const r = await h2o.fetch(url + path, { session });
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        return (await r.arrayBuffer()).byteLength;
      },
      close: () => session.close(),
    };
  },
  async 'node:http2'() {
    const client = http2.connect(url);
    await new Promise((r, j) => client.once('connect', r).once('error', j));
    return {
      one: () =>
        new Promise((resolve, reject) => {
          const req = client.request({ ':path': path });
          let n = 0;
          req.on('response', (h) => h[':status'] !== 200 && reject(new Error(`status ${h[':status']}`)));
          req.on('data', (d) => (n += d.length));
          req.on('end', () => resolve(n));
          req.on('error', reject);
          req.end();
        }),
      close: () => new Promise((r) => client.close(r)),
    };
  },
  async 'undici (allowH2, useH2c)'() {
    const client = new Client(url, { allowH2: true, useH2c: true, pipelining: CONC });
    return {
      one: async () => {
        const { statusCode, body } = await client.request({ path, method: 'GET' });
        if (statusCode !== 200) throw new Error(`status ${statusCode}`);
        return (await body.arrayBuffer()).byteLength;
      },
      close: () => client.close(),
    };
  },
};

// Rounds are interleaved (each round runs every client once) so that load
// from other processes on a shared machine hits all clients alike.
const made = {};
for (const [name, make] of Object.entries(clients)) {
  made[name] = await make();
  await load(made[name].one); // warm-up round (JIT, windows), not counted
}
const rates = Object.fromEntries(Object.keys(clients).map((n) => [n, []]));
for (let i = 0; i < ROUNDS; i++) {
  for (const name of Object.keys(clients)) rates[name].push(await load(made[name].one));
}
const results = {};
for (const name of Object.keys(clients)) {
  await made[name].close();
  const r = rates[name].sort((a, b) => a - b);
  results[name] = r[Math.floor(r.length / 2)];
  console.log(`${name.padEnd(28)} ${results[name].toFixed(0).padStart(8)} req/s (median of ${ROUNDS}: ${r.map((x) => x.toFixed(0)).join(' ')})`);
}
const base = results['node:http2'];
console.log(`ratio session.request / node:http2: ${(results['h2o-wasm session.request'] / base).toFixed(2)}x`);
console.log(`ratio fetch / node:http2: ${(results['h2o-wasm fetch'] / base).toFixed(2)}x`);
console.log(`ratio fetch / undici: ${(results['h2o-wasm fetch'] / results['undici (allowH2, useH2c)']).toFixed(2)}x`);
await h2o.closeAll();
