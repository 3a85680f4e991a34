"""The tensor table of a GGUF file, for bench/vs_llamacpp.sh's checks (python3 only, no numpy)."""
import struct


def gguf_tensors(path):
    """(version, {name: (dims, ggml_type, absolute offset of the data)}), in the file's order."""
    with open(path, 'rb') as g:
        def u(fmt):
            return struct.unpack('<' + fmt, g.read(struct.calcsize(fmt)))[0]

        def s():
            return g.read(u('Q')).decode('utf-8', 'replace')

        def val(t):
            scalar = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}
            if t in scalar:
                return u(scalar[t])
            if t == 8:
                return s()
            if t == 9:
                et, n = u('I'), u('Q')
                for _ in range(n):
                    val(et)
                return None
            raise SystemExit(f'{path}: unknown GGUF value type {t}')

        if g.read(4) != b'GGUF':
            raise SystemExit(f'{path}: not a GGUF file')
        version, n_tensors, n_kv = u('I'), u('Q'), u('Q')
        align = 32
        for _ in range(n_kv):
            k = s()
            v = val(u('I'))
            if k == 'general.alignment':
                align = v
        infos = []
        for _ in range(n_tensors):
            name = s()
            dims = [u('Q') for _ in range(u('I'))]
            infos.append((name, dims, u('I'), u('Q')))
        base = (g.tell() + align - 1) // align * align
    return version, {n: (d, t, base + o) for n, d, t, o in infos}
