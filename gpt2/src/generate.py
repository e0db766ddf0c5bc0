"""Draw text-line images: python src/generate.py MODEL_DIR "문자 인식 모델" [--num-images N] …

The command lives in inverse_dalle.cli, shared with `inverse-dalle draw`.
"""

from inverse_dalle.cli import draw
from ocr_common.errors import run_cli

if __name__ == "__main__":
    run_cli(draw)
