#!/usr/bin/env python3
"""The scaling model of data-parallel training (benches/MODEL.md, "Many ranks"): rows touched per
synchronisation on a text8-like vocabulary, the bytes each rank puts into the sums, and the
efficiency that implies for 8 GPUs over NVLink and N machines over 25/100 Gb/s. Every figure it
prints is MODELLED (arithmetic over the assumptions below), never measured. Standard library only:

    python3 benches/dist_model.py
"""

import json
import math
import os

# text8 as the kernel model takes it (benches/MODEL.md): 17,005,207 words, 71,290 of count >= 5,
# Zipf counts (count ~ 1/rank); subsampling 1e-4, K = 5 negatives a kept centre from counts^0.75.
WORDS, VOCAB, SAMPLE, K, POWER = 17_005_207, 71_290, 1e-4, 5, 0.75


def roofline():
    """The kernel roofline's v2 skip-gram f32 dim-128 words/s on an H100 (benches/kernel-cost.json,
    modelled by scripts/kernel-cost.sh)."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "kernel-cost.json")) as f:
        rows = json.load(f)["rows"]
    row = next(r for r in rows if r["variant"] == "v2 skipgram f32" and r["dim"] == 128)
    return row["gpus"]["H100"]["modelled"]["words_per_s"]


# Per-device training rates (raw words/s): the GPU at the kernel roofline (modelled) and at a
# fifth of it, in case a real GPU falls short.
R = roofline()
GPU_RATES = {f"roofline {R:.2e}": R, f"a fifth, {R / 5:.2e}": R / 5}
# Words a rank trains between syncs: the CPU default, text8's share of an epoch on 8 ranks (the
# GPU default there: one sync an epoch), and the GPU default (src/dist/mod.rs).
INTERVALS = (1_000_000, WORDS // 8, 10_000_000)
# Links: usable bandwidth (bytes/s) and per-step latency (s) of a ring all-reduce.
NVLINK = (300e9, 10e-6)  # H100 NVLink 4 through NCCL, about 2/3 of its 450 GB/s a direction
NETS = {"25 Gb/s": (25e9 / 8 * 0.8, 30e-6), "100 Gb/s": (100e9 / 8 * 0.8, 20e-6)}


def zipf(vocab=VOCAB):
    h = sum(1.0 / (i + 1) for i in range(vocab))
    p = [1.0 / ((i + 1) * h) for i in range(vocab)]
    # word2vec.c's keep probability for a word of frequency f.
    keep = [min(1.0, (math.sqrt(f / SAMPLE) + 1) * SAMPLE / f) for f in p]
    q_raw = [x**POWER for x in p]
    z = sum(q_raw)
    return p, keep, [x / z for x in q_raw]


def touched(tokens, p, keep, q):
    """Expected distinct W_in rows (kept words) and W_out rows (kept words and negatives) in
    `tokens` corpus words."""
    kept_rate = sum(pi * ki for pi, ki in zip(p, keep))
    draws = tokens * kept_rate * K
    rows_in = rows_out = 0.0
    for pi, ki, qi in zip(p, keep, q):
        absent = math.exp(tokens * math.log1p(-pi * ki))
        rows_in += 1 - absent
        rows_out += 1 - absent * math.exp(draws * math.log1p(-qi))
    return rows_in, rows_out


def allreduce_s(nbytes, n, link):
    bw, lat = link
    return 2 * (n - 1) / n * nbytes / bw + 2 * (n - 1) * lat


def main():
    p, keep, q = zipf()
    dim = 128
    print("MODELLED: text8-like vocabulary, dim 128, skip-gram, sparse synchronisation")
    print("| ranks | words a rank between syncs | W_in rows | W_out rows | MB a rank a sync "
          "(rows x dim x 4) | dense MB |")
    print("|---|---|---|---|---|---|")
    for n in (2, 8, 32):
        for w in (200_000, 1_000_000):
            ri, ro = touched(n * w, p, keep, q)
            mb = (ri + ro) * dim * 4 / 1e6
            print(f"| {n} | {w:,} | {ri:,.0f} | {ro:,.0f} | {mb:.1f} | {2 * VOCAB * dim * 4 / 1e6:.1f} |")
    print()
    print("| setting | link | ranks | words a rank between syncs | compute s | sync s | "
          "efficiency | job words/s |")
    print("|---|---|---|---|---|---|---|---|")
    cases = [("8 GPUs, one machine", "NVLink", NVLINK, 8)]
    for name, link in NETS.items():
        for n in (4, 16, 32):
            cases.append((f"{n} machines, one GPU each", name, link, n))
    for label, rate in GPU_RATES.items():
        for what, link_name, link, n in cases:
            for w in INTERVALS:
                ri, ro = touched(n * w, p, keep, q)
                nbytes = (ri + ro) * dim * 4 + (ri + ro) * 4 * n  # rows, plus every rank's ids
                comp = w / rate
                sync = allreduce_s(nbytes, n, link)
                eff = comp / (comp + sync)
                print(f"| {what}, GPU at {label} | {link_name} | {n} | {w:,} | {comp:.4f} | "
                      f"{sync:.4f} | {eff:.0%} | {n * rate * eff:.2e} |")
    # Where sparse synchronisation pays: the 10M-word vocabulary at dim 300.
    big, dim = 10_000_000, 300
    p, keep, q = zipf(big)
    print()
    print("| vocabulary | dim | ranks | words a rank between syncs | W_in rows | W_out rows | "
          "sparse MB a rank a sync | dense MB |")
    print("|---|---|---|---|---|---|---|---|")
    for n, w in ((8, 1_000_000), (8, 10_000_000)):
        ri, ro = touched(n * w, p, keep, q)
        print(f"| {big:,} | {dim} | {n} | {w:,} | {ri:,.0f} | {ro:,.0f} | "
              f"{(ri + ro) * dim * 4 / 1e6:,.0f} | {2 * big * dim * 4 / 1e6:,.0f} |")


if __name__ == "__main__":
    main()
