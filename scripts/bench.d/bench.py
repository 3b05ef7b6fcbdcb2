"""Benchmark pdfmill against ImageMagick, img2pdf and plain `cp`.

Run through scripts/bench, which installs the tools, builds pdfmill and then runs this file with
the venv's Python. Progress goes to stderr; stdout gets one Markdown table and the summary lines;
the raw numbers go to target/bench/results.json.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
PDFMILL = ROOT / "target/release/pdfmill"
IMG2PDF = ROOT / ".tools/venv/bin/img2pdf"
# Not `convert` from PATH: a machine may have a stand-in earlier on PATH; Debian's ImageMagick 6 is here.
CONVERT = "/usr/bin/convert"
GNU_TIME = "/usr/bin/time"
RUN_TIMEOUT_S = 600

TOOLS = ["pdfmill", "magick", "img2pdf", "cp"]
PEERS = ["magick", "img2pdf"]
LABEL = {"pdfmill": "pdfmill", "magick": "ImageMagick", "img2pdf": "img2pdf", "cp": "cp"}

# Debian's ImageMagick 6 policy.xml forbids the PDF coder. ImageMagick loads every policy.xml on
# its search path and the last rule matching a coder wins; $XDG_CONFIG_HOME/ImageMagick is read
# after /etc/ImageMagick-6 (MAGICK_CONFIGURE_PATH is read before it, so it cannot override), so
# this private file re-allows PDF for the bench's own runs only. Resource limits stay as shipped.
MAGICK_POLICY = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE policymap [
  <!ELEMENT policymap (policy)*>
  <!ATTLIST policymap xmlns CDATA #FIXED ''>
  <!ELEMENT policy EMPTY>
  <!ATTLIST policy xmlns CDATA #FIXED '' domain NMTOKEN #REQUIRED
    name NMTOKEN #IMPLIED pattern CDATA #IMPLIED rights NMTOKEN #IMPLIED
    stealth NMTOKEN #IMPLIED value CDATA #IMPLIED>
]>
<policymap>
  <policy domain="coder" rights="read|write" pattern="PDF" />
</policymap>
"""


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------------


def smooth_field(rng, h, w, channels, cells):
    """Random values on a coarse grid (about `cells` along the longer side), bicubically upscaled."""
    gh = max(2, round(cells * h / max(h, w)))
    gw = max(2, round(cells * w / max(h, w)))
    out = np.empty((h, w, channels), np.float32)
    for c in range(channels):
        grid = Image.fromarray(rng.random((gh, gw), dtype=np.float32), "F")
        out[..., c] = np.asarray(grid.resize((w, h), Image.BICUBIC))
    return out


def photo(seed, w, h, channels=3, sigma=3.0, maxval=255):
    """Photo-like pixels: three octaves of smooth random colour fields plus Gaussian sensor noise
    (sigma in 8-bit steps). Noise is what makes real photos compress to about half their raw size;
    flat colour would flatter every tool that deflates."""
    rng = np.random.default_rng(seed)
    f = (0.55 * smooth_field(rng, h, w, channels, 3)
         + 0.30 * smooth_field(rng, h, w, channels, 12)
         + 0.15 * smooth_field(rng, h, w, channels, 48))
    f -= f.min()
    f *= maxval / max(float(f.max()), 1e-6)
    f += rng.standard_normal(f.shape, dtype=np.float32) * np.float32(sigma * maxval / 255)
    np.clip(np.rint(f, out=f), 0, maxval, out=f)
    return f.astype(np.uint8 if maxval == 255 else np.uint16)


