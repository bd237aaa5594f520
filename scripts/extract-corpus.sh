#!/bin/sh
# Reproduce train/data/*.txt: Jane Austen's six novels, extracted offline from
# Debian's r-cran-janeaustenr package (the texts live in the package's R .rdb
# database; R is the only practical reader).
#
#   apt-get install -y --no-install-recommends r-base-core r-cran-janeaustenr
#   sh scripts/extract-corpus.sh [OUTDIR]      # default: train/data
#
# One file per novel, one line of the original per line, UTF-8, LF endings.
# The output is byte-identical from run to run (checked by sha256 in
# train/data/PROVENANCE.md).
set -eu
OUT=${1:-"$(dirname "$0")/../train/data"}
command -v Rscript >/dev/null 2>&1 || {
  echo "Rscript not found: apt-get install -y --no-install-recommends r-base-core r-cran-janeaustenr" >&2
  exit 1
}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
Rscript --vanilla -e '
  suppressPackageStartupMessages(library(janeaustenr))
  out <- commandArgs(trailingOnly = TRUE)[1]
  books <- c("emma", "mansfieldpark", "northangerabbey",
             "persuasion", "prideprejudice", "sensesensibility")
  for (b in books) {
    txt <- enc2utf8(get(b, envir = asNamespace("janeaustenr")))
    con <- file(file.path(out, paste0(b, ".txt")), open = "wb")
    writeLines(txt, con, sep = "\n", useBytes = TRUE)
    close(con)
  }
' "$OUT"
cd "$OUT" && wc -c emma.txt mansfieldpark.txt northangerabbey.txt persuasion.txt prideprejudice.txt sensesensibility.txt
