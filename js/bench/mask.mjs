// Masking throughput (MB/s, in place) at 125 B .. 1 MiB: h2o-wasm `mask`
// (the core's simd128 path) vs npm bufferutil (native addon, `unmask`) vs ws'
// JavaScript mask (ws/lib/buffer-util with WS_NO_BUFFER_UTIL).
// Usage: node mask.mjs [MS_PER_CASE=300]
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import * as h2o from '../index.js';

const require = createRequire(import.meta.url);
const bufferutil = require('bufferutil');
process.env.WS_NO_BUFFER_UTIL = '1';
// ws does not export lib/ in package.json "exports": load the file by path.
const wsJs = require(join(dirname(require.resolve('ws')), 'lib', 'buffer-util.js'));
if (!String(bufferutil.unmask).includes('[native code]')) throw new Error('bufferutil fell back to JS');
if (!h2o.maskUsesSimd128()) throw new Error('h2o-wasm was built without simd128');

const MS = Number(process.argv[2] ?? 300);
const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const impls = {
  'h2o-wasm mask': (buf) => h2o.mask(buf, key, 0),
  'bufferutil (native)': (buf) => bufferutil.unmask(buf, key),
  'ws JS mask': (buf) => wsJs.unmask(buf, key),
};

function rate(fn, buf) {
  for (let i = 0; i < 50; i++) fn(buf); // warm-up
  let iters = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < MS) {
    for (let i = 0; i < 32; i++) fn(buf);
    iters += 32;
    t = performance.now();
  }
  return (iters * buf.length) / ((t - t0) / 1000) / 1e6;
}

// Same result from all three (a masking bug would make any figure meaningless).
const check = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
const outs = Object.values(impls).map((f) => {
  const b = Buffer.from(check);
  f(b);
  return b.toString('hex');
});
if (new Set(outs).size !== 1) throw new Error('implementations disagree');

console.log(`size        ${Object.keys(impls).map((n) => n.padStart(20)).join('')}   wasm/bufferutil`);
for (const size of [125, 1024, 16 << 10, 64 << 10, 1 << 20]) {
  const buf = Buffer.alloc(size, 7);
  const r = Object.values(impls).map((f) => rate(f, buf));
  console.log(`${String(size).padEnd(10)}  ${r.map((x) => `${x.toFixed(0)} MB/s`.padStart(20)).join('')}   ${(r[0] / r[1]).toFixed(2)}x`);
}
