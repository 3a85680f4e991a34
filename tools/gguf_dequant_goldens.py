#!/usr/bin/python3
"""Golden data for tests/test_gguf.cpp, from llama.cpp's own Python package (gguf-py).

Writes into tests/fixtures/gguf/:

  random-blocks.gguf  written by gguf-py's GGUFWriter: for each type a tensor of
                      random blocks (scales chosen to include zero, -0, subnormal,
                      65504, inf and NaN halves) and beside it "<type>.expected",
                      the F32 tensor gguf-py's dequantizer makes of it; plus metadata
                      of every kind (for the typed getters) and general.alignment 64.
  goldens.txt         for every tensor of the llama.cpp-made fixtures (tiny-mix.gguf,
                      kq-mix.gguf): its type, element count, the FNV-1a 64 hash of the
                      float32 bytes gguf-py's dequantizer makes of it, and 4 sampled
                      values as bit patterns; and gguf-py's block size and bytes of
                      every ggml type.

Run from anywhere with Debian's numpy (apt-get install python3-numpy):
  /usr/bin/python3 tools/gguf_dequant_goldens.py [--llama-cpp ~/.cache/axe-peer/llama.cpp]
"""
import argparse
import os
import sys

import numpy as np

np.seterr(all="ignore")  # NaN and infinite scales are part of the test

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "tests", "fixtures", "gguf")
SEED = 20251127

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--llama-cpp", default=os.path.expanduser("~/.cache/axe-peer/llama.cpp"),
                help="llama.cpp source tree (its gguf-py is imported)")
ap.add_argument("--fixtures", default=FIXTURES)
args = ap.parse_args()
sys.path.insert(0, os.path.join(args.llama_cpp, "gguf-py"))

import gguf  # noqa: E402
from gguf import GGMLQuantizationType as T, GGUFValueType as V  # noqa: E402
from gguf.constants import GGML_QUANT_SIZES  # noqa: E402
from gguf.quants import dequantize  # noqa: E402


def fnv1a64(data: bytes) -> int:
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def bits(x: np.float32) -> str:
    return "%08x" % int(np.float32(x).view(np.uint32))


# --- random blocks -----------------------------------------------------------

# Offsets of the f16 scales in each block (ggml-common.h), for placing chosen
# halves there; the rest of each block is random bytes.
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0],
}
SPECIAL_HALVES = [0x7e00, 0x7c00, 0xfc00, 0x0000, 0x8000, 0x0001, 0x83ff, 0x7bff, 0xfbff, 0x7c01]
# quiet NaN, inf, -inf, zero, -0, smallest subnormal, a negative subnormal, 65504, -65504, signalling NaN
SPECIAL_BF16 = [0x7fc0, 0x7f80, 0xff80, 0x0000, 0x8000, 0x0001, 0x807f, 0x7f7f, 0xff7f, 0x7f81]
# the same for bfloat16 (the largest finite is 0x7f7f)


def random_half(rng, n):
    # normal halves of either sign with exponents 2^-14 .. 2^3
    exp = rng.integers(1, 18, size=n, dtype=np.uint16)
    man = rng.integers(0, 1024, size=n, dtype=np.uint16)
    sign = rng.integers(0, 2, size=n, dtype=np.uint16)
    return (sign << 15) | (exp << 10) | man


def random_blocks(rng, qtype, n_blocks):
    block, size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    if qtype == T.Q8_K:  # float32 d: a few specials, then random normal floats
        d = rng.normal(0, 0.01, size=n_blocks).astype(np.float32)
        d[:4] = np.array([0.0, -0.0, np.inf, np.nan], dtype=np.float32)
        raw[:, 0:4] = d.view(np.uint8).reshape(n_blocks, 4)
    # The first blocks (10 of 16, or 4 of 6) take special halves, shifted by 3
    # on a second field; the others random normal ones.
    n_special = min(len(SPECIAL_HALVES), n_blocks - 2)
    for k, off in enumerate(HALF_FIELDS.get(qtype, [])):
        h = random_half(rng, n_blocks)
        for i in range(n_special):
            h[i] = SPECIAL_HALVES[(i + 3 * k) % len(SPECIAL_HALVES)]
        raw[:, off:off + 2] = h.astype("<u2").view(np.uint8).reshape(n_blocks, 2)
    return raw


