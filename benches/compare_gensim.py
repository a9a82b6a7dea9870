#!/usr/bin/env python3
"""Trains word2vec with w2v-gpu (CPU backend) and with gensim 4.x on the same corpus and settings,
then prints a markdown table: words/s of both, their ratio, peak memory, and the WordSim-353 /
SimLex-999 Spearman correlation of both vector sets.

Settings (issue 2's benchmark): skip-gram, dim 100, window 5, negative 5, sample 1e-4, min-count 5,
5 epochs, all cores. words/s is word2vec.c's definition for both: raw corpus words (every token,
in the vocabulary or not) times epochs per wall second of training. For w2v-gpu it is read from the
summary line `train` prints; for gensim it is `corpus_total_words * epochs / seconds of train()`
(vocabulary building excluded on both sides). Peak memory is each training process's maximum RSS.
Both vector sets are scored by gensim's `evaluate_word_pairs` over every word (the numbers
`w2v-gpu eval` gives; tests/interop.rs checks that they agree).

Set up Python with scripts/python-env.sh, build with `cargo build --release`, then:
    .ci-cache/venv/bin/python benches/compare_gensim.py --corpus text8 --binary target/release/w2v-gpu
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

DATA = "/work/shared/data"
SETTINGS = {"dim": 100, "window": 5, "negative": 5, "sample": 1e-4, "min_count": 5, "epochs": 5}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="plain-text corpus, whitespace-separated words")
    p.add_argument("--binary", default="target/release/w2v-gpu", help="the w2v-gpu executable")
    p.add_argument("--wordsim", default=f"{DATA}/wordsim353.tsv", help="WordSim-353 file (tab-separated)")
    p.add_argument("--simlex", default=f"{DATA}/simlex999.txt", help="SimLex-999 file (tab-separated)")
    p.add_argument("--analogies", default=f"{DATA}/questions-words.txt",
                   help="questions-words file; scored with restrict_vocab 30000 if it exists")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="worker threads for both (default: all cores)")
    p.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    p.add_argument("--seed", type=int, default=1, help="seed of both trainers")
    p.add_argument("--gensim-input", choices=["corpus_file", "iterable"], default="corpus_file",
                   help="gensim's corpus_file mode (its fastest) or a LineSentence iterable")
    p.add_argument("--workdir", help="keep vectors and logs here (default: a temporary folder)")
    p.add_argument("--json", action="store_true", help="also print the raw figures as one JSON object")
    p.add_argument("--w2v-args", default="", help="extra arguments for w2v-gpu train, space-separated "
                   "(e.g. '--no-cache' so that every run reads the text, as gensim does)")
    p.add_argument("--gensim-worker", nargs=2, metavar=("VECTORS_OUT", "RESULT_JSON"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def gensim_worker(args):
    """Runs in a child process so that its peak memory is measured alone."""
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    model = Word2Vec(sg=1, vector_size=SETTINGS["dim"], window=SETTINGS["window"], negative=SETTINGS["negative"],
                     hs=0, sample=SETTINGS["sample"], min_count=SETTINGS["min_count"], workers=args.threads, seed=args.seed)
    if args.gensim_input == "corpus_file":
        model.build_vocab(corpus_file=args.corpus)
        start = time.perf_counter()
        model.train(corpus_file=args.corpus, total_words=model.corpus_total_words, epochs=args.epochs)
    else:
        sentences = LineSentence(args.corpus)
        model.build_vocab(sentences)
        start = time.perf_counter()
        model.train(sentences, total_examples=model.corpus_count, epochs=args.epochs)
    seconds = time.perf_counter() - start
    model.wv.save_word2vec_format(args.gensim_worker[0], binary=True)
    with open(args.gensim_worker[1], "w") as f:
        json.dump({"seconds": seconds, "raw_words": model.corpus_total_words, "vocab": len(model.wv)}, f)


def run_measured(cmd, log_path):
    """Runs `cmd`, output to `log_path`; returns (exit status, wall seconds, peak RSS in MiB)."""
    with open(log_path, "w") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux.
    return proc.returncode, wall, usage.ru_maxrss / 1024


def ours(args, work):
    out = os.path.join(work, "w2v-gpu.bin")
    cmd = [args.binary, "train", "--corpus", args.corpus, "--output", out, "--device", "cpu", "--model", "skipgram",
           "--dim", str(SETTINGS["dim"]), "--window", str(SETTINGS["window"]), "--negative", str(SETTINGS["negative"]),
           "--sample", str(SETTINGS["sample"]), "--min-count", str(SETTINGS["min_count"]),
           "--epochs", str(args.epochs), "--threads", str(args.threads), "--seed", str(args.seed)]
    cmd += args.w2v_args.split()
    log = os.path.join(work, "w2v-gpu.log")
    status, wall, rss = run_measured(cmd, log)
    text = open(log, errors="replace").read()
    if status != 0:
        sys.exit(f"w2v-gpu failed (exit {status}): {' '.join(cmd)}\n{text[-2000:]}")
    m = re.search(r"trained ([\d,]+) words in ([\d.]+) s: ([\d,]+) words/s", text)
    if not m:
        sys.exit(f"no summary line 'trained N words in S s: R words/s' in the output of w2v-gpu:\n{text[-2000:]}")
    return {"vectors": out, "words_per_sec": float(m.group(3).replace(",", "")), "seconds": float(m.group(2)),
            "process_seconds": wall, "peak_mib": rss}


def theirs(args, work):
    out, result = os.path.join(work, "gensim.bin"), os.path.join(work, "gensim.json")
    cmd = [sys.executable, os.path.abspath(__file__), "--corpus", args.corpus, "--threads", str(args.threads),
           "--epochs", str(args.epochs), "--seed", str(args.seed), "--gensim-input", args.gensim_input,
           "--gensim-worker", out, result]
    log = os.path.join(work, "gensim.log")
    status, wall, rss = run_measured(cmd, log)
    if status != 0:
        sys.exit(f"gensim failed (exit {status}):\n{open(log, errors='replace').read()[-2000:]}")
    r = json.load(open(result))
    return {"vectors": out, "words_per_sec": r["raw_words"] * args.epochs / r["seconds"], "seconds": r["seconds"],
            "process_seconds": wall, "peak_mib": rss, "vocab": r["vocab"]}


def scores(vectors, args):
    """Spearman on each similarity file (and analogy accuracy), gensim's evaluators over every word."""
    import logging
    from gensim.models import KeyedVectors

    logging.disable(logging.CRITICAL)
    kv = KeyedVectors.load_word2vec_format(vectors, binary=True)
    out = {"vocab": len(kv)}
    for name, path in [("WordSim-353", args.wordsim), ("SimLex-999", args.simlex)]:
        if path and os.path.exists(path):
            _, spearman, oov = kv.evaluate_word_pairs(path, restrict_vocab=len(kv))
            out[name] = (float(spearman[0]), float(oov))
    if args.analogies and os.path.exists(args.analogies):
        out["analogies"] = float(kv.evaluate_word_analogies(args.analogies, restrict_vocab=30000)[0])
    return out


