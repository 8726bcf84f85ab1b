// Node `ws` peer for tests/ws_interop.rs.
//   node node_peer.js client URL   echo scenario against URL; prints "ALL OK"
//   node node_peer.js server       echo server on 127.0.0.1:0; prints "listening on HOST:PORT"
'use strict';
const WebSocket = require('ws');

function fail(what) {
  console.log(`FAIL: ${what}`);
  process.exit(1);
}

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 64 << 20, perMessageDeflate: false });
    const queue = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const m = { data, isBinary };
      if (waiters.length) waiters.shift()(m); else queue.push(m);
    });
    ws.next = () => new Promise((res, rej) => {
      if (queue.length) return res(queue.shift());
      const t = setTimeout(() => rej(new Error('timeout waiting for a message')), 60000);
      waiters.push((m) => { clearTimeout(t); res(m); });
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function check(cond, what) {
  if (!cond) fail(what);
  console.log(`ok: ${what}`);
}

async function client(url) {
  const ws = await open(url);
  ws.send('hello from node');
  let m = await ws.next();
  check(!m.isBinary && m.data.toString() === 'hello from node', 'text echo');
  const bin = Buffer.from([...Array(256).keys()]);
  ws.send(bin);
  m = await ws.next();
  check(m.isBinary && m.data.equals(bin), 'binary echo');
  // Fragmented text, a 2-byte UTF-8 character split across fragments.
  ws.send(Buffer.from('frag-\xc3', 'latin1'), { binary: false, fin: false });
  ws.send(Buffer.from('\xa9-end', 'latin1'), { binary: false, fin: true });
  m = await ws.next();
  check(!m.isBinary && m.data.toString() === 'frag-\u00e9-end', 'fragmented text echo');
  ws.send(Buffer.from('ab'), { binary: true, fin: false });
  ws.send(Buffer.from('cd'), { binary: true, fin: true });
  m = await ws.next();
  check(m.isBinary && m.data.toString() === 'abcd', 'fragmented binary echo');
  const big = Buffer.alloc(16 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 13 + 5) & 0xff;
  ws.send(big);
  m = await ws.next();
  check(m.isBinary && m.data.equals(big), '16 MiB binary echo');
  const pong = new Promise((res) => ws.once('pong', res));
  ws.ping(Buffer.from('ping-data'));
  const p = await Promise.race([pong, new Promise((r) => setTimeout(() => r(null), 10000))]);
  check(p !== null && p.toString() === 'ping-data', 'ping answered by pong');
  const closed = new Promise((res) => ws.once('close', (code, reason) => res([code, reason.toString()])));
  ws.close(4001, 'bye');
  const [code] = await closed;
  check(code === 4001, `close code 4001 echoed (got ${code})`);
  console.log('ALL OK');
  process.exit(0);
}

function server() {
  const wss = new WebSocket.Server({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20, perMessageDeflate: false });
  wss.on('listening', () => {
    const a = wss.address();
    console.log(`listening on ${a.address}:${a.port}`);
  });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

if (process.argv[2] === 'client') {
  client(process.argv[3]).catch((e) => fail(String(e)));
} else if (process.argv[2] === 'server') {
  server();
} else {
  console.error('usage: node_peer.js client URL | server');
  process.exit(2);
}
