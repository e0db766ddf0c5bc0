#!/usr/bin/env bash
# One-time set-up of a fresh machine: .venv with the pinned requirements, Korean fonts and
# Tesseract where apt-get is usable as root, and a pip-installable Korean font otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
# torch first and pinned, so nothing below can pull a multi-GB CUDA build instead.
.venv/bin/pip install --quiet "torch==2.13.0"
.venv/bin/pip install --quiet -r requirements-dev.txt
.venv/bin/pip install --quiet --no-deps -e .
# Put the package folders on sys.path as plain entries too: run from the repository root, the
# top-level folder vqvae/ would otherwise shadow the vqvae package as an empty namespace package.
.venv/bin/python - <<'PY'
import pathlib, sysconfig
root = pathlib.Path.cwd()
dirs = [root / d / "src" for d in ("common", "vqvae", "gpt2")]
pth = pathlib.Path(sysconfig.get_paths()["purelib"]) / "inverse_dalle_ocr_src.pth"
pth.write_text("".join(f"{d}\n" for d in dirs))
PY

# Training faces: every Korean font Debian packages (the Un* and Baekmuk families are held out).
DEBIAN_PACKAGES="fonts-nanum fonts-nanum-extra fonts-noto-cjk fonts-noto-cjk-extra fonts-alee
  fonts-lexi-gulim fonts-lexi-saebom fonts-naver-d2coding fonts-woowa-bm
  fonts-unfonts-core fonts-baekmuk
  fontconfig hunspell-ko tesseract-ocr tesseract-ocr-kor tesseract-ocr-kor-vert"
missing=$(for p in $DEBIAN_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup: installing Debian packages: $(echo $missing)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
elif [ -n "$missing" ]; then
  echo "setup: not root or no apt-get; installing the pip fallback font (Noto Sans CJK)"
  .venv/bin/pip install --quiet manimgx-fonts-cjk
fi
# Korean families from npm (Fontsource's, merged, and three ready-made packages) into
# ~/.local/share/fonts/fontsource; one that cannot be fetched is named and skipped.
.venv/bin/python -m ocr_common.fontsource || echo "setup: some npm Korean fonts are missing (above)"
.venv/bin/python -m ocr_common.fonts --summary || true
