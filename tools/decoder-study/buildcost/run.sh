#!/bin/bash
# Clean release build of each probe with -j1 (CPU time is the load-independent number),
# then its stripped binary size. Usage: buildcost/run.sh [names...]  → buildcost/results.txt
cd "$(dirname "$0")"
names=${@:-none jpegdec zune image moz-nosimd moz-simd moz-default turbojpeg}
for n in $names; do
  rm -rf $n/target
  echo "== $n  ($(uptime | sed 's/.*load/load/'); nasm: $(which nasm || echo none); cmake: $(which cmake || echo none))"
  ( cd $n && /usr/bin/time -f "wall %e s, user %U s, sys %S s" cargo build --release -j1 2>&1 ) > $n/build.log 2>&1
  tail -1 $n/build.log
  grep -E "^warning: bc|warning: .*NASM|^error|failed to run|is \`cmake\` not installed|Could not find" $n/build.log | head -5
  echo "crates compiled: $(grep -c '^ *Compiling' $n/build.log)"
  [ -f $n/target/release/bc-$n ] && echo "binary: $(stat -c %s $n/target/release/bc-$n) bytes" && $n/target/release/bc-$n ../data/photos/0001_cat.jpg
done
