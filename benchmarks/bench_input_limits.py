"""Benchmark: what hostile inputs cost before they are refused (issue 22's reading cases).

Builds, at full size, the inputs issue 22 measured: a 120-byte araneus JSON declaring
``<U300000000`` (was 2.4 GB and 12 s), a dataset ``.npz`` and a ``.mat`` file whose one
deflated member inflates to 9.5 GB (was inflated before failing), and ``/dev/zero`` (never
returned). Each bomb is a real one: its deflate stream, sizes and CRC are valid, so a reader
that trusts it inflates 9.5 GB. Prints the time to the ``FormatError`` and the peak of
Python-traced memory (numpy allocations included) during the read; targets: refused, under
0.5 s and 50 MB each.

    .venv/bin/python benchmarks/bench_input_limits.py [--gb 9.5]
"""

from __future__ import annotations

import argparse
import io
import struct
import tempfile
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np

from araneus.dataset import WebDataset
from araneus.errors import AraneusError
from araneus.io import read_web

TARGET_S, TARGET_MB = 0.5, 50.0
CHUNK = 64 << 20


def zero_deflate(n: int) -> bytes:
    """A raw deflate stream of ``n`` zero bytes, ending with the final block, built from one
    compressed chunk repeated: after a sync flush every block refers back to zeros only, so
    the repeats form a valid stream (about 1 kB per MB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(CHUNK)
    full, rest = divmod(n, CHUNK)
    if not full:
        return c.compress(bytes(rest)) + c.flush()
    head = c.compress(zeros) + c.flush(zlib.Z_SYNC_FLUSH)
    body = c.compress(zeros) + c.flush(zlib.Z_SYNC_FLUSH) if full > 1 else b""
    return head + body * (full - 1) + c.compress(bytes(rest)) + c.flush()


def checksum_zeros(fn, value: int, n: int) -> int:
    """``fn`` (zlib.crc32 or zlib.adler32) continued from ``value`` over ``n`` zero bytes."""
    zeros = bytes(CHUNK)
    full, rest = divmod(n, CHUNK)
    for _ in range(full):
        value = fn(zeros, value)
    return fn(bytes(rest), value)


def zip_member(name: str, header: bytes, n_zero: int) -> tuple[bytes, int, int, int, bytes]:
    """(local entry, CRC, size, compressed size, name) of a deflated member
    ``header + n_zero zeros``, with zip64 sizes."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = c.compress(header) + c.flush(zlib.Z_SYNC_FLUSH) + zero_deflate(n_zero)
    crc = checksum_zeros(zlib.crc32, zlib.crc32(header), n_zero)
    size, fn = len(header) + n_zero, name.encode()
    extra = struct.pack("<HHQQ", 1, 16, size, len(data))
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0, crc, 0xFFFFFFFF,
                        0xFFFFFFFF, len(fn), len(extra)) + fn + extra + data  # fmt: skip
    return local, crc, size, len(data), fn


def build_zip(members: list[tuple[str, bytes, int]]) -> bytes:
    """A zip64 archive of deflated members ``(name, header bytes, zero bytes after it)``."""
    out, central = io.BytesIO(), []
    for name, header, n_zero in members:
        off = out.tell()
        local, crc, size, csize, fn = zip_member(name, header, n_zero)
        out.write(local)
        extra = struct.pack("<HHQQQ", 1, 24, size, csize, off)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0, crc,
                                   0xFFFFFFFF, 0xFFFFFFFF, len(fn), len(extra), 0, 0, 0, 0,
                                   0xFFFFFFFF) + fn + extra)  # fmt: skip
    cd_off = out.tell()
    cd = b"".join(central)
    out.write(cd)
    z64 = out.tell()
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(central),
                          len(central), len(cd), cd_off))  # fmt: skip
    out.write(struct.pack("<IIQI", 0x07064B50, 0, z64, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                          0xFFFFFFFF, 0))  # fmt: skip
    return out.getvalue()


#: A dataset's arrays per sample with L = 64, K = 5, 7 features: (name, dtype, shape tail).
DATASET = [("pos", "<f4", (64, 3)), ("nbrs", "<i8", (64, 5)), ("mask", "|b1", (64,)),
           ("features", "<f8", (7,)), ("split", "|i1", ()), ("origin", "<i8", (64,)),
           ("source_id", "<i8", ())]  # fmt: skip


