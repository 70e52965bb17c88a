#!/bin/bash
# Symlinks every 10th file of /work/bench-data/photos-5k (all classes) into data/photos-5k-sample.
cd "$(dirname "$0")/.."
SRC=${1:-/work/bench-data/photos-5k}
rm -rf data/photos-5k-sample && mkdir -p data/photos-5k-sample
find "$SRC" -type f -name '*.jpg' | sort | awk 'NR % 10 == 1' | while read -r f; do
  ln -s "$f" "data/photos-5k-sample/$(basename "$(dirname "$f")")_$(basename "$f")"
done
ls data/photos-5k-sample | wc -l
