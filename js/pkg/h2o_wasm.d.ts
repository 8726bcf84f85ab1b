/* tslint:disable */
/* eslint-disable */

/**
 * One HTTP/2 connection endpoint (client or server) over a transport the
 * caller supplies: feed it the peer's bytes with `receive`, send what
 * `takeOutput` returns, handle `pollEvent` events, and call `handleTimeout`
 * at the time `pollTimeout` asks for.
 */
export class Connection {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Tells the connection the time (milliseconds); fires expired timers.
     */
    handleTimeout(now_ms: number): void;
    /**
     * True when the connection is over and all output was taken.
     */
    isClosed(): boolean;
    /**
     * `role`: `"client"` or `"server"`. `options` (all optional):
     * `maxConcurrentStreams`, `initialWindowSize`, `connectionWindowSize`,
     * `maxFrameSize`, `maxHeaderListSize`, `headerTableSize`,
     * `enableConnectProtocol` (server, RFC 8441), `adaptiveWindow`.
     */
    constructor(role: string, options: any);
    /**
     * Number of open (or half-closed) streams.
     */
    openStreams(): number;
    /**
     * Sends a PING with 8 bytes of payload.
     */
    ping(data: Uint8Array | number[]): void;
    /**
     * The next event, or `undefined`. Shapes (`type` first):
     * `request {streamId, method, url, protocol?, headers, endStream}`,
     * `response {streamId, status, headers, endStream}`,
     * `data {streamId, data: Uint8Array, endStream}`,
     * `trailers {streamId, headers}`, `reset {streamId, code, remote}`,
     * `closed {streamId}`, `sendReady {streamId}`, `settings`,
     * `settingsAcked`, `ping {data}`, `pingAck {data}`,
     * `goaway {lastStreamId, code, debug}`,
     * `priorityUpdate {streamId, urgency, incremental}`.
     * Taking a `data` event returns its bytes to the flow-control window, so
     * not polling is backpressure.
     */
    pollEvent(): any;
    /**
     * When (milliseconds, same clock as `receive`) `handleTimeout` should
     * next be called, or `undefined`.
     */
    pollTimeout(): number | undefined;
    /**
     * Bytes queued by `sendData` on a stream and not yet written
     * (`undefined` for an unknown stream).
     */
    queuedLength(stream_id: number): number | undefined;
    /**
     * Feeds bytes read from the peer, at time `nowMs` (monotonic
     * milliseconds, e.g. `performance.now()`; needed for adaptive windows
     * and timers). Throws `ERR_H2O_PROTOCOL` (with `h2Code`) on a connection
     * error; the GOAWAY is then waiting in `takeOutput()`.
     */
    receive(bytes: Uint8Array | number[], now_ms: number): void;
    /**
     * Client: opens an RFC 8441 WebSocket stream (extended CONNECT) for
     * `url`; its response arrives as a `response` event (2xx = accepted,
     * check with `WebSocketCodec.verifyH2Response`).
     */
    requestWebSocket(url: string): number;
    /**
     * Client: opens a stream. `url` is absolute (`http://host:port/path`);
     * `headers` is `[[name, value], ...]`; `protocol` sets RFC 8441's
     * `:protocol` (then `method` must be `CONNECT`). Returns the stream id.
     */
    request(method: string, url: string, headers: any, end_stream: boolean, protocol?: string | null): number;
    /**
     * Resets a stream (`code` default CANCEL = 8).
     */
    reset(stream_id: number, code?: number | null): void;
    /**
     * Server: queues a response head.
     */
    respond(stream_id: number, status: number, headers: any, end_stream: boolean): void;
    /**
     * Queues body bytes (copied); they leave as flow control allows.
     */
    sendData(stream_id: number, data: Uint8Array | number[], end_stream: boolean): void;
    /**
     * Queues trailers, ending the stream's send side.
     */
    sendTrailers(stream_id: number, headers: any): void;
    /**
     * GOAWAY: `code` 0 (default) lets open streams finish; any other code
     * closes once the GOAWAY is written.
     */
    shutdown(code?: number | null): void;
    /**
     * Bytes to send to the peer (empty when there is nothing) at time
     * `nowMs` (same clock as `receive`), at most about `limit` bytes of DATA
     * (default 1 MiB) per call.
     */
    takeOutput(now_ms: number, limit?: number | null): Uint8Array;
    /**
     * True when `takeOutput` would return bytes.
     */
    wantsWrite(): boolean;
    /**
     * This endpoint's role: `"client"` or `"server"`.
     */
    readonly role: string;
}

