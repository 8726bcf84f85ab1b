#!/usr/bin/env python3
"""A host for the H2O library component (world h2o:core/library).

Loads the component with PyPI `wasmtime` (50.0.1), supplies the TCP socket and
the clock, and drives HTTP/2 exchanges through the component's exports only:

  host.py COMPONENT get ADDR PATH OUT [PATH OUT]...
      GETs every PATH from ADDR (host:port, h2c prior knowledge) on one
      connection, writes each body to its OUT file, prints `PATH STATUS LEN`
      per response; exit 1 with one error line on any failure.
  host.py COMPONENT world
      prints the component's imports and exports, one per line
      (`import NAME` / `export NAME`), without instantiating it.
  host.py COMPONENT selftest
      HPACK round trip and WebSocket codecs (client <-> server, fragments,
      close, limits) through the exports; masking against a Python reference.

Used by tests/component.rs (run by scripts/test.sh).
"""
import socket
import sys
import time

from wasmtime import Engine, Store, WasiConfig
from wasmtime.component import Component, Linker, Record, Variant

IFACE = "h2o:core/{}@0.1.0"


class Lib:
    """The instantiated component and its exported functions."""

    def __init__(self, path):
        self.engine = Engine()
        self.store = Store(self.engine)
        self.store.set_wasi(WasiConfig())
        linker = Linker(self.engine)
        linker.add_wasip2()
        self.component = Component.from_file(self.engine, path)
        self.inst = linker.instantiate(self.store, self.component)

    def func(self, iface, name):
        i = self.inst.get_export_index(self.store, IFACE.format(iface))
        if i is None:
            raise SystemExit(f"component does not export {IFACE.format(iface)}")
        f = self.inst.get_export_index(self.store, name, i)
        if f is None:
            raise SystemExit(f"component does not export {iface}#{name}")
        fn = self.inst.get_func(self.store, f)
        return lambda *a: norm(fn(self.store, *a))


class R(Record):
    """A WIT record whose kebab-case fields read and write as snake_case."""

    def __setattr__(self, k, v):
        object.__setattr__(self, k.replace("_", "-"), v)

    def __getattr__(self, k):
        try:
            return self.__dict__[k.replace("_", "-")]
        except KeyError:
            raise AttributeError(k) from None


def rec(**kw):
    r = R()
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def norm(v):
    """Results of calls with records turned into `R`."""
    if isinstance(v, Record):
        return rec(**{k: norm(x) for k, x in v.__dict__.items()})
    if isinstance(v, Variant):
        return Variant(v.tag, norm(v.payload))
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v


class Conn:
    """The `connection` resource."""

    def __init__(self, lib, role):
        f = lambda n: lib.func("connection", n)
        cfg = f("default-config")()
        self.h = f("[constructor]connection")(role, cfg)
        self.m = {
            n: f(f"[method]connection.{n}")
            for n in ["recv", "poll-event", "take-output", "poll-timeout",
                      "handle-timeout", "send-request", "shutdown", "is-closed"]
        }

    def __getattr__(self, name):
        m = self.m[name.replace("_", "-")]
        return lambda *a: m(self.h, *a)


def fail(msg):
    print(f"host.py: {msg}", file=sys.stderr)
    sys.exit(1)


def get(lib, addr, pairs, timeout=30.0):
    host, port = addr.rsplit(":", 1)
    start = time.monotonic()
    now = lambda: int((time.monotonic() - start) * 1e9)
    conn = Conn(lib, "client")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    streams = {}
    for path, out in pairs:
        req = rec(method="GET", scheme="http", authority=addr, path=path,
                  protocol=None, headers=[rec(name="user-agent", value=b"h2o-component-host.py")])
        r = conn.send_request(req, True)
        if not isinstance(r, int):
            fail(f"send-request {path}: {r.tag} {r.payload}")
        streams[r] = {"path": path, "out": out, "status": None, "body": bytearray(), "done": False}
    deadline = time.monotonic() + timeout
    while not all(s["done"] for s in streams.values()):
        while True:
            out = conn.take_output(now(), 256 << 10)
            if not out:
                break
            sock.sendall(out)
        while True:
            ev = conn.poll_event()
            if ev is None:
                break
            tag, p = ev.tag, ev.payload
            if tag == "response":
                s = streams[p.stream_id]
                if p.response.status >= 200:
                    s["status"] = p.response.status
                s["done"] |= p.end_stream
            elif tag == "data":
                s = streams[p.stream_id]
                s["body"] += p.data
                s["done"] |= p.end_stream
            elif tag == "trailers":
                streams[p.stream_id]["done"] = True
            elif tag == "reset":
                fail(f"{streams[p.stream_id]['path']}: stream reset, code {p.code}")
            elif tag == "goaway" and p.code != 0:
                fail(f"GOAWAY code {p.code}: {bytes(p.debug)!r}")
        if all(s["done"] for s in streams.values()):
            break
        if time.monotonic() > deadline:
            fail("timed out")
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        data = sock.recv(65536)
        if not data:
            fail("connection closed by the server before the responses ended")
        r = conn.recv(now(), data)
        if not isinstance(r, int):
            fail(f"protocol error: code {r.code}: {r.reason}")
    conn.shutdown(0)
    out = conn.take_output(now(), 1 << 20)
    if out:
        sock.sendall(out)
    sock.close()
    for s in streams.values():
        with open(s["out"], "wb") as f:
            f.write(s["body"])
        print(f"{s['path']} {s['status']} {len(s['body'])}")


