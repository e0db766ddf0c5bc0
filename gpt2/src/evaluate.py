"""Score a reader: python src/evaluate.py MODEL_DIR TABLE [--group-by orientation] [--output F]

The command lives in inverse_dalle.cli, shared with `inverse-dalle evaluate`.
"""

from inverse_dalle.cli import evaluate
from ocr_common.errors import run_cli

if __name__ == "__main__":
    run_cli(evaluate)