def alpha_mask(seed, w, h, maxval=255):
    """A cut-out: mostly fully opaque or fully transparent, with soft edges between."""
    f = smooth_field(np.random.default_rng(seed), h, w, 1, 4)[..., 0]
    a = np.clip((f - 0.35) * 5.0, 0.0, 1.0) * maxval
    return np.rint(a).astype(np.uint8 if maxval == 255 else np.uint16)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def _filtered_rows(raw, bpp):
    """PNG-filter every row with each of the five filters and keep, per row, the one with the
    smallest sum of absolute signed bytes (libpng's heuristic)."""
    x = raw.astype(np.int16)
    a = np.zeros_like(x)
    a[:, bpp:] = x[:, :-bpp]
    b = np.zeros_like(x)
    b[1:] = x[:-1]
    c = np.zeros_like(x)
    c[1:, bpp:] = x[:-1, :-bpp]
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    cands = np.stack([(x - pred) & 0xFF for pred in (0, a, b, (a + b) >> 1, paeth)]).astype(np.uint8)
    cost = np.abs(cands.view(np.int8).astype(np.int32)).sum(axis=2)
    choice = cost.argmin(axis=0)
    out = np.empty((raw.shape[0], raw.shape[1] + 1), np.uint8)
    out[:, 0] = choice
    out[:, 1:] = cands[choice, np.arange(raw.shape[0])]
    return out.tobytes()


def write_png(path, pixels, colour_type, interlace=False):
    """A small PNG encoder for what Pillow cannot write: 16-bit colour and Adam7 interlacing.
    pixels is (h, w, channels), uint8 or uint16 (stored big-endian, as PNG wants)."""
    h, w, ch = pixels.shape
    depth = 16 if pixels.dtype == np.uint16 else 8
    bpp = ch * depth // 8

    def scanlines(img):
        ih, iw, _ = img.shape
        if ih == 0 or iw == 0:
            return b""
        raw = (img.astype(">u2") if depth == 16 else img).view(np.uint8).reshape(ih, iw * bpp)
        return _filtered_rows(raw, bpp)

    if interlace:
        data = b"".join(scanlines(pixels[y0::dy, x0::dx]) for x0, y0, dx, dy in ADAM7)
    else:
        data = scanlines(pixels)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 1 if interlace else 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                           + chunk(b"IDAT", zlib.compress(data, 6)) + chunk(b"IEND", b""))


def rgba(seed, w, h, maxval=255):
    return np.dstack([photo(seed, w, h, 3, maxval=maxval), alpha_mask(seed + 1000, w, h, maxval)])


def palette(seed, w, h):
    # Median-cut to 256 colours with Floyd–Steinberg dithering, as a GIF-era tool would.
    return Image.fromarray(photo(seed, w, h)).quantize(256)


# Every corpus image: (file name, how it is made, whether it is the big one, writer of that
# path). All pixels come from photo() (noise sigma 3 unless said) with a fixed seed, so the corpus
# is byte-identical on every run for the Pillow and numpy that scripts/bench pins.
CORPUS = [
    ("tiny-rgb-32x32.png", "8-bit RGB, Pillow; measures start-up", False,
     lambda p: Image.fromarray(photo(1, 32, 32)).save(p)),
    ("rgb-1024x768.png", "8-bit RGB, Pillow", False,
     lambda p: Image.fromarray(photo(2, 1024, 768)).save(p)),
    ("rgba-1024x1024.png", "8-bit RGBA, Pillow; alpha is a soft-edged cut-out", False,
     lambda p: Image.fromarray(rgba(3, 1024, 1024), "RGBA").save(p)),
    ("rgb-5000x5000.png", "8-bit RGB, Pillow; noise sigma 0.33 so it lands near 17 MB", True,
     lambda p: Image.fromarray(photo(4, 5000, 5000, sigma=0.33)).save(p)),
    ("photo-4000x3000.jpg", "baseline JPEG, Pillow quality 85, noise sigma 3.2", False,
     lambda p: Image.fromarray(photo(5, 4000, 3000, sigma=3.2)).save(p, quality=85)),
    ("grey-1400x1000.png", "8-bit grey, Pillow", False,
     lambda p: Image.fromarray(photo(6, 1400, 1000, 1)[..., 0], "L").save(p)),
    ("palette-1280x960.png", "8-bit indexed, Pillow median cut to 256 colours, dithered", False,
     lambda p: palette(7, 1280, 960).save(p)),
    ("rgb16-1200x900.png", "16-bit RGB, own numpy encoder (Pillow cannot write it)", False,
     lambda p: write_png(p, photo(8, 1200, 900, maxval=65535), 2)),
    ("rgba16-1024x1024.png", "16-bit RGBA, own numpy encoder", False,
     lambda p: write_png(p, rgba(9, 1024, 1024, maxval=65535), 6)),
    ("interlaced-rgb-1280x960.png", "8-bit RGB, Adam7, own numpy encoder (Pillow cannot interlace)", False,
     lambda p: write_png(p, photo(10, 1280, 960), 2, interlace=True)),
]

