#!/usr/bin/env python3
"""Python `websockets` server that drives `h2o ws --echo` (tests/ws_echo.rs).

  py_echo_driver.py scenario RESULT   per connection: sends text, binary, a
      fragmented text and a fragmented binary message and a ping, checks the
      echoes arrive byte-exact and in order and the pong comes, then closes
      with 1000 and checks the client answered 1000
  py_echo_driver.py invalid RESULT    per connection: sends a frame with a
      reserved opcode (0x3) raw, and records the close code the client sent

Prints "listening on HOST:PORT"; appends one line per check to RESULT
("ok: ...", "FAIL: ...", "ALL OK", or "client close CODE").
"""
import sys
import threading

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

BINARY = bytes(range(256)) * 3
BIG = bytes((i * 7 + 3) % 251 for i in range(300_000))


def main(mode, result):
    def log(line):
        with open(result, "a") as f:
            f.write(line + "\n")

    def check(cond, what):
        log(("ok: " if cond else "FAIL: ") + what)
        return cond

    def scenario(ws):
        sent = ["hello, echo", BINARY, ["frag-", "\u00e9", "-end"], [b"ab", b"cd", b"ef"], BIG, ""]
        want = ["hello, echo", BINARY, "frag-\u00e9-end", b"abcdef", BIG, ""]
        for m in sent:
            ws.send(m)
        pong = ws.ping(b"are you there")
        ok = True
        for i, w in enumerate(want):
            got = ws.recv(timeout=10)
            ok &= check(type(got) is type(w) and got == w, f"echo {i} ({type(w).__name__}, {len(w)} bytes) byte-exact")
        ok &= check(pong.wait(10), "ping answered by pong")
        ws.close(code=1000, reason="done")
        rcvd = ws.protocol.close_rcvd
        ok &= check(rcvd is not None and rcvd.code == 1000, "client answered the close with 1000")
        if ok:
            log("ALL OK")

    def invalid(ws):
        # Reserved opcode 0x3, FIN set, no payload (unmasked: server frame).
        ws.socket.sendall(b"\x83\x00")
        try:
            while True:
                ws.recv(timeout=10)
        except ConnectionClosed:
            pass
        except TimeoutError:
            log("FAIL: client did not close")
            return
        rcvd = ws.protocol.close_rcvd
        log(f"client close {rcvd.code if rcvd else 'none'}")

    handler = scenario if mode == "scenario" else invalid
    with serve(handler, "127.0.0.1", 0, max_size=None) as srv:
        host, port = srv.socket.getsockname()[:2]
        print(f"listening on {host}:{port}", flush=True)
        # Exit when stdin closes (the test dropped us).
        threading.Thread(target=lambda: (sys.stdin.read(), srv.shutdown()), daemon=True).start()
        srv.serve_forever()


if __name__ == "__main__" and sys.argv[1:2] in (["scenario"], ["invalid"]) and len(sys.argv) == 3:
    main(sys.argv[1], sys.argv[2])
else:
    sys.exit(__doc__)