def npz_bomb(n_bytes: int) -> bytes:
    """A dataset .npz whose seven arrays (zeros, consistent shapes, valid JSON header)
    inflate to n_bytes in all: a reader that trusts the archive inflates all of it."""
    per_sample = sum(np.dtype(dt).itemsize * int(np.prod(tail)) for _, dt, tail in DATASET)
    s = n_bytes // per_sample
    members = []
    header = b'{"format": "araneus.WebDataset", "version": 1}'
    for name, dt, tail in [("header", "|u1", None), *DATASET]:
        shape = (len(header),) if tail is None else (s, *tail)
        hdr = io.BytesIO()
        np.lib.format.write_array_header_2_0(
            hdr, {"descr": dt, "fortran_order": False, "shape": shape}
        )
        if tail is None:
            members.append(("header.npy", hdr.getvalue() + header, 0))
        else:
            nbytes = np.dtype(dt).itemsize * int(np.prod(shape))
            members.append((f"{name}.npy", hdr.getvalue(), nbytes))
    return build_zip(members)


def mat_variable(name: bytes, n: int) -> bytes:
    """A compressed MAT v5 element holding ``name`` = zeros(n, 3) (doubles); at most 4 GB,
    since v5 tags count bytes in 32 bits."""
    body = (struct.pack("<IIII", 6, 8, 6, 0) + struct.pack("<IIii", 5, 8, n, 3)
            + struct.pack("<II", 1, len(name)) + name.ljust(8, b"\0")
            + struct.pack("<II", 9, n * 24))  # fmt: skip
    inner = struct.pack("<II", 14, len(body) + n * 24) + body
    c = zlib.compressobj(9)
    adler = checksum_zeros(zlib.adler32, zlib.adler32(inner), n * 24)
    comp = c.compress(inner) + c.flush(zlib.Z_SYNC_FLUSH) + zero_deflate(n * 24)
    comp += struct.pack(">I", adler)
    return struct.pack("<II", 15, len(comp)) + comp


def mat_bomb(n_bytes: int) -> bytes:
    """A MAT v5 file whose compressed variables (``nodes``, then ``node_b1``, ...) inflate
    to n_bytes in all."""
    head = b"MATLAB 5.0 MAT-file, bench bomb".ljust(116, b" ") + bytes(8) + b"\x00\x01IM"
    parts, names = [head], [b"nodes"] + [b"node_b%d" % k for k in range(1, 64)]
    per = (0xFFFFFFFF - 256) // 24
    while n_bytes > 0:
        rows = min(per, max(n_bytes // 24, 1))
        parts.append(mat_variable(names[len(parts) - 1], rows))
        n_bytes -= rows * 24
    return b"".join(parts)


def measure(label: str, fn) -> None:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        fn()
        outcome = "READ (not refused)"
    except AraneusError as exc:
        outcome = "refused: " + str(exc).split(": ", 1)[-1][:60]
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    good = outcome.startswith("refused") or label.startswith("(")
    ok = "OK" if good and dt <= TARGET_S and peak <= TARGET_MB else "BAD"
    print(f"{label:<34} {dt * 1e3:9.1f} ms {peak:9.1f} MB  {ok}  {outcome}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=9.5, help="size the bombs inflate to (GB)")
    args = ap.parse_args()
    n = int(args.gb * 1e9)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        j = d / "u.json"
        j.write_text('{"format":"araneus-web","version":1,"nodes":[[0,0,0]],"edges":[],'
                     '"node_attrs":{"a":{"dtype":"<U300000000","data":["x"]}}}')  # fmt: skip
        (d / "bomb.npz").write_bytes(npz_bomb(n))
        (d / "bomb.mat").write_bytes(mat_bomb(n))
        warm = d / "warm.json"  # imports happen here, not in the timings
        warm.write_text('{"nodes": [[0, 0, 0]], "edges": []}')
        read_web(warm)
        print(f"{'input':<34} {'time':>12} {'peak mem':>12}")
        measure("(baseline: a valid 1-node web)", lambda: read_web(warm))
        measure(f"JSON <U300000000 ({j.stat().st_size} B)", lambda: read_web(j))
        size = (d / "bomb.npz").stat().st_size / 1e6
        measure(f".npz -> {args.gb:g} GB ({size:.1f} MB)", lambda: WebDataset.load(d / "bomb.npz"))
        with zipfile.ZipFile(d / "bomb.npz") as zf:  # the bomb is well-formed for zipfile
            assert sum(i.file_size for i in zf.infolist()) > n * 0.99
        size = (d / "bomb.mat").stat().st_size / 1e6
        measure(f".mat -> {args.gb:g} GB ({size:.1f} MB)", lambda: read_web(d / "bomb.mat"))
        if Path("/dev/zero").exists():
            measure("/dev/zero --format json", lambda: read_web("/dev/zero", format="json"))


if __name__ == "__main__":
    main()
