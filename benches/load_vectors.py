#!/usr/bin/env python3
"""Vectors loading speed (issue 14): MB/s of `w2v-gpu similarity` (load, then one cosine) on a
large word2vec binary and text file, beside gensim's `KeyedVectors.load_word2vec_format` on the
same files in the same run. Each figure is the best of --repeat runs, from a warm page cache.

The files are generated once into --workdir: --words words (`w0`, `w1`, ...) × --dim values drawn
from N(0, 0.1²) with a fixed seed; binary as word2vec.c writes it, text with 8 significant digits.

    .ci-cache/venv/bin/python benches/load_vectors.py --binary target/release/w2v-gpu --workdir /tmp/vecload
    .ci-cache/venv/bin/python benches/load_vectors.py --binary OLD --binary NEW ...   # before/after
"""

import argparse
import os
import subprocess
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", action="append", required=True, help="a w2v-gpu executable; repeatable")
    p.add_argument("--workdir", required=True)
    p.add_argument("--words", type=int, default=200_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--limit", type=int, help="also time --limit N (and gensim's limit=N)")
    p.add_argument("--no-gensim", action="store_true")
    return p.parse_args(argv)


def generate(args):
    import numpy as np

    stem = os.path.join(args.workdir, f"v{args.words}x{args.dim}")
    paths = {"bin": stem + ".bin", "txt": stem + ".txt"}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((args.words, args.dim)) * 0.1).astype("<f4")
    header = f"{args.words} {args.dim}\n".encode()
    with open(paths["bin"] + ".tmp", "wb") as f:
        f.write(header)
        for i, row in enumerate(data):
            f.write(f"w{i} ".encode() + row.tobytes() + b"\n")
    with open(paths["txt"] + ".tmp", "w") as f:
        f.write(header.decode())
        for i, row in enumerate(data):
            f.write(f"w{i} " + " ".join(f"{v:.8g}" for v in row) + "\n")
    for p in paths.values():
        os.replace(p + ".tmp", p)
    return paths


def best_of(n, run):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def ours(binary, path, limit):
    cmd = [binary, "similarity", "--vectors", path, "w0", "w1"]
    if limit:
        cmd += ["--limit", str(limit)]

    def run():
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed: {r.stderr.decode(errors='replace')}")
    return run


def gensim(path, limit):
    def run():
        from gensim.models import KeyedVectors
        KeyedVectors.load_word2vec_format(path, binary=path.endswith(".bin"), limit=limit)
    return run


def main(argv):
    args = parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    paths = generate(args)
    for p in paths.values():
        with open(p, "rb") as f:  # warm the page cache
            while f.read(1 << 24):
                pass
    print(f"{args.words:,} words × dim {args.dim}; best of {args.repeat}; {os.cpu_count()} cores visible\n")
    print("| reader | file | MB | seconds | MB/s |")
    print("|---|---|---:|---:|---:|")
    limits = [None] + ([args.limit] if args.limit else [])
    for fmt, path in paths.items():
        mb = os.path.getsize(path) / 1e6
        for limit in limits:
            note = f" --limit {limit}" if limit else ""
            readers = [(f"w2v-gpu `{b}`{note}", ours(b, path, limit)) for b in args.binary]
            if not args.no_gensim:
                readers.append((f"gensim {'limit=' + str(limit) if limit else ''}".strip(), gensim(path, limit)))
            for name, run in readers:
                s = best_of(args.repeat, run)
                print(f"| {name} | .{fmt} | {mb:,.0f} | {s:.2f} | {mb / s:,.0f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
