#!/usr/bin/env python3
"""Python `websockets` peer for tests/ws_interop.rs.

  py_peer.py client URL   run the echo scenario against URL; prints "ALL OK"
  py_peer.py server       echo server on 127.0.0.1:0; prints "listening on HOST:PORT"
"""
import sys
import threading

from websockets.sync.client import connect
from websockets.sync.server import serve


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def client(url):
    with connect(url, max_size=None, open_timeout=10, close_timeout=10) as ws:
        ws.send("hello from python")
        check(ws.recv(timeout=10) == "hello from python", "text echo")
        ws.send(bytes(range(256)))
        check(ws.recv(timeout=10) == bytes(range(256)), "binary echo")
        ws.send("")
        check(ws.recv(timeout=10) == "", "empty text echo")
        # Fragmented: an iterable is sent as one fragmented message. The UTF-8
        # of "é" is split across two fragments.
        ws.send(["frag-", "\u00e9", "-end"])
        check(ws.recv(timeout=10) == "frag-\u00e9-end", "fragmented text echo")
        ws.send([b"ab", b"cd", b"ef"])
        check(ws.recv(timeout=10) == b"abcdef", "fragmented binary echo")
        big = bytes((i * 7 + 3) % 251 for i in range(1 << 16)) * 256  # 16 MiB
        ws.send(big)
        check(ws.recv(timeout=60) == big, "16 MiB binary echo")
        big_text = ("0123456789abcdef" * (1 << 20))  # 16 MiB
        ws.send(big_text)
        check(ws.recv(timeout=60) == big_text, "16 MiB text echo")
        pong = ws.ping(b"ping-data")
        check(pong.wait(10), "ping answered by pong")
        ws.close(code=4000, reason="bye")
        check(ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 4000,
              "close code 4000 echoed")
    with connect(url, open_timeout=10, close_timeout=10) as ws:
        ws.send("x")
        check(ws.recv(timeout=10) == "x", "second connection echo")
        ws.close(code=1000)
        check(ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1000,
              "close code 1000 echoed")
    print("ALL OK", flush=True)


def server():
    def handler(ws):
        for msg in ws:
            ws.send(msg)

    with serve(handler, "127.0.0.1", 0, max_size=None) as srv:
        host, port = srv.socket.getsockname()[:2]
        print(f"listening on {host}:{port}", flush=True)
        # Exit when stdin closes (the test dropped us).
        threading.Thread(target=lambda: (sys.stdin.read(), srv.shutdown()), daemon=True).start()
        srv.serve_forever()


if __name__ == "__main__":
    if sys.argv[1:2] == ["client"]:
        client(sys.argv[2])
    elif sys.argv[1:2] == ["server"]:
        server()
    else:
        sys.exit(__doc__)
