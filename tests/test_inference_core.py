"""Reading, drawing and tokenising with an export import no Lightning (issue 16): the inference
core is format + bundle + reading/generation, and Lightning stays with training."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

READ = (
    "import inverse_dalle, sys; from inverse_dalle import InverseDalleOCR; "
    "ocr = InverseDalleOCR.from_pretrained('pretrained/korean-ocr-tiny'); "
    "ocr.read('examples/03-horizontal.png'); assert 'lightning' not in sys.modules"
)
TOKENIZE = (
    "import sys; from PIL import Image; from vqvae import ImageTokenizer; "
    "t = ImageTokenizer.from_pretrained('pretrained/korean-ocr-tiny/vqvae'); "
    "grid = t.tokenize([Image.open('examples/03-horizontal.png')])[0]; t.draw(grid); "
    "assert 'lightning' not in sys.modules"
)
# Measuring a VQVAE's fidelity (the core of vqvae/src/evaluate.py, PSNR included).
FIDELITY = (
    "import sys, vqvae.fidelity; from vqvae.images import psnr; assert psnr(4.0) == 0.0; "
    "assert 'lightning' not in sys.modules"
)
# The drawer's modules and the export format (a drawer export itself is not shipped).
DRAW = (
    "import sys; from inverse_dalle import ImageGenerator; "
    "import inverse_dalle.export_format, inverse_dalle.exported, inverse_dalle.generation, "
    "inverse_dalle.image_sampling, inverse_dalle.grid_repair, inverse_dalle.reading; "
    "assert 'lightning' not in sys.modules"
)


@pytest.mark.parametrize(
    "code", [READ, TOKENIZE, FIDELITY, DRAW], ids=["read", "tokenize", "fidelity", "draw"]
)
def test_inference_imports_no_lightning(code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_check_can_fail() -> None:
    """The same check sees Lightning where training code is imported."""
    code = "import sys, inverse_dalle.export; assert 'lightning' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, timeout=600)
    assert done.returncode != 0