# The many-small-files set cycles through these 64x64 types, made like their big namesakes.
SMALL_TYPES = [
    ("rgb", lambda seed, p: Image.fromarray(photo(seed, 64, 64)).save(p)),
    ("rgba", lambda seed, p: Image.fromarray(rgba(seed, 64, 64), "RGBA").save(p)),
    ("grey", lambda seed, p: Image.fromarray(photo(seed, 64, 64, 1)[..., 0], "L").save(p)),
    ("palette", lambda seed, p: palette(seed, 64, 64).save(p)),
    ("rgb16", lambda seed, p: write_png(p, photo(seed, 64, 64, maxval=65535), 2)),
]


def make_corpus(dirpath, quick):
    images = []
    for name, how, big, writer in CORPUS:
        if big and quick:
            continue
        path = dirpath / name
        t0 = time.perf_counter()
        writer(path)
        with Image.open(path) as im:
            w, h = im.size
        images.append({"name": name, "how": how, "big": big, "path": str(path),
                       "width": w, "height": h, "bytes": path.stat().st_size})
        log(f"  made {name}: {path.stat().st_size:,} bytes in {time.perf_counter() - t0:.1f} s")
    return images


def make_small(dirpath, count):
    dirpath.mkdir()
    paths = []
    for i in range(count):
        kind, make = SMALL_TYPES[i % len(SMALL_TYPES)]
        path = dirpath / f"s{i:04d}-{kind}.png"
        make(100_000 + i, path)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


def run_once(cmd, env, workdir, rss=False):
    """Run cmd; returns (wall seconds, peak RSS KiB or None, error text or None).
    With rss, cmd runs under GNU time, which costs a fork and an exec of its own, so timed runs
    go without it. Not this process's wait4: a child forked from Python starts with Python's
    pages and its ru_maxrss would count them; time is a small C program."""
    rss_file = workdir / "rss.txt"
    err_file = workdir / "stderr.txt"
    rss_file.unlink(missing_ok=True)
    full = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *cmd] if rss else cmd
    with open(err_file, "wb") as err:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(full, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err)
        except OSError as e:
            return time.perf_counter() - t0, None, str(e)
        # A blocking wait, with a timer to kill a hung run. Not wait(timeout=...): with a
        # timeout, Python polls with sleeps that double from 0.5 ms to 50 ms, which rounds every
        # time up to the next poll (3.5, 7.5, 15.5, 31.5, 63.5 ms, …).
        watchdog = threading.Timer(RUN_TIMEOUT_S, proc.kill)
        watchdog.start()
        try:
            proc.wait()
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - t0
        if proc.returncode == -signal.SIGKILL and wall >= RUN_TIMEOUT_S:
            return wall, None, f"timed out after {RUN_TIMEOUT_S} s"
    words = rss_file.read_text().split() if rss and rss_file.exists() else []
    peak = int(words[-1]) if words and words[-1].isdigit() else None
    if proc.returncode != 0:
        text = [l.strip() for l in err_file.read_text(errors="replace").splitlines() if l.strip()]
        # A Python traceback ends with its message; ImageMagick puts it first; either way one line.
        msg = (text[-1] if cmd[0].endswith("img2pdf") else text[0]) if text else ""
        return wall, peak, f"exit {proc.returncode}: {msg[:200]}"
    return wall, peak, None


def check_pdf(path):
    try:
        with open(path, "rb") as f:
            return f.read(5) == b"%PDF-"
    except OSError:
        return False


