"""One table from results/rounds/*.txt: per variant, the median over rounds of the
'median' column and the min over rounds of the 'min-med' column (ms), plus the loads."""
import glob, os, re, sys, statistics as st
d = sys.argv[1]
rows, loads = {}, []
for f in sorted(glob.glob(os.path.join(d, "*-r*.txt"))):
    kind = os.path.basename(f).split("-r")[0]
    for line in open(f):
        if line.startswith("uptime"):
            loads.append(float(re.search(r"load average: ([\d.]+)", line).group(1)))
        m = re.match(r"(.{36}) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)$", line.rstrip("\n"))
        if m:
            name = m.group(1).strip()
            if kind in ("nosimd", "simd") and name.startswith("libjpeg"):
                name = name.replace("libjpeg", f"libjpeg[{kind}]", 1)
            rows.setdefault(name, []).append((float(m.group(2)), float(m.group(6))))
print(f"rounds: {len(glob.glob(os.path.join(d, 'nosimd-r*.txt')))}; 1-min load average during runs: "
      f"min {min(loads):.2f}, median {st.median(loads):.2f}, max {max(loads):.2f} (2 cores)")
print(f"{'variant':<42} {'median ms':>10} {'best min ms':>12} {'n':>3}")
for name, v in rows.items():
    print(f"{name:<42} {st.median(x[0] for x in v):>10.3f} {min(x[1] for x in v):>12.3f} {len(v):>3}")
