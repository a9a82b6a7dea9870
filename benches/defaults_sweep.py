#!/usr/bin/env python3
"""Defaults sweep (issue 14): fastText's and gensim's default runs beside w2v-gpu's defaults and
candidate settings (learning rate, negatives, subsampling; skip-gram and CBOW) on several corpora,
scored on analogies, WordSim-353 and SimLex-999, with words/s; prints the side-by-side tables.

What runs, every run dim 100, window 5, min-count 5, 5 epochs, --threads workers (default 2):
- fastText 0.9.2 (PyPI `fasttext-wheel`), `-minn 0 -maxn 0` (plain word2vec), its defaults
  otherwise: lr 0.05, neg 5, t 1e-4, linear decay to 0;
- gensim 4.3.3, its defaults: alpha 0.025 (both models), negative 5, sample 1e-3, cbow_mean 1,
  `corpus_file` input (its fastest);
- w2v-gpu, CPU backend: `defaults` (no training flag but --model, --threads, --seed) and each
  candidate of the grid (--lr × --negative × --sample).

Corpora, each normalised by benches/normalize.sh (lower case, a-z and 0-9 only, lines kept):
`kjv` (../shared/data/kjv.txt), `ptb` (ptb.train/valid/test.txt, those that exist, concatenated)
and `docs` (benches/docs_corpus.sh: Linux kernel and Python documentation, about 7.2M words).

Scores, each vector set alike, by gensim's evaluators (the figures `w2v-gpu eval` gives): analogy
accuracy on questions-words restricted to the 30,000 most frequent words, Spearman ρ of WordSim-353
and SimLex-999 over every word. words/s is raw corpus words × epochs per second of training: our
summary line; gensim's `train()` alone; fastText's `train_unsupervised` whole (its vocabulary pass
included, which favours neither us nor the ≥ 2× target).

Every run is appended to WORKDIR/runs.jsonl as it ends, and a run already there is not repeated,
so a stopped sweep resumes and `--table` reprints the tables without training. `--final` runs only
the side-by-side comparison (fastText, gensim, our defaults) for a quiet-machine rerun.

    benches/docs_corpus.sh /tmp/sweep/docs.txt      # once (or let the sweep build it)
    .ci-cache/venv/bin/python -m pip install -r benches/requirements-sweep.txt
    .ci-cache/venv/bin/python benches/defaults_sweep.py --workdir /tmp/sweep            # the sweep
    .ci-cache/venv/bin/python benches/defaults_sweep.py --workdir /tmp/sweep-final --final
"""

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# ../shared/data beside the repository (the main checkout), else the workplace's copy.
DATA = next((d for d in [os.path.join(HERE, "..", "..", "shared", "data"), "/work/shared/data"] if os.path.isdir(d)),
            "../shared/data")
