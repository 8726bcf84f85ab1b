// Type-level use of every public API (compiled, never run): the .d.ts files
// must accept what the README shows and give the documented result types.
import {
  connect, fetch, openWebSocket, closeAll, H2OError, Session, WebSocket,
  Connection, HpackEncoder, HpackDecoder, WebSocketCodec, mask, maskUsesSimd128,
  type SessionResponse, type H2OErrorCode,
} from 'h2o-wasm';

export async function use(): Promise<void> {
  const s: Session = await connect('http://127.0.0.1:1', { connectTimeout: 10, ca: 'pem', settings: { initialWindowSize: 65535 } });
  const r: SessionResponse = await s.request({ method: 'POST', path: '/', headers: { a: 'b' }, body: 'x', timeout: 5 });
  const status: number = r.status;
  const body: Uint8Array = r.body;
  const t: string | string[] | undefined = r.trailers['x'];
  async function* gen(): AsyncGenerator<Uint8Array> { yield new Uint8Array(1); }
  await s.request({ method: 'PUT', path: '/up', body: gen() });
  const n: number = s.activeStreams + s.bytesRead;
  await s.close();
  const res: Response = await fetch('http://x/', { method: 'POST', body: new Uint8Array(2), session: s, timeout: 1 });
  const text: string = await res.text();
  await closeAll();
  const ws: WebSocket = await openWebSocket('ws://x/', { h2: true, session: s });
  ws.addEventListener('message', (e) => console.log(e.data));
  ws.addEventListener('close', (e) => console.log(e.code, e.reason, e.wasClean));
  ws.onerror = (e) => console.log(e.error.code);
  ws.send(new Uint8Array(3));
  ws.close(1000, 'bye');
  const c = new Connection('client', { maxConcurrentStreams: 10 });
  const id: number = c.request('GET', 'http://x/', [['a', 'b']], true);
  c.receive(c.takeOutput(1.5), 1.5);
  const ev: unknown = c.pollEvent();
  const when: number | undefined = c.pollTimeout();
  const block: Uint8Array = new HpackEncoder(4096).encode([['a', 'b']]);
  const fields: unknown = new HpackDecoder().decode(block);
  const codec = new WebSocketCodec('client', {});
  codec.sendText('hi');
  mask(new Uint8Array(4), new Uint8Array(4), 0);
  const simd: boolean = maskUsesSimd128();
  try {
    await connect('nope');
  } catch (e) {
    if (e instanceof H2OError) {
      const code: H2OErrorCode = e.code;
      console.log(code, e.h2Code, e.status, e.closeCode);
    }
  }
  console.log(status, body, t, n, text, id, ev, when, fields, simd);
}