def q8_k_dequantize(raw):
    # gguf-py has no Q8_K; this is dequantize_row_q8_K: d (float32) * qs (int8), in float32
    d = raw[:, 0:4].copy().view(np.float32)
    qs = raw[:, 4:260].copy().view(np.int8).astype(np.float32)
    return (d * qs).reshape(-1)


def write_random_gguf(path):
    rng = np.random.default_rng(SEED)
    w = gguf.GGUFWriter(path, "llama")
    w.add_custom_alignment(64)
    # Metadata of every kind, for the typed getters.
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_uint64("test.u64", 2**63 + 5)
    w.add_int64("test.i64", -(2**62))
    w.add_float32("test.f32", 0.1)
    w.add_float64("test.f64", 0.1)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "h\u00e9llo")
    w.add_key_value("test.empty_string", "", V.STRING)
    w.add_array("test.arr_str", ["a", "", "\u00fc"])
    w.add_key_value("test.arr_f32", [1.5, -2.25], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("test.arr_f64", [0.5, 1e300], V.ARRAY, sub_type=V.FLOAT64)
    w.add_array("test.arr_i32", [1, -2, 3])
    w.add_key_value("test.arr_u8", [0, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("test.arr_u64", [1, 2**64 - 1], V.ARRAY, sub_type=V.UINT64)
    w.add_array("test.arr_bool", [True, False, True])
    w.add_array("test.nested", [[1, 2], [3]])
    w.add_array("test.nested_str", [["x"], ["y", "z"]])

    cases = [(T.F16, 0), (T.BF16, 0), (T.F32, 0)] + [(t, 16) for t in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.IQ4_NL)] + \
            [(t, 6) for t in (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.Q8_K, T.IQ4_XS)]
    for qtype, n_blocks in cases:
        name = qtype.name
        if qtype in (T.F16, T.BF16):
            # 1024 random bit patterns (every exponent, NaNs and infinities
            # included) and the special halves
            b = rng.integers(0, 65536, size=1024, dtype=np.uint16)
            specials = SPECIAL_HALVES if qtype == T.F16 else SPECIAL_BF16
            b[:len(specials)] = specials
            raw = b.astype("<u2").view(np.uint8).reshape(8, 256)
            expected = dequantize(raw, qtype)
            w.add_tensor(name, raw, raw_dtype=qtype)
        elif qtype == T.F32:
            x = rng.normal(0, 1, size=(4, 64)).astype(np.float32)
            raw = x.view(np.uint8)
            expected = dequantize(raw, qtype)
            w.add_tensor(name, x)
        else:
            raw = random_blocks(rng, qtype, n_blocks)
            expected = q8_k_dequantize(raw) if qtype == T.Q8_K else dequantize(raw, qtype)
            # two rows of n_blocks/2 blocks each
            w.add_tensor(name, raw.reshape(2, -1), raw_dtype=qtype)
        expected = np.asarray(expected, dtype=np.float32).reshape(-1)
        assert expected.size == raw.size // GGML_QUANT_SIZES[qtype][1] * GGML_QUANT_SIZES[qtype][0]
        w.add_tensor(name + ".expected", expected.reshape(2, -1))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    out = args.fixtures
    write_random_gguf(os.path.join(out, "random-blocks.gguf"))
    lines = ["# Made by tools/gguf_dequant_goldens.py with llama.cpp's gguf-py (GGML_QUANT_SIZES, quants.dequantize).",
             "# type NAME NUMBER BLOCK_ELEMENTS BLOCK_BYTES",
             "# tensor FILE NAME TYPE N_ELEMENTS FNV1A64(float32 bytes) INDEX:BITS x4"]
    for t in T:
        block, size = GGML_QUANT_SIZES[t]
        lines.append("type %s %d %d %d" % (t.name, int(t), block, size))
    for f in ("tiny-mix.gguf", "kq-mix.gguf"):
        r = gguf.GGUFReader(os.path.join(out, f))
        for ten in r.tensors:
            qtype = T(ten.tensor_type)
            y = np.asarray(dequantize(ten.data, qtype), dtype=np.float32).reshape(-1)
            n = y.size
            assert n == int(ten.n_elements)
            idx = [0, 1, n // 2, n - 1]
            lines.append("tensor %s %s %s %d %016x %s" % (f, ten.name, qtype.name, n, fnv1a64(y.tobytes()),
                                                          " ".join("%d:%s" % (i, bits(y[i])) for i in idx)))
    with open(os.path.join(out, "goldens.txt"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


main()
