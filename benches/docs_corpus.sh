#!/usr/bin/env bash
# Builds the sweep's large corpus (issue 14): the English documentation text of two Debian
# packages — the Linux kernel's Documentation/ (linux-doc-6.1, reStructuredText and plain text)
# and Python 3.11's library reference and tutorials (python3.11-doc, the reST sources Sphinx
# ships as .txt) — as plain text, normalised like the other sweep corpora
# (benches/normalize.sh: lower case, every run of characters other than a-z and 0-9 one space,
# one line per source line, empty lines dropped). About 7.2M words; technical prose and code, a
# different kind of text from the KJV and PTB.
#
#   benches/docs_corpus.sh OUT.txt            # needs apt-get (Debian bookworm's archive)
#
# The packages are downloaded (not installed) into a temporary folder and unpacked there; OUT is
# written whole (a temporary sibling renamed) or not at all.
set -euo pipefail
out=${1:?usage: benches/docs_corpus.sh OUT.txt}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
id _apt >/dev/null 2>&1 && chown _apt "$work"  # apt downloads as its own user
apt-get download linux-doc-6.1 python3.11-doc >/dev/null
for deb in *.deb; do dpkg -x "$deb" x; done
{
  # The kernel's own sources of its documentation (the html/_sources copies are the same text).
  find x/usr/share/doc/linux-doc-6.1/Documentation -type f -name '*.gz' -print0 | sort -z | xargs -0 zcat
  find x/usr/share/doc/python3.11/html/_sources -type f -name '*.txt' -print0 | sort -z | xargs -0 cat
} | "$here/normalize.sh" > "$out.tmp"
mv "$out.tmp" "$out"
echo "$out: $(wc -w < "$out") words, $(wc -l < "$out") lines"
