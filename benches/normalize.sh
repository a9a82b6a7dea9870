#!/usr/bin/env bash
# Text on stdin → the sweep's normal form on stdout (text8's, keeping lines): ASCII lower case,
# every run of characters other than a-z, 0-9 and newline one space, lines trimmed, empty lines
# dropped. Bytes outside ASCII (accents, UTF-8 punctuation) become spaces like any other symbol.
set -euo pipefail
LC_ALL=C tr 'A-Z' 'a-z' | LC_ALL=C tr -cs 'a-z0-9\n' ' ' | LC_ALL=C sed -e 's/^ //' -e 's/ $//' -e '/^$/d'