COMMON = {"dim": 100, "window": 5, "min_count": 5, "epochs": 5}
MODELS = ["skipgram", "cbow"]
GRID = {  # the candidates the sweep tries for each model, besides `defaults`
    "lr": {"skipgram": [0.025, 0.05], "cbow": [0.025, 0.05, 0.075]},
    "negative": [5, 10],
    "sample": [1e-3, 5e-4, 2e-4, 1e-4],
}
SCORES = ["analogy", "wordsim", "simlex"]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True, help="corpora, vectors, logs and runs.jsonl go here (kept)")
    p.add_argument("--binary", default=os.path.join(HERE, "..", "target", "release", "w2v-gpu"))
    p.add_argument("--data", default=DATA, help="folder of kjv.txt, ptb.*.txt and the benchmark files")
    p.add_argument("--corpora", default="ptb,kjv,docs", help="comma-separated, of kjv, ptb, docs")
    p.add_argument("--models", default="skipgram,cbow")
    p.add_argument("--seeds", default="1,2,3", help="seeds on kjv and ptb (every tool)")
    p.add_argument("--large-seeds", default="1", help="seeds on docs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--final", action="store_true", help="only fastText, gensim and our defaults")
    p.add_argument("--only", default="", help="run only these of our candidates, ';'-separated labels "
                   "as the table prints them (e.g. 'lr 0.05 neg 10 sample 1e-4'); peers and defaults still run")
    p.add_argument("--no-peers", action="store_true", help="skip fastText and gensim")
    p.add_argument("--table", action="store_true", help="print the tables of runs.jsonl and exit")
    p.add_argument("--worker", nargs=2, metavar=("TOOL", "SPEC_JSON"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ---------------------------------------------------------------- corpora


def prepare_corpora(args, names):
    """Normalised copies of the corpora in the workdir: {name: (path, raw word count)}."""
    out = {}
    for name in names:
        path = os.path.join(args.workdir, f"{name}.txt")
        if not os.path.exists(path):
            if name == "kjv":
                sources = [os.path.join(args.data, "kjv.txt")]
            elif name == "ptb":
                sources = [os.path.join(args.data, f"ptb.{s}.txt") for s in ["train", "valid", "test"]]
                sources = [s for s in sources if os.path.exists(s)]
            elif name == "docs":
                subprocess.run([os.path.join(HERE, "docs_corpus.sh"), path], check=True)
                sources = None
            else:
                sys.exit(f"--corpora: unknown corpus {name!r}; use kjv, ptb or docs")
            if sources is not None:
                missing = [s for s in sources if not os.path.exists(s)]
                if missing or not sources:
                    sys.exit(f"corpus {name}: {missing or 'ptb.*.txt'} not found; pass --data FOLDER")
                tmp = path + ".tmp"
                with open(tmp, "wb") as f:
                    cat = subprocess.Popen(["cat", *sources], stdout=subprocess.PIPE)
                    subprocess.run([os.path.join(HERE, "normalize.sh")], stdin=cat.stdout, stdout=f, check=True)
                    cat.wait()
                os.replace(tmp, path)
                print(f"corpus {name}: {' + '.join(os.path.basename(s) for s in sources)}", file=sys.stderr)
        with open(path, "rb") as f:
            words = sum(len(line.split()) for line in f)
        out[name] = (path, words)
    return out


# ---------------------------------------------------------------- runs


def candidates(model, args):
    """Our runs for `model`: (label, extra train flags)."""
    runs = [("defaults", [])]
    if args.final:
        return runs
    only = {s.strip() for s in args.only.split(";") if s.strip()}
    for lr, neg, sample in itertools.product(GRID["lr"][model], GRID["negative"], GRID["sample"]):
        label = f"lr {lr:g} neg {neg} sample {sample:g}"
        if not only or label in only:
            runs.append((label, ["--lr", str(lr), "--negative", str(neg), "--sample", str(sample)]))
    return runs


def ours(args, corpus, model, flags, seed, vectors, log):
    cmd = [args.binary, "train", "--corpus", corpus, "--output", vectors, "--device", "cpu", "--model", model,
           "--threads", str(args.threads), "--seed", str(seed), "--cache-dir", os.path.join(args.workdir, "cache")]
    cmd += flags
    with open(log, "w") as f:
        status = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
    text = open(log, errors="replace").read()
    if status != 0:
        sys.exit(f"w2v-gpu failed (exit {status}): {' '.join(cmd)}\n{text[-2000:]}")
    m = re.search(r"trained ([\d,]+) words in ([\d.]+) s: ([\d,]+) words/s", text)
    if not m:
        sys.exit(f"no summary line 'trained N words in S s: R words/s' in {log}")
    return {"words_per_sec": float(m.group(3).replace(",", "")), "seconds": float(m.group(2))}


def peer(args, tool, corpus, model, seed, vectors, log):
    """fastText or gensim in a child process (this script's --worker), its own log."""
    spec = json.dumps({"corpus": corpus, "model": model, "seed": seed, "threads": args.threads, "vectors": vectors})
    with open(log, "w") as f:
        status = subprocess.run([sys.executable, os.path.abspath(__file__), "--workdir", args.workdir,
                                 "--worker", tool, spec], stdout=f, stderr=subprocess.STDOUT).returncode
    text = open(log, errors="replace").read()
    if status != 0:
        sys.exit(f"{tool} failed (exit {status}); its log {log}:\n{text[-2000:]}")
    return json.loads(text.strip().splitlines()[-1])


def worker(tool, spec):
    """Trains one peer run and saves its vectors as word2vec binary; prints one JSON line."""
    import numpy as np
    from gensim.models import KeyedVectors

    s = json.loads(spec)
    if tool == "fasttext":
        import fasttext

        start = time.perf_counter()
        m = fasttext.train_unsupervised(s["corpus"], model=s["model"], dim=COMMON["dim"], ws=COMMON["window"],
                                        epoch=COMMON["epochs"], minCount=COMMON["min_count"], minn=0, maxn=0,
                                        thread=s["threads"], verbose=0)  # 0.9.2 takes no seed
        seconds = time.perf_counter() - start
        words = m.get_words()
        kv = KeyedVectors(COMMON["dim"])
        kv.add_vectors(words, np.stack([m.get_word_vector(w) for w in words]))
    elif tool == "gensim":
        from gensim.models import Word2Vec

        w = Word2Vec(sg=int(s["model"] == "skipgram"), vector_size=COMMON["dim"], window=COMMON["window"],
                     min_count=COMMON["min_count"], epochs=COMMON["epochs"], workers=s["threads"], seed=s["seed"])
        w.build_vocab(corpus_file=s["corpus"])
        start = time.perf_counter()
        w.train(corpus_file=s["corpus"], total_words=w.corpus_total_words, epochs=COMMON["epochs"])
        seconds = time.perf_counter() - start
        kv = w.wv
    else:
        sys.exit(f"unknown worker {tool!r}")
    kv.save_word2vec_format(s["vectors"], binary=True)
    print(json.dumps({"seconds": seconds}))


def scores(vectors, args):
    import logging
    from gensim.models import KeyedVectors

    logging.disable(logging.CRITICAL)
    kv = KeyedVectors.load_word2vec_format(vectors, binary=True)
    out = {"vocab": len(kv)}
    pairs = {"wordsim": "wordsim353.tsv", "simlex": "simlex999.txt"}
    for key, name in pairs.items():
        _, spearman, _ = kv.evaluate_word_pairs(os.path.join(args.data, name), restrict_vocab=len(kv))
        out[key] = float(spearman[0]) if spearman[0] == spearman[0] else 0.0
    out["analogy"] = float(kv.evaluate_word_analogies(os.path.join(args.data, "questions-words.txt"),
                                                      restrict_vocab=30000)[0])
    return out


def load_runs(path):
    runs = []
    if os.path.exists(path):
        with open(path) as f:
            runs = [json.loads(line) for line in f if line.strip()]
    return runs


def key(r):
    return (r["corpus"], r["tool"], r["model"], r["label"], r["seed"])


def sweep(args, corpora):
    path = os.path.join(args.workdir, "runs.jsonl")
    done = {key(r) for r in load_runs(path)}
    vec_dir = os.path.join(args.workdir, "vectors")
    os.makedirs(vec_dir, exist_ok=True)
    models = args.models.split(",")
    for name, (corpus, words) in corpora.items():
        seeds = [int(s) for s in (args.large_seeds if name == "docs" else args.seeds).split(",")]
        jobs = []
        for model in models:
            if not args.no_peers:
                jobs += [("fasttext", model, "defaults", None), ("gensim", model, "defaults", None)]
            jobs += [("w2v-gpu", model, label, flags) for label, flags in candidates(model, args)]
        for (tool, model, label, flags), seed in itertools.product(jobs, seeds):
            r = {"corpus": name, "tool": tool, "model": model, "label": label, "seed": seed}
            if key(r) in done:
                continue
            stem = re.sub(r"[^a-z0-9.-]+", "_", f"{name}-{tool}-{model}-{label}-s{seed}")
            vectors, log = os.path.join(vec_dir, stem + ".bin"), os.path.join(vec_dir, stem + ".log")
            if tool == "w2v-gpu":
                t = ours(args, corpus, model, flags, seed, vectors, log)
            else:
                t = peer(args, tool, corpus, model, seed, vectors, log)
                t["words_per_sec"] = words * COMMON["epochs"] / t["seconds"]
            r.update(t, raw_words=words, time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            r.update(scores(vectors, args))
            os.remove(vectors)
            with open(path, "a") as f:
                f.write(json.dumps(r) + "\n")
            print(f"{name} {tool} {model} {label} seed {seed}: {r['words_per_sec']:,.0f} words/s, analogy "
                  f"{r['analogy']:.4f}, WS {r['wordsim']:.4f}, SL {r['simlex']:.4f}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- tables


def mean(xs):
    return sum(xs) / len(xs)


def cell(xs, fmt):
    """Mean, and the range over seeds when there are several."""
    if len(xs) == 1:
        return fmt(xs[0])
    return f"{fmt(mean(xs))} ({fmt(min(xs))}–{fmt(max(xs))})"


def tables(runs):
    """One table per corpus and model: peers first, then ours; Δ against the better peer per score."""
    pct = lambda x: f"{100 * x:.1f}"  # noqa: E731
    rho = lambda x: f"{x:.3f}"  # noqa: E731
    out = []
    groups = {}
    for r in runs:
        groups.setdefault((r["corpus"], r["model"]), {}).setdefault((r["tool"], r["label"]), []).append(r)
    for (corpus, model), rows in sorted(groups.items()):
        peers = {t: rs for (t, _), rs in rows.items() if t != "w2v-gpu"}
        best = {s: max((mean([r[s] for r in rs]) for rs in peers.values()), default=None) for s in SCORES}
        fastest = max((mean([r["words_per_sec"] for r in rs]) for rs in peers.values()), default=None)
        words = next(iter(rows.values()))[0]["raw_words"]
        seeds = sorted({r["seed"] for rs in rows.values() for r in rs})
        out.append(f"\n#### {corpus}, {model} ({words:,} words; seeds {', '.join(map(str, seeds))})\n")
        out.append("| run | words/s | × fastest peer | analogy % | WordSim ρ | SimLex ρ | Δ analogy, WS, SL; speed |")
        out.append("|---|---:|---:|---:|---:|---:|---|")
        order = sorted(rows, key=lambda k: (k[0] == "w2v-gpu", k[0], k[1] != "defaults", k[1]))
        for tool, label in order:
            rs = rows[(tool, label)]
            wps = mean([r["words_per_sec"] for r in rs])
            ratio = f"{wps / fastest:.2f}×" if fastest else ""
            verdict = ""
            if tool == "w2v-gpu" and best["analogy"] is not None:
                deltas = [mean([r[s] for r in rs]) - best[s] for s in SCORES]
                verdict = " ".join(f"{'✓' if d >= 0 else '✗'}{d * (100 if s == 'analogy' else 1):+.{1 if s == 'analogy' else 3}f}"
                                   for s, d in zip(SCORES, deltas))
                verdict += " ✓≥2×" if wps >= 2 * fastest else " ✗<2×"
            name = f"{tool} {label}" if tool == "w2v-gpu" else f"{tool} defaults"
            out.append(f"| {name} | {wps:,.0f} | {ratio} | {cell([r['analogy'] for r in rs], pct)} | "
                       f"{cell([r['wordsim'] for r in rs], rho)} | {cell([r['simlex'] for r in rs], rho)} | {verdict} |")
    return "\n".join(out)


def main(argv):
    args = parse_args(argv)
    if args.worker:
        return worker(*args.worker)
    os.makedirs(args.workdir, exist_ok=True)
    path = os.path.join(args.workdir, "runs.jsonl")
    if not args.table:
        if not os.path.exists(args.binary):
            sys.exit(f"--binary {args.binary!r} does not exist; build it with `cargo build --release`")
        for name in ["wordsim353.tsv", "simlex999.txt", "questions-words.txt"]:
            if not os.path.exists(os.path.join(args.data, name)):
                sys.exit(f"--data {args.data!r} has no {name}")
        corpora = prepare_corpora(args, [c for c in args.corpora.split(",") if c])
        sweep(args, corpora)
    print(f"Runs: {path}. Δ: against the better of fastText's and gensim's means on each score (analogy "
          "in points, ρ in units), ✓ where ours is at least as high; speed: ✓ where ours is at least twice "
          "the faster peer's words/s. Ranges are over seeds.")
    print(tables(load_runs(path)))


if __name__ == "__main__":
    main(sys.argv[1:])