def mask_ref(data, key, offset):
    return bytes(b ^ key[(offset + i) % 4] for i, b in enumerate(data))


def selftest(lib):
    # Sans-IO: the component reaches for no socket, clock or file of the host.
    imports = sorted(lib.component.type.imports(lib.engine).keys())
    bad = [i for i in imports if i.split("/")[0] in ("wasi:sockets", "wasi:clocks", "wasi:filesystem")]
    assert not bad, f"the library component imports {bad}"
    exports = sorted(lib.component.type.exports(lib.engine).keys())
    assert exports == [IFACE.format(n) for n in ["connection", "hpack", "types", "websocket"]], exports
    print(f"imports: {len(imports)}, none of wasi:sockets/clocks/filesystem; exports {exports}")
    # HPACK: encode with the component's encoder, decode with its decoder.
    enc = lib.func("hpack", "[constructor]encoder")(4096)
    dec = lib.func("hpack", "[constructor]decoder")(4096)
    encode = lib.func("hpack", "[method]encoder.encode")
    decode = lib.func("hpack", "[method]decoder.decode")
    fields = [rec(name=b":method", value=b"GET", never_index=False),
              rec(name=b"cookie", value=b"a=b", never_index=True),
              rec(name=b"x-long", value=b"v" * 300, never_index=False)]
    for round_ in range(2):
        block = encode(enc, fields)
        got = decode(dec, block)
        assert isinstance(got, list), got
        assert [(bytes(f.name), bytes(f.value), f.never_index) for f in got] == \
            [(bytes(f.name), bytes(f.value), f.never_index) for f in fields], got
    # The second block reuses the dynamic table: much shorter.
    assert len(block) < 20, len(block)
    err = decode(dec, b"\x80")  # index 0 is invalid
    assert err == "invalid-index", err
    print("hpack: round trip and invalid index OK")

    # Masking: every offset, lengths around the SIMD widths.
    mask = lib.func("websocket", "mask")
    key = (0x37, 0xFA, 0x21, 0x3D)
    for n in [0, 1, 15, 16, 17, 127, 128, 129, 1000, 4096 + 3]:
        data = bytes((i * 7 + 3) & 0xFF for i in range(n))
        for off in range(4):
            assert bytes(mask(data, key, off)) == mask_ref(data, key, off), (n, off)
    print("websocket mask: matches the reference")

    # WebSocket codecs: a client and a server component codec talk.
    ws = lambda n: lib.func("websocket", n)
    cfg = ws("default-config")()
    client = ws("[constructor]codec")("client", cfg)
    small = ws("default-config")()
    small.max_message_size = 1000
    server = ws("[constructor]codec")("server", small)
    m = lambda n: ws(f"[method]codec.{n}")
    take, recv, poll = m("take-output"), m("recv"), m("poll-event")

    def pump(a, b):
        out = take(a)
        if out:
            r = recv(b, out)
            return r
        return 0

    def events(c):
        evs = []
        while True:
            e = poll(c)
            if e is None:
                return evs
            evs.append((e.tag, e.payload))

    assert m("send-text")(client, "héllo") is None
    assert m("send-fragment")(client, "binary", b"ab", False) is None
    assert m("send-ping")(client, b"p") is None
    assert m("send-fragment")(client, "continuation", b"cd", True) is None
    frames = take(client)
    assert frames[1] & 0x80, "client frames are masked"
    assert recv(server, frames) == len(frames)
    evs = events(server)
    assert evs[0] == ("text", "héllo"), evs
    assert evs[1] == ("ping", b"p") or (evs[1][0] == "ping" and bytes(evs[1][1]) == b"p"), evs
    assert evs[2][0] == "binary" and bytes(evs[2][1]) == b"abcd", evs
    pump(server, client)  # the automatic pong
    evs = events(client)
    assert evs[0][0] == "pong" and bytes(evs[0][1]) == b"p", evs
    err = m("send-fragment")(client, "continuation", b"x", True)
    assert err == "fragment-state", err
    # Limits: a message over the server's max-message-size fails with 1009.
    assert m("send-binary")(client, b"x" * 2000) is None
    r = pump(client, server)
    assert not isinstance(r, int) and r.code == 1009, r
    print("websocket codec: messages, fragments, ping/pong, limit 1009 OK")
    # Close handshake on a fresh pair.
    client = ws("[constructor]codec")("client", cfg)
    server = ws("[constructor]codec")("server", cfg)
    assert m("close")(client, 1000, "bye") is None
    pump(client, server)
    evs = events(server)
    assert evs[0][0] == "close" and evs[0][1].code == 1000 and evs[0][1].reason == "bye", evs
    pump(server, client)
    assert m("is-closed")(client) and m("is-closed")(server)
    assert m("send-text")(client, "late") == "closed"
    print("websocket close handshake OK")


def world(path):
    engine = Engine()
    ty = Component.from_file(engine, path).type
    for name in sorted(ty.imports(engine).keys()):
        print(f"import {name}")
    for name in sorted(ty.exports(engine).keys()):
        print(f"export {name}")


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    if sys.argv[2] == "world":
        return world(sys.argv[1])
    lib = Lib(sys.argv[1])
    if sys.argv[2] == "selftest":
        selftest(lib)
    elif sys.argv[2] == "get" and len(sys.argv) >= 6 and len(sys.argv) % 2 == 0:
        pairs = list(zip(sys.argv[4::2], sys.argv[5::2]))
        get(lib, sys.argv[3], pairs)
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
