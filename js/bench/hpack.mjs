// HPACK decode in Node (wasm) on the hpack-test-case raw-data stories
// (tests/data, in the repo), encoded once by our own encoder (Huffman +
// indexing, one context per story). Prints MiB/s of block bytes for
// `decodeCount` (decoder only) and `decode` (with JS [name, value] strings),
// and writes the blocks to BLOCKS_OUT (if given) for the native run
// (examples/hpack_decode_blocks.rs) on the very same bytes.
// Usage: node hpack.mjs [BLOCKS_OUT] [MS=2000]
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { HpackEncoder, HpackDecoder } from '../index.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../tests/data/hpack-test-case/raw-data');
const [out, msArg = '2000'] = process.argv.slice(2);
const MS = Number(msArg);
const stories = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => {
    const enc = new HpackEncoder(4096);
    const cases = JSON.parse(readFileSync(join(dir, f), 'utf8')).cases;
    return cases.map((c) => enc.encode(c.headers.map((h) => Object.entries(h)[0])));
  });
const blocks = stories.flat();
const total = blocks.reduce((n, b) => n + b.length, 0);

function run(fn) {
  let bytes = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < MS) {
    for (const story of stories) {
      const dec = new HpackDecoder(4096);
      for (const b of story) fn(dec, b);
      dec.free(); // as the native run drops it (else wasm memory grows until GC finalizes)
    }
    bytes += total;
  }
  return bytes / ((performance.now() - t0) / 1000) / (1 << 20);
}
run((d, b) => d.decodeCount(b)); // warm-up
console.log(`corpus: ${stories.length} stories, ${blocks.length} blocks, ${total} bytes`);
console.log(`wasm decodeCount: ${run((d, b) => d.decodeCount(b)).toFixed(1)} MiB/s`);
console.log(`wasm decode (JS strings): ${run((d, b) => d.decode(b)).toFixed(1)} MiB/s`);
if (out) {
  // story count, then per story: block count, then per block: u32 length + bytes
  const parts = [];
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    parts.push(b);
  };
  u32(stories.length);
  for (const s of stories) {
    u32(s.length);
    for (const b of s) {
      u32(b.length);
      parts.push(Buffer.from(b));
    }
  }
  writeFileSync(out, Buffer.concat(parts));
}