/**
 * RFC 7541 decoder: `decode(block)` -> `[[name, value], ...]`.
 */
export class HpackDecoder {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Decodes one block and returns only the number of fields (the table is
     * updated as by `decode`; for benchmarks of the decoder itself).
     */
    decodeCount(block: Uint8Array | number[]): number;
    /**
     * Decodes one complete field block; throws `ERR_H2O_COMPRESSION`.
     */
    decode(block: Uint8Array | number[]): Array<any>;
    /**
     * A decoder accepting a dynamic table of up to `maxTableSize` bytes (default 4096).
     */
    constructor(max_table_size?: number | null);
    /**
     * Changes the accepted table size (SETTINGS_HEADER_TABLE_SIZE).
     */
    setMaxTableSize(size: number): void;
}

/**
 * RFC 7541 encoder: `encode([[name, value], ...])` -> a field block.
 */
export class HpackEncoder {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Encodes one field block. Names should be lowercase (HTTP/2).
     */
    encode(headers: any): Uint8Array;
    /**
     * An encoder whose dynamic table may use `maxTableSize` bytes (default 4096).
     */
    constructor(max_table_size?: number | null);
    /**
     * Changes the table size (a size update starts the next block).
     */
    setMaxTableSize(size: number): void;
}

/**
 * An RFC 6455 WebSocket after the opening handshake: `receive` bytes,
 * `pollEvent`, `sendText`/`sendBinary`/`ping`/`close`, `takeOutput`.
 * Static helpers build and check the HTTP/1.1 and RFC 8441 handshakes.
 */
export class WebSocketCodec {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * HTTP/1.1 Upgrade request for `url` (`ws://host[:port]/path` or
     * `http://…`): `{ request: Uint8Array, key }`; pass `key` to
     * `parseHandshakeResponse`.
     */
    static clientHandshake(url: string): any;
    /**
     * Starts (or answers) the close handshake; `code` default 1000, 1005 =
     * empty close payload.
     */
    close(code?: number | null, reason?: string | null): void;
    /**
     * True when both close frames were exchanged or the connection failed.
     */
    isClosed(): boolean;
    /**
     * `role`: `"client"` (masks its frames with keys from a generator seeded
     * by `crypto.getRandomValues`) or `"server"`. `options`:
     * `maxFrameSize`, `maxMessageSize` (bytes), `autoPong` (default true).
     */
    constructor(role: string, options: any);
    /**
     * Parses and checks the server's HTTP/1.1 handshake response at the
     * start of `bytes`: returns the length of the response head (bytes after
     * it are WebSocket frames) or 0 if the head is incomplete. Throws
     * `ERR_H2O_WS_HANDSHAKE` (with `status`) if the upgrade was refused.
     */
    static parseHandshakeResponse(bytes: Uint8Array | number[], key: string): number;
    /**
     * Queues a ping (≤ 125 bytes).
     */
    ping(data: Uint8Array | number[]): void;
    /**
     * The next event or `undefined`: `message {data: string | Uint8Array,
     * binary}`, `ping {data}`, `pong {data}`, `close {code, reason}`.
     */
    pollEvent(): any;
    /**
     * Feeds received bytes. Throws `ERR_H2O_WS_PROTOCOL` (with `closeCode`
     * 1002/1007/1009) when the peer broke the protocol; the close frame is
     * then waiting in `takeOutput()`.
     */
    receive(bytes: Uint8Array | number[]): void;
    /**
     * Queues a binary message.
     */
    sendBinary(data: Uint8Array | number[]): void;
    /**
     * Queues a text message.
     */
    sendText(text: string): void;
    /**
     * Frames to send (empty when none).
     */
    takeOutput(): Uint8Array;
    /**
     * RFC 8441: throws `ERR_H2O_WS_HANDSHAKE` unless `status` accepts an
     * extended CONNECT.
     */
    static verifyH2Response(status: number): void;
    /**
     * True once the peer's close frame arrived.
     */
    readonly closeReceived: boolean;
    /**
     * True once we queued a close frame.
     */
    readonly closeSent: boolean;
}

/**
 * Masks or unmasks `bytes` in place with the 4-byte `key` (RFC 6455 §5.3);
 * `offset` is the position of `bytes[0]` in the frame payload (default 0).
 * Uses the core's simd128 path when built with `+simd128`.
 */
export function mask(bytes: Uint8Array, key: Uint8Array | number[], offset?: number | null): void;

/**
 * True when this build's masking uses wasm `simd128`.
 */
export function maskUsesSimd128(): boolean;