def table(args, a, b, sa, sb):
    import gensim

    ratio = a["words_per_sec"] / b["words_per_sec"]
    rows = [
        "| | w2v-gpu (CPU) | gensim %s | w2v-gpu / gensim |" % gensim.__version__,
        "|---|---:|---:|---:|",
        f"| words/s | {a['words_per_sec']:,.0f} | {b['words_per_sec']:,.0f} | {ratio:.2f}× |",
        f"| training wall time (s) | {a['seconds']:.1f} | {b['seconds']:.1f} | {a['seconds'] / b['seconds']:.2f} |",
        f"| whole process (s) | {a['process_seconds']:.1f} | {b['process_seconds']:.1f} | |",
        f"| peak memory (MiB) | {a['peak_mib']:,.0f} | {b['peak_mib']:,.0f} | {a['peak_mib'] / b['peak_mib']:.2f} |",
        f"| vocabulary | {sa['vocab']:,} | {sb['vocab']:,} | |",
    ]
    for name in ["WordSim-353", "SimLex-999"]:
        if name in sa:
            (ra, oa), (rb, ob) = sa[name], sb[name]
            rows.append(f"| {name} Spearman (OOV {oa:.0f}% / {ob:.0f}%) | {ra:.4f} | {rb:.4f} | {ra - rb:+.4f} |")
    if "analogies" in sa:
        rows.append(f"| analogy accuracy (top 30k words) | {sa['analogies']:.4f} | {sb['analogies']:.4f} | "
                    f"{sa['analogies'] - sb['analogies']:+.4f} |")
    head = (f"Corpus `{os.path.basename(args.corpus)}`; skip-gram, dim {SETTINGS['dim']}, window {SETTINGS['window']}, "
            f"negative {SETTINGS['negative']}, sample {SETTINGS['sample']}, min-count {SETTINGS['min_count']}, "
            f"{args.epochs} epochs, {args.threads} threads; {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores; gensim input: {args.gensim_input}.")
    return head + "\n\n" + "\n".join(rows)


def main(argv):
    args = parse_args(argv)
    if args.gensim_worker:
        return gensim_worker(args)
    if not os.path.exists(args.corpus):
        sys.exit(f"--corpus {args.corpus!r} does not exist")
    if not os.path.exists(args.binary):
        sys.exit(f"--binary {args.binary!r} does not exist; build it with `cargo build --release`")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or tmp
        os.makedirs(work, exist_ok=True)
        a = ours(args, work)
        b = theirs(args, work)
        sa, sb = scores(a["vectors"], args), scores(b["vectors"], args)
    print(table(args, a, b, sa, sb))
    if args.json:
        print(json.dumps({"w2v_gpu": a, "gensim": b, "scores": {"w2v_gpu": sa, "gensim": sb}}))


if __name__ == "__main__":
    main(sys.argv[1:])