def command(tool, src, out):
    return {
        "pdfmill": [str(PDFMILL), "convert", src, "-o", out],
        "magick": [CONVERT, src, out],
        "img2pdf": [str(IMG2PDF), src, "-o", out],
        "cp": ["cp", src, out],
    }[tool]


def measure(tool, image, runs, warmup, env, workdir):
    out = workdir / f"out-{tool}{'.pdf' if tool != 'cp' else Path(image['path']).suffix}"
    cmd = command(tool, image["path"], str(out))
    times, rss = [], None
    for i in range(warmup + runs):
        out.unlink(missing_ok=True)
        wall, peak, err = run_once(cmd, env, workdir, rss=i == 0)
        rss = peak if i == 0 else rss
        if err is None:
            if not out.exists() or out.stat().st_size == 0:
                err = "exit 0 but wrote no output"
            elif tool == "cp":
                if out.stat().st_size != image["bytes"]:
                    err = "copy has the wrong size"
            elif not check_pdf(out):
                err = "output is not a PDF"
        if err is not None:
            return {"status": "fail", "error": err, "cmd": cmd}
        if i >= warmup:
            times.append(wall)
    # Peak RSS comes from the first run (the warm-up where there is one); it hardly varies.
    result = {"status": "ok", "cmd": cmd, "runs": runs, "warmup": warmup, "times_s": times,
              "median_s": statistics.median(times), "peak_rss_kib": rss or 0,
              "out_bytes": out.stat().st_size}
    out.unlink(missing_ok=True)
    return result


def many_small(files, tool, env, workdir, runs):
    """pdfmill: one `--each` process for all files, a warm-up (which gives peak RSS) and then
    the median of `runs`. Peers: one process per file, one pass; files/s counts only the files
    they converted."""
    if tool == "pdfmill":
        outdir = workdir / "each-out"
        cmd = [str(PDFMILL), "convert", "--each", *map(str, files), "--out-dir", str(outdir)]
        rates, rss = [], None
        for i in range(1 + runs):
            shutil.rmtree(outdir, ignore_errors=True)
            outdir.mkdir()
            wall, peak, err = run_once(cmd, env, workdir, rss=i == 0)
            rss = peak if i == 0 else rss
            if err is None:
                missing = [f.name for f in files if not check_pdf(outdir / (f.stem + ".pdf"))]
                if missing:
                    err = f"{len(missing)} of {len(files)} outputs missing or not PDF, e.g. {missing[0]}"
            if err is not None:
                shutil.rmtree(outdir, ignore_errors=True)
                return {"status": "fail", "error": err, "files": len(files)}
            if i > 0:
                rates.append(len(files) / wall)
        shutil.rmtree(outdir, ignore_errors=True)
        return {"status": "ok", "files": len(files), "runs": runs, "files_per_s_runs": rates,
                "files_per_s": statistics.median(rates), "peak_rss_kib": rss}
    spent, ok, errors = 0.0, 0, {}
    out = workdir / "small-out.pdf"
    for f in files:
        out.unlink(missing_ok=True)
        wall, _, err = run_once(command(tool, str(f), str(out)), env, workdir)
        if err is None and not check_pdf(out):
            err = "output is not a PDF"
        if err is None:
            spent += wall
            ok += 1
        else:
            kind = f.stem.split("-", 1)[1]
            errors.setdefault(kind, err)
    out.unlink(missing_ok=True)
    return {"status": "ok" if ok else "fail", "files": len(files), "converted": ok,
            "failed_by_type": errors, "files_per_s": ok / spent if ok else None}


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------


def fmt_ms(s):
    ms = s * 1000
    return f"{ms:.1f}" if ms < 10 else f"{ms:.0f}"


def fmt_num(x):
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def fmt_bytes(n):
    for unit, size in (("MB", 10**6), ("KB", 10**3)):
        if n >= size:
            v = n / size
            return f"{v:.2f} {unit}" if v < 10 else f"{v:.1f} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{n} B"


