#!/usr/bin/env python3
"""List the imports of a WebAssembly module; exit 1 if any comes from module `env`.

Usage: wasm-imports.py MODULE.wasm
Parses the binary format directly (import section, id 2): no external tools.
"""
import sys


def leb_u32(b, i):
    result = shift = 0
    while True:
        byte = b[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, i
        shift += 7
        if shift > 35:
            raise ValueError("bad LEB128")


def name(b, i):
    n, i = leb_u32(b, i)
    return b[i:i + n].decode("utf-8"), i + n


def limits(b, i):
    flags = b[i]
    i += 1
    _, i = leb_u32(b, i)
    if flags & 1:
        _, i = leb_u32(b, i)
    return i


def imports(data):
    if data[:4] != b"\0asm":
        raise ValueError("not a wasm module")
    if data[4:8] != b"\x01\0\0\0":
        raise ValueError("not a core wasm module (component?)")
    i = 8
    out = []
    while i < len(data):
        sec_id = data[i]
        i += 1
        size, i = leb_u32(data, i)
        end = i + size
        if sec_id == 2:
            count, j = leb_u32(data, i)
            for _ in range(count):
                mod, j = name(data, j)
                field, j = name(data, j)
                kind = data[j]
                j += 1
                if kind == 0:  # function: type index
                    _, j = leb_u32(data, j)
                elif kind == 1:  # table: reftype + limits
                    j = limits(data, j + 1)
                elif kind == 2:  # memory: limits
                    j = limits(data, j)
                elif kind == 3:  # global: valtype + mut
                    j += 2
                elif kind == 4:  # tag: attribute + type index
                    _, j = leb_u32(data, j + 1)
                else:
                    raise ValueError("unknown import kind %d" % kind)
                out.append((mod, field, "func table memory global tag".split()[kind]))
        i = end
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    try:
        imps = imports(data)
    except (ValueError, IndexError) as e:
        print("%s: %s" % (sys.argv[1], e), file=sys.stderr)
        return 2
    bad = [x for x in imps if x[0] == "env"]
    for mod, field, kind in imps:
        print("import %s %s.%s" % (kind, mod, field))
    print("%d imports, %d from `env`" % (len(imps), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
