/* @ts-self-types="./h2o_wasm.d.ts" */

/**
 * One HTTP/2 connection endpoint (client or server) over a transport the
 * caller supplies: feed it the peer's bytes with `receive`, send what
 * `takeOutput` returns, handle `pollEvent` events, and call `handleTimeout`
 * at the time `pollTimeout` asks for.
 */
class Connection {
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        ConnectionFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_connection_free(ptr, 0);
    }
    /**
     * Tells the connection the time (milliseconds); fires expired timers.
     * @param {number} now_ms
     */
    handleTimeout(now_ms) {
        const ret = wasm.connection_handleTimeout(this.__wbg_ptr, now_ms);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * True when the connection is over and all output was taken.
     * @returns {boolean}
     */
    isClosed() {
        const ret = wasm.connection_isClosed(this.__wbg_ptr);
        return ret !== 0;
    }
    /**
     * `role`: `"client"` or `"server"`. `options` (all optional):
     * `maxConcurrentStreams`, `initialWindowSize`, `connectionWindowSize`,
     * `maxFrameSize`, `maxHeaderListSize`, `headerTableSize`,
     * `enableConnectProtocol` (server, RFC 8441), `adaptiveWindow`.
     * @param {string} role
     * @param {any} options
     */
    constructor(role, options) {
        const ptr0 = passStringToWasm0(role, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.connection_new(ptr0, len0, options);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        this.__wbg_ptr = ret[0];
        ConnectionFinalization.register(this, this.__wbg_ptr, this);
        return this;
    }
    /**
     * Number of open (or half-closed) streams.
     * @returns {number}
     */
    openStreams() {
        const ret = wasm.connection_openStreams(this.__wbg_ptr);
        return ret >>> 0;
    }
    /**
     * Sends a PING with 8 bytes of payload.
     * @param {Uint8Array | number[]} data
     */
    ping(data) {
        const ptr0 = passArray8ToWasm0(data, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.connection_ping(this.__wbg_ptr, ptr0, len0);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
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
     * @returns {any}
     */
    pollEvent() {
        const ret = wasm.connection_pollEvent(this.__wbg_ptr);
        return ret;
    }
    /**
     * When (milliseconds, same clock as `receive`) `handleTimeout` should
     * next be called, or `undefined`.
     * @returns {number | undefined}
     */
    pollTimeout() {
        const ret = wasm.connection_pollTimeout(this.__wbg_ptr);
        return ret[0] === 0 ? undefined : ret[1];
    }
    /**
     * Bytes queued by `sendData` on a stream and not yet written
     * (`undefined` for an unknown stream).
     * @param {number} stream_id
     * @returns {number | undefined}
     */
    queuedLength(stream_id) {
        const ret = wasm.connection_queuedLength(this.__wbg_ptr, stream_id);
        return ret[0] === 0 ? undefined : ret[1];
    }
    /**
     * Feeds bytes read from the peer, at time `nowMs` (monotonic
     * milliseconds, e.g. `performance.now()`; needed for adaptive windows
     * and timers). Throws `ERR_H2O_PROTOCOL` (with `h2Code`) on a connection
     * error; the GOAWAY is then waiting in `takeOutput()`.
     * @param {Uint8Array | number[]} bytes
     * @param {number} now_ms
     */
    receive(bytes, now_ms) {
        const val2 = +now_ms;
        const ptr0 = passArray8ToWasm0(bytes, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.connection_receive(this.__wbg_ptr, ptr0, len0, val2);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * Client: opens an RFC 8441 WebSocket stream (extended CONNECT) for
     * `url`; its response arrives as a `response` event (2xx = accepted,
     * check with `WebSocketCodec.verifyH2Response`).
     * @param {string} url
     * @returns {number}
     */
    requestWebSocket(url) {
        const ptr0 = passStringToWasm0(url, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.connection_requestWebSocket(this.__wbg_ptr, ptr0, len0);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        return ret[0] >>> 0;
    }
    /**
     * Client: opens a stream. `url` is absolute (`http://host:port/path`);
     * `headers` is `[[name, value], ...]`; `protocol` sets RFC 8441's
     * `:protocol` (then `method` must be `CONNECT`). Returns the stream id.
     * @param {string} method
     * @param {string} url
     * @param {any} headers
     * @param {boolean} end_stream
     * @param {string | null} [protocol]
     * @returns {number}
     */
    request(method, url, headers, end_stream, protocol) {
        const val4 = +end_stream;
        let ptr0, len0, ptr1, len1, ptr2, len2;
        try {
            ptr0 = passStringToWasm0(method, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len0 = WASM_VECTOR_LEN;
            ptr1 = passStringToWasm0(url, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len1 = WASM_VECTOR_LEN;
            ptr2 = isLikeNone(protocol) ? 0 : passStringToWasm0(protocol, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len2 = WASM_VECTOR_LEN;
        } catch (e) {
            if (ptr2) { wasm.__wbindgen_free(ptr2, len2 * 1, 1); }
            if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }
            if (ptr0) { wasm.__wbindgen_free(ptr0, len0 * 1, 1); }
            throw e;
        }
        const ret = wasm.connection_request(this.__wbg_ptr, ptr0, len0, ptr1, len1, headers, val4, ptr2, len2);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        return ret[0] >>> 0;
    }
    /**
     * Resets a stream (`code` default CANCEL = 8).
     * @param {number} stream_id
     * @param {number | null} [code]
     */
    reset(stream_id, code) {
        const ret = wasm.connection_reset(this.__wbg_ptr, stream_id, isLikeNone(code) ? Number.MAX_SAFE_INTEGER : (code) >>> 0);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * Server: queues a response head.
     * @param {number} stream_id
     * @param {number} status
     * @param {any} headers
     * @param {boolean} end_stream
     */
    respond(stream_id, status, headers, end_stream) {
        const ret = wasm.connection_respond(this.__wbg_ptr, stream_id, status, headers, end_stream);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * This endpoint's role: `"client"` or `"server"`.
     * @returns {string}
     */
    get role() {
        let deferred1_0;
        let deferred1_1;
        try {
            const ret = wasm.connection_role(this.__wbg_ptr);
            deferred1_0 = ret[0];
            deferred1_1 = ret[1];
            return getStringFromWasm0(ret[0], ret[1]);
        } finally {
            wasm.__wbindgen_free(deferred1_0, deferred1_1, 1);
        }
    }
    /**
     * Queues body bytes (copied); they leave as flow control allows.
     * @param {number} stream_id
     * @param {Uint8Array | number[]} data
     * @param {boolean} end_stream
     */
    sendData(stream_id, data, end_stream) {
        const val2 = +stream_id;
        const val3 = +end_stream;
        const ptr0 = passArray8ToWasm0(data, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.connection_sendData(this.__wbg_ptr, val2, ptr0, len0, val3);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * Queues trailers, ending the stream's send side.
     * @param {number} stream_id
     * @param {any} headers
     */
    sendTrailers(stream_id, headers) {
        const ret = wasm.connection_sendTrailers(this.__wbg_ptr, stream_id, headers);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * GOAWAY: `code` 0 (default) lets open streams finish; any other code
     * closes once the GOAWAY is written.
     * @param {number | null} [code]
     */
    shutdown(code) {
        wasm.connection_shutdown(this.__wbg_ptr, isLikeNone(code) ? Number.MAX_SAFE_INTEGER : (code) >>> 0);
    }
    /**
     * Bytes to send to the peer (empty when there is nothing) at time
     * `nowMs` (same clock as `receive`), at most about `limit` bytes of DATA
     * (default 1 MiB) per call.
     * @param {number} now_ms
     * @param {number | null} [limit]
     * @returns {Uint8Array}
     */
    takeOutput(now_ms, limit) {
        const ret = wasm.connection_takeOutput(this.__wbg_ptr, now_ms, isLikeNone(limit) ? Number.MAX_SAFE_INTEGER : (limit) >>> 0);
        if (ret[3]) {
            throw takeFromExternrefTable0(ret[2]);
        }
        var v1 = getArrayU8FromWasm0(ret[0], ret[1]).slice();
        wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        return v1;
    }
    /**
     * True when `takeOutput` would return bytes.
     * @returns {boolean}
     */
    wantsWrite() {
        const ret = wasm.connection_wantsWrite(this.__wbg_ptr);
        return ret !== 0;
    }
}
if (Symbol.dispose) Connection.prototype[Symbol.dispose] = Connection.prototype.free;
exports.Connection = Connection;

/**
 * RFC 7541 decoder: `decode(block)` -> `[[name, value], ...]`.
 */
class HpackDecoder {
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        HpackDecoderFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_hpackdecoder_free(ptr, 0);
    }
    /**
     * Decodes one block and returns only the number of fields (the table is
     * updated as by `decode`; for benchmarks of the decoder itself).
     * @param {Uint8Array | number[]} block
     * @returns {number}
     */
    decodeCount(block) {
        const ptr0 = passArray8ToWasm0(block, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.hpackdecoder_decodeCount(this.__wbg_ptr, ptr0, len0);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        return ret[0] >>> 0;
    }
    /**
     * Decodes one complete field block; throws `ERR_H2O_COMPRESSION`.
     * @param {Uint8Array | number[]} block
     * @returns {Array<any>}
     */
    decode(block) {
        const ptr0 = passArray8ToWasm0(block, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.hpackdecoder_decode(this.__wbg_ptr, ptr0, len0);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        return takeFromExternrefTable0(ret[0]);
    }
    /**
     * A decoder accepting a dynamic table of up to `maxTableSize` bytes (default 4096).
     * @param {number | null} [max_table_size]
     */
    constructor(max_table_size) {
        const ret = wasm.hpackdecoder_new(isLikeNone(max_table_size) ? Number.MAX_SAFE_INTEGER : (max_table_size) >>> 0);
        this.__wbg_ptr = ret;
        HpackDecoderFinalization.register(this, this.__wbg_ptr, this);
        return this;
    }
    /**
     * Changes the accepted table size (SETTINGS_HEADER_TABLE_SIZE).
     * @param {number} size
     */
    setMaxTableSize(size) {
        wasm.hpackdecoder_setMaxTableSize(this.__wbg_ptr, size);
    }
}
if (Symbol.dispose) HpackDecoder.prototype[Symbol.dispose] = HpackDecoder.prototype.free;
exports.HpackDecoder = HpackDecoder;

/**
 * RFC 7541 encoder: `encode([[name, value], ...])` -> a field block.
 */
class HpackEncoder {
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        HpackEncoderFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_hpackencoder_free(ptr, 0);
    }
    /**
     * Encodes one field block. Names should be lowercase (HTTP/2).
     * @param {any} headers
     * @returns {Uint8Array}
     */
    encode(headers) {
        const ret = wasm.hpackencoder_encode(this.__wbg_ptr, headers);
        if (ret[3]) {
            throw takeFromExternrefTable0(ret[2]);
        }
        var v1 = getArrayU8FromWasm0(ret[0], ret[1]).slice();
        wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        return v1;
    }
    /**
     * An encoder whose dynamic table may use `maxTableSize` bytes (default 4096).
     * @param {number | null} [max_table_size]
     */
    constructor(max_table_size) {
        const ret = wasm.hpackencoder_new(isLikeNone(max_table_size) ? Number.MAX_SAFE_INTEGER : (max_table_size) >>> 0);
        this.__wbg_ptr = ret;
        HpackEncoderFinalization.register(this, this.__wbg_ptr, this);
        return this;
    }
    /**
     * Changes the table size (a size update starts the next block).
     * @param {number} size
     */
    setMaxTableSize(size) {
        wasm.hpackencoder_setMaxTableSize(this.__wbg_ptr, size);
    }
}
if (Symbol.dispose) HpackEncoder.prototype[Symbol.dispose] = HpackEncoder.prototype.free;
exports.HpackEncoder = HpackEncoder;

/**
 * An RFC 6455 WebSocket after the opening handshake: `receive` bytes,
 * `pollEvent`, `sendText`/`sendBinary`/`ping`/`close`, `takeOutput`.
 * Static helpers build and check the HTTP/1.1 and RFC 8441 handshakes.
 */
class WebSocketCodec {
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        WebSocketCodecFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_websocketcodec_free(ptr, 0);
    }
    /**
     * HTTP/1.1 Upgrade request for `url` (`ws://host[:port]/path` or
     * `http://…`): `{ request: Uint8Array, key }`; pass `key` to
     * `parseHandshakeResponse`.
     * @param {string} url
     * @returns {any}
     */
    static clientHandshake(url) {
        const ptr0 = passStringToWasm0(url, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.websocketcodec_clientHandshake(ptr0, len0);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        return takeFromExternrefTable0(ret[0]);
    }
    /**
     * True once the peer's close frame arrived.
     * @returns {boolean}
     */
    get closeReceived() {
        const ret = wasm.websocketcodec_closeReceived(this.__wbg_ptr);
        return ret !== 0;
    }
    /**
     * True once we queued a close frame.
     * @returns {boolean}
     */
    get closeSent() {
        const ret = wasm.websocketcodec_closeSent(this.__wbg_ptr);
        return ret !== 0;
    }
    /**
     * Starts (or answers) the close handshake; `code` default 1000, 1005 =
     * empty close payload.
     * @param {number | null} [code]
     * @param {string | null} [reason]
     */
    close(code, reason) {
        const val2 = +(isLikeNone(code) ? 0xFFFFFF : code);
        var ptr0 = isLikeNone(reason) ? 0 : passStringToWasm0(reason, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        var len0 = WASM_VECTOR_LEN;
        const ret = wasm.websocketcodec_close(this.__wbg_ptr, val2, ptr0, len0);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * True when both close frames were exchanged or the connection failed.
     * @returns {boolean}
     */
    isClosed() {
        const ret = wasm.websocketcodec_isClosed(this.__wbg_ptr);
        return ret !== 0;
    }
    /**
     * `role`: `"client"` (masks its frames with keys from a generator seeded
     * by `crypto.getRandomValues`) or `"server"`. `options`:
     * `maxFrameSize`, `maxMessageSize` (bytes), `autoPong` (default true).
     * @param {string} role
     * @param {any} options
     */
    constructor(role, options) {
        const ptr0 = passStringToWasm0(role, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.websocketcodec_new(ptr0, len0, options);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        this.__wbg_ptr = ret[0];
        WebSocketCodecFinalization.register(this, this.__wbg_ptr, this);
        return this;
    }
    /**
     * Parses and checks the server's HTTP/1.1 handshake response at the
     * start of `bytes`: returns the length of the response head (bytes after
     * it are WebSocket frames) or 0 if the head is incomplete. Throws
     * `ERR_H2O_WS_HANDSHAKE` (with `status`) if the upgrade was refused.
     * @param {Uint8Array | number[]} bytes
     * @param {string} key
     * @returns {number}
     */
    static parseHandshakeResponse(bytes, key) {
        let ptr0, len0, ptr1, len1;
        try {
            ptr0 = passArray8ToWasm0(bytes, wasm.__wbindgen_malloc);
            len0 = WASM_VECTOR_LEN;
            ptr1 = passStringToWasm0(key, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len1 = WASM_VECTOR_LEN;
        } catch (e) {
            if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }
            if (ptr0) { wasm.__wbindgen_free(ptr0, len0 * 1, 1); }
            throw e;
        }
        const ret = wasm.websocketcodec_parseHandshakeResponse(ptr0, len0, ptr1, len1);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        return ret[0] >>> 0;
    }
    /**
     * Queues a ping (≤ 125 bytes).
     * @param {Uint8Array | number[]} data
     */
    ping(data) {
        const ptr0 = passArray8ToWasm0(data, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.websocketcodec_ping(this.__wbg_ptr, ptr0, len0);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * The next event or `undefined`: `message {data: string | Uint8Array,
     * binary}`, `ping {data}`, `pong {data}`, `close {code, reason}`.
     * @returns {any}
     */
    pollEvent() {
        const ret = wasm.websocketcodec_pollEvent(this.__wbg_ptr);
        return ret;
    }
    /**
     * Feeds received bytes. Throws `ERR_H2O_WS_PROTOCOL` (with `closeCode`
     * 1002/1007/1009) when the peer broke the protocol; the close frame is
     * then waiting in `takeOutput()`.
     * @param {Uint8Array | number[]} bytes
     */
    receive(bytes) {
        const ptr0 = passArray8ToWasm0(bytes, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.websocketcodec_receive(this.__wbg_ptr, ptr0, len0);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * Queues a binary message.
     * @param {Uint8Array | number[]} data
     */
    sendBinary(data) {
        const ptr0 = passArray8ToWasm0(data, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.websocketcodec_sendBinary(this.__wbg_ptr, ptr0, len0);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * Queues a text message.
     * @param {string} text
     */
    sendText(text) {
        const ptr0 = passStringToWasm0(text, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.websocketcodec_sendText(this.__wbg_ptr, ptr0, len0);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * Frames to send (empty when none).
     * @returns {Uint8Array}
     */
    takeOutput() {
        const ret = wasm.websocketcodec_takeOutput(this.__wbg_ptr);
        var v1 = getArrayU8FromWasm0(ret[0], ret[1]).slice();
        wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        return v1;
    }
    /**
     * RFC 8441: throws `ERR_H2O_WS_HANDSHAKE` unless `status` accepts an
     * extended CONNECT.
     * @param {number} status
     */
    static verifyH2Response(status) {
        const ret = wasm.websocketcodec_verifyH2Response(status);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
}
if (Symbol.dispose) WebSocketCodec.prototype[Symbol.dispose] = WebSocketCodec.prototype.free;
exports.WebSocketCodec = WebSocketCodec;

/**
 * Masks or unmasks `bytes` in place with the 4-byte `key` (RFC 6455 §5.3);
 * `offset` is the position of `bytes[0]` in the frame payload (default 0).
 * Uses the core's simd128 path when built with `+simd128`.
 * @param {Uint8Array} bytes
 * @param {Uint8Array | number[]} key
 * @param {number | null} [offset]
 */
function mask(bytes, key, offset) {
    const val3 = +(isLikeNone(offset) ? Number.MAX_SAFE_INTEGER : (offset) >>> 0);
    let ptr0, len0, ptr1, len1;
    try {
        ptr0 = passArray8ToWasm0(bytes, wasm.__wbindgen_malloc);
        len0 = WASM_VECTOR_LEN;
        ptr1 = passArray8ToWasm0(key, wasm.__wbindgen_malloc);
        len1 = WASM_VECTOR_LEN;
    } catch (e) {
        if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }
        if (ptr0) { wasm.__wbindgen_free(ptr0, len0 * 1, 1); }
        throw e;
    }
    const ret = wasm.mask(ptr0, len0, bytes, ptr1, len1, val3);
    if (ret[1]) {
        throw takeFromExternrefTable0(ret[0]);
    }
}
exports.mask = mask;

/**
 * True when this build's masking uses wasm `simd128`.
 * @returns {boolean}
 */
function maskUsesSimd128() {
    const ret = wasm.maskUsesSimd128();
    return ret !== 0;
}
exports.maskUsesSimd128 = maskUsesSimd128;
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg___wbindgen_boolean_get_4f1baf9a00be3c74: function(arg0) {
            const v = arg0;
            const ret = typeof(v) === 'boolean' ? v : undefined;
            return isLikeNone(ret) ? 0xFFFFFF : ret ? 1 : 0;
        },
        __wbg___wbindgen_copy_to_typed_array_680b191e71920dc1: function(arg0, arg1, arg2) {
            new Uint8Array(arg2.buffer, arg2.byteOffset, arg2.byteLength).set(getArrayU8FromWasm0(arg0, arg1));
        },
        __wbg___wbindgen_is_function_741ff2bb612836f5: function(arg0) {
            const ret = typeof(arg0) === 'function';
            return ret;
        },
        __wbg___wbindgen_is_null_c22311b1cc228e3a: function(arg0) {
            const ret = arg0 === null;
            return ret;
        },
        __wbg___wbindgen_is_object_8b968c3ab8e96595: function(arg0) {
            const val = arg0;
            const ret = typeof(val) === 'object' && val !== null;
            return ret;
        },
        __wbg___wbindgen_is_undefined_be5b34249ff1fc15: function(arg0) {
            const ret = arg0 === undefined;
            return ret;
        },
        __wbg___wbindgen_number_get_934b640d0889af78: function(arg0, arg1) {
            const obj = arg1;
            const ret = typeof(obj) === 'number' ? obj : undefined;
            getDataViewMemory0().setFloat64((arg0 >>> 0) + 8 * 1, isLikeNone(ret) ? 0 : ret, true);
            getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, !isLikeNone(ret), true);
        },
        __wbg___wbindgen_string_get_7ce8eee7fd327545: function(arg0, arg1) {
            const obj = arg1;
            const ret = typeof(obj) === 'string' ? obj : undefined;
            var ptr1 = isLikeNone(ret) ? 0 : passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            var len1 = WASM_VECTOR_LEN;
            getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 1, len1, true);
            getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, ptr1, true);
        },
        __wbg___wbindgen_throw_4c88d8bf264fd984: function(arg0, arg1) {
            throw new Error(getStringFromWasm0(arg0, arg1));
        },
        __wbg_call_1252e44309f72c2d: function(arg0, arg1, arg2, arg3, arg4, arg5) {
            const ret = arg0.call(arg1, getStringFromWasm0(arg2, arg3), getArrayU32FromWasm0(arg4, arg5));
            return ret;
        },
        __wbg_call_a410eb4b59ed5965: function() { return handleError(function (arg0, arg1, arg2) {
            const ret = arg0.call(arg1, arg2);
            return ret;
        }, arguments); },
        __wbg_call_c7d0ff38ebc108c0: function(arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9, arg10) {
            const ret = arg0.call(arg1, arg2 >>> 0, arg3 >>> 0, arg4, arg5 !== 0, getStringFromWasm0(arg6, arg7), getArrayU32FromWasm0(arg8, arg9), arg10);
            return ret;
        },
        __wbg_from_eac91875c8a5ffa4: function(arg0) {
            const ret = Array.from(arg0);
            return ret;
        },
        __wbg_get_2080c49015e35254: function() { return handleError(function (arg0, arg1) {
            const ret = Reflect.get(arg0, arg1);
            return ret;
        }, arguments); },
        __wbg_get_d7176cfb76d71114: function(arg0, arg1) {
            const ret = arg0[arg1 >>> 0];
            return ret;
        },
        __wbg_get_unchecked_e6325ad374eff861: function(arg0, arg1) {
            const ret = arg0[arg1 >>> 0];
            return ret;
        },
        __wbg_isArray_bcf1376d0d732d08: function(arg0) {
            const ret = Array.isArray(arg0);
            return ret;
        },
        __wbg_length_186163212ffe79c3: function(arg0) {
            const ret = arg0.length;
            return ret;
        },
        __wbg_length_b03a0fabb109b1e9: function(arg0) {
            const ret = arg0.length;
            return ret;
        },
        __wbg_new_787b9fb330d55d78: function(arg0, arg1) {
            const ret = new Error(getStringFromWasm0(arg0, arg1));
            return ret;
        },
        __wbg_new_cd4348290afae586: function() {
            const ret = new Object();
            return ret;
        },
        __wbg_new_from_slice_b8daf545a41c6aa0: function(arg0, arg1) {
            const ret = new Uint8Array(getArrayU8FromWasm0(arg0, arg1));
            return ret;
        },
        __wbg_new_with_args_70b64b3ca8a6f317: function(arg0, arg1, arg2, arg3) {
            const ret = new Function(getStringFromWasm0(arg0, arg1), getStringFromWasm0(arg2, arg3));
            return ret;
        },
        __wbg_new_with_length_01b143a7e5dd5a3e: function(arg0) {
            const ret = new Uint8Array(arg0 >>> 0);
            return ret;
        },
        __wbg_prototypesetcall_13162965d1fe7aa3: function(arg0, arg1, arg2) {
            Uint8Array.prototype.set.call(getArrayU8FromWasm0(arg0, arg1), arg2);
        },
        __wbg_set_2793479888329cb6: function() { return handleError(function (arg0, arg1, arg2) {
            const ret = Reflect.set(arg0, arg1, arg2);
            return ret;
        }, arguments); },
        __wbg_static_accessor_GLOBAL_THIS_003ee833af9699fc: function() {
            const ret = typeof globalThis === 'undefined' ? undefined : globalThis;
            return isLikeNone(ret) ? 0 : addToExternrefTable0(ret);
        },
        __wbg_static_accessor_GLOBAL_e4293fb22cbe77da: function() {
            const ret = typeof global === 'undefined' ? undefined : global;
            return isLikeNone(ret) ? 0 : addToExternrefTable0(ret);
        },
        __wbg_static_accessor_SELF_53bb20457401453d: function() {
            const ret = typeof self === 'undefined' ? undefined : self;
            return isLikeNone(ret) ? 0 : addToExternrefTable0(ret);
        },
        __wbg_static_accessor_WINDOW_b5e0810bfecb7feb: function() {
            const ret = typeof window === 'undefined' ? undefined : window;
            return isLikeNone(ret) ? 0 : addToExternrefTable0(ret);
        },
        __wbindgen_generic_0000000000000001: function(arg0) {
            // Cast intrinsic for `F64 -> Externref`.
            const ret = arg0;
            return ret;
        },
        __wbindgen_generic_0000000000000002: function(arg0, arg1) {
            // Cast intrinsic for `Ref(String) -> Externref`.
            const ret = getStringFromWasm0(arg0, arg1);
            return ret;
        },
        __wbindgen_init_externref_table: function() {
            const table = wasm.__wbindgen_externrefs;
            table.set(0, undefined);
            table.set(1024, undefined);
            table.set(1025, null);
            table.set(1026, true);
            table.set(1027, false);
        },
    };
    return {
        __proto__: null,
        "./h2o_wasm_bg.js": import0,
    };
}

const ConnectionFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_connection_free(ptr, 1));
const HpackDecoderFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_hpackdecoder_free(ptr, 1));
const HpackEncoderFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_hpackencoder_free(ptr, 1));
const WebSocketCodecFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_websocketcodec_free(ptr, 1));

function addToExternrefTable0(obj) {
    const idx = wasm.__externref_table_alloc();
    wasm.__wbindgen_externrefs.set(idx, obj);
    return idx;
}

function getArrayU32FromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    return getUint32ArrayMemory0().subarray(ptr / 4, ptr / 4 + len);
}

function getArrayU8FromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    return getUint8ArrayMemory0().subarray(ptr / 1, ptr / 1 + len);
}

let cachedDataViewMemory0 = null;
function getDataViewMemory0() {
    if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer.detached === true || (cachedDataViewMemory0.buffer.detached === undefined && cachedDataViewMemory0.buffer !== wasm.memory.buffer)) {
        cachedDataViewMemory0 = new DataView(wasm.memory.buffer);
    }
    return cachedDataViewMemory0;
}

function getStringFromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    return decodeText(getUint8ArrayMemory0().subarray(ptr, ptr + len));
}

let cachedUint32ArrayMemory0 = null;
function getUint32ArrayMemory0() {
    if (cachedUint32ArrayMemory0 === null || cachedUint32ArrayMemory0.byteLength === 0) {
        cachedUint32ArrayMemory0 = new Uint32Array(wasm.memory.buffer);
    }
    return cachedUint32ArrayMemory0;
}

let cachedUint8ArrayMemory0 = null;
function getUint8ArrayMemory0() {
    if (cachedUint8ArrayMemory0 === null || cachedUint8ArrayMemory0.byteLength === 0) {
        cachedUint8ArrayMemory0 = new Uint8Array(wasm.memory.buffer);
    }
    return cachedUint8ArrayMemory0;
}

function handleError(f, args) {
    try {
        return f.apply(this, args);
    } catch (e) {
        const idx = addToExternrefTable0(e);
        wasm.__wbindgen_exn_store(idx);
    }
}

function isLikeNone(x) {
    return x === undefined || x === null;
}

function passArray8ToWasm0(arg, malloc) {
    const ptr = malloc(arg.length * 1, 1) >>> 0;
    getUint8ArrayMemory0().set(arg, ptr / 1);
    WASM_VECTOR_LEN = arg.length;
    return ptr;
}

function passStringToWasm0(arg, malloc, realloc) {
    if (realloc === undefined) {
        const buf = cachedTextEncoder.encode(arg);
        const ptr = malloc(buf.length, 1) >>> 0;
        getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
        WASM_VECTOR_LEN = buf.length;
        return ptr;
    }

    let len = arg.length;
    let ptr = malloc(len, 1) >>> 0;

    const mem = getUint8ArrayMemory0();

    let offset = 0;

    for (; offset < len; offset++) {
        const code = arg.charCodeAt(offset);
        if (code > 0x7F) break;
        mem[ptr + offset] = code;
    }
    if (offset !== len) {
        if (offset !== 0) {
            arg = arg.slice(offset);
        }
        ptr = realloc(ptr, len, len = offset + arg.length * 3, 1) >>> 0;
        const view = getUint8ArrayMemory0().subarray(ptr + offset, ptr + len);
        const ret = cachedTextEncoder.encodeInto(arg, view);

        offset += ret.written;
        ptr = realloc(ptr, len, offset, 1) >>> 0;
    }

    WASM_VECTOR_LEN = offset;
    return ptr;
}

function takeFromExternrefTable0(idx) {
    const value = wasm.__wbindgen_externrefs.get(idx);
    wasm.__externref_table_dealloc(idx);
    return value;
}

let cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
cachedTextDecoder.decode();
function decodeText(bytes) {
    return cachedTextDecoder.decode(bytes);
}

const cachedTextEncoder = new TextEncoder();

if (!('encodeInto' in cachedTextEncoder)) {
    cachedTextEncoder.encodeInto = function (arg, view) {
        const buf = cachedTextEncoder.encode(arg);
        view.set(buf);
        return {
            read: arg.length,
            written: buf.length
        };
    };
}

let WASM_VECTOR_LEN = 0;

const wasmPath = `${__dirname}/h2o_wasm_bg.wasm`;
const wasmBytes = require('fs').readFileSync(wasmPath);
const wasmModule = new WebAssembly.Module(wasmBytes);
let wasmInstance = new WebAssembly.Instance(wasmModule, __wbg_get_imports());
let wasm = wasmInstance.exports;
wasm.__wbindgen_start();