def fmt_ratio(r):
    if r is None:
        return "–"
    return f"{r:.2f}×" if r < 1 else f"{r:.1f}×" if r < 10 else f"{r:.0f}×"


def ratios(res):
    pm = res["pdfmill"]
    out = {}
    for peer in PEERS:
        ok = pm["status"] == "ok" and res[peer]["status"] == "ok"
        out[peer] = res[peer]["median_s"] / pm["median_s"] if ok else None
    done = [res[p]["median_s"] for p in PEERS if res[p]["status"] == "ok"]
    out["faster_peer"] = min(done) / pm["median_s"] if done and pm["status"] == "ok" else None
    ok = pm["status"] == "ok" and res["cp"]["status"] == "ok"
    out["cp"] = pm["median_s"] / res["cp"]["median_s"] if ok else None
    return out


def table(images):
    head = ["image", "pixels", "bytes"]
    for tool in TOOLS:
        head += [f"{LABEL[tool]} ms", f"{LABEL[tool]} MB"] + ([f"{LABEL[tool]} KB"] if tool != "cp" else [])
    head += ["vs ImageMagick", "vs img2pdf", "vs cp"]
    rows = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["--:"] * (len(head) - 1)) + "|"]
    for im in images:
        cells = [im["name"], f"{im['width']}×{im['height']}", fmt_bytes(im["bytes"])]
        for tool in TOOLS:
            r = im["results"][tool]
            n = 2 if tool == "cp" else 3
            if r["status"] == "ok":
                vals = [fmt_ms(r["median_s"]), fmt_num(r["peak_rss_kib"] * 1024 / 1e6)]
                cells += vals + ([fmt_num(r["out_bytes"] / 1e3)] if n == 3 else [])
            else:
                cells += [r["status"]] + ["–"] * (n - 1)
        rt = im["ratios"]
        cells += [fmt_ratio(rt["magick"]), fmt_ratio(rt["img2pdf"]), fmt_ratio(rt["cp"])]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def tool_versions(env):
    def first_line(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return None
    return {"pdfmill": first_line([str(PDFMILL), "--version"]) if PDFMILL.exists() else None,
            "imagemagick": first_line([CONVERT, "-version"]),
            "img2pdf": first_line([str(IMG2PDF), "--version"])}


def main():
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="3 runs, no 5000x5000 image, 1 pass of the small files")
    ap.add_argument("--runs", type=int, help="timed runs per cell (default 7, or 3 with --quick)")
    ap.add_argument("--skip-pdfmill", action="store_true", help="peers only (pdfmill column shows skip)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary corpus directory")
    args = ap.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    if runs < 1:
        ap.error("--runs must be at least 1")
    big_peer_runs = min(runs, 3)  # ImageMagick takes seconds on 25 Mpx
    small_count, small_runs, small_peer_count = 2000, (1 if args.quick else 3), (20 if args.quick else 100)

    tmp = Path(tempfile.mkdtemp(prefix="pdfmill-bench-"))
    try:
        return bench(args, tmp, runs, big_peer_runs, small_count, small_runs, small_peer_count)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def bench(args, tmp, runs, big_peer_runs, small_count, small_runs, small_peer_count):
    work = tmp / "work"
    work.mkdir()
    magick_home = tmp / "magick-config"
    (magick_home / "ImageMagick").mkdir(parents=True)
    (magick_home / "ImageMagick/policy.xml").write_text(MAGICK_POLICY)
    env = dict(os.environ, XDG_CONFIG_HOME=str(magick_home))

    log(f"corpus in {tmp}")
    (tmp / "corpus").mkdir()
    images = make_corpus(tmp / "corpus", args.quick)

    # The policy override must really work, or every ImageMagick cell would read `fail`.
    probe = work / "probe.pdf"
    _, _, err = run_once([CONVERT, images[0]["path"], str(probe)], env, work)
    if err or not check_pdf(probe):
        log(f"error: ImageMagick still refuses to write PDF with the private policy: {err}")
        return 2
    log("ImageMagick writes PDF with the private policy")

    skip = {"status": "skip"}
    for im in images:
        log(f"{im['name']}:")
        im["results"] = {}
        for tool in TOOLS:
            if tool == "pdfmill" and args.skip_pdfmill:
                im["results"][tool] = skip
                continue
            peer_on_big = im["big"] and tool in PEERS
            n, warm = (big_peer_runs, 0) if peer_on_big else (runs, 1)
            r = measure(tool, im, n, warm, env, work)
            im["results"][tool] = r
            if r["status"] == "ok":
                log(f"  {tool:8} {fmt_ms(r['median_s']):>7} ms  {r['peak_rss_kib'] * 1024 / 1e6:7.1f} MB  "
                    f"{r['out_bytes']:>11,} B")
            else:
                log(f"  {tool:8} FAIL {r['error']}")
        im["ratios"] = ratios(im["results"])

    log(f"making {small_count} small PNGs")
    small = make_small(tmp / "small", small_count)
    many = {}
    for tool in ["pdfmill", *PEERS]:
        if tool == "pdfmill" and args.skip_pdfmill:
            many[tool] = skip
            continue
        files = small if tool == "pdfmill" else small[:small_peer_count]
        many[tool] = many_small(files, tool, env, work, small_runs)
        r = many[tool]
        log(f"  {tool:8} " + (f"{r['files_per_s']:.1f} files/s" if r["status"] == "ok" else f"FAIL {r}"))

    print(table(images))
    print()
    faster = [im["ratios"]["faster_peer"] for im in images if im["ratios"]["faster_peer"] is not None]
    if faster:
        print(f"pdfmill vs the faster peer, median over {len(faster)} images: {fmt_ratio(statistics.median(faster))} "
              f"(range {fmt_ratio(min(faster))} to {fmt_ratio(max(faster))})")
    else:
        print("pdfmill vs the faster peer: no image where pdfmill and a peer both succeeded")
    pm = many["pdfmill"]
    parts = [f"many small files ({small_count} × 64×64 PNG, {len(SMALL_TYPES)} types): pdfmill --each "
             + (f"{pm['files_per_s']:.0f} files/s (one process, median of {pm['runs']})" if pm["status"] == "ok"
                else pm["status"])]
    for peer in PEERS:
        r = many[peer]
        if r["status"] != "ok":
            parts.append(f"{LABEL[peer]} one process per file: fail")
            continue
        ratio = f", pdfmill {fmt_ratio(pm['files_per_s'] / r['files_per_s'])}" if pm["status"] == "ok" else ""
        failed = f", refused {r['files'] - r['converted']}" if r["converted"] < r["files"] else ""
        parts.append(f"{LABEL[peer]} one process per file: {r['files_per_s']:.1f} files/s "
                     f"({r['converted']} of {r['files']} converted{failed}{ratio})")
    print("; ".join(parts))
    big = f" ({big_peer_runs} and none for the peers on the 5000×5000)" if any(im["big"] for im in images) else ""
    print(f"\n{runs} timed runs per cell after 1 warm-up{big}: median wall ms of the whole process, "
          f"peak RSS MB, output KB (MB and KB are 10^6 and 10^3 bytes); vs peer = peer ms / pdfmill ms, "
          f"vs cp = pdfmill ms / cp ms; {os.cpu_count()} cores.")

    failures = [r for r in [*(im["results"]["pdfmill"] for im in images), pm] if r["status"] == "fail"]
    results = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "versions": tool_versions(env),
        "options": {"quick": args.quick, "runs": runs, "big_peer_runs": big_peer_runs,
                    "skip_pdfmill": args.skip_pdfmill},
        "images": [{k: v for k, v in im.items() if k != "path"} for im in images],
        "summary": {"faster_peer_ratios": faster,
                    "median_faster_peer_ratio": statistics.median(faster) if faster else None},
        "many_small_files": {"count": small_count, "types": [t for t, _ in SMALL_TYPES],
                             "peer_subset": small_peer_count, **many},
    }
    out = ROOT / "target/bench/results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")
    if failures:
        for r in failures:
            log(f"error: pdfmill failed: {r['error']}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
