"""Read text: python src/predict.py MODEL_DIR TABLE_OR_FOLDER [--output predictions.csv]

The command lives in inverse_dalle.cli, shared with `inverse-dalle read`.
"""

from inverse_dalle.cli import read
from ocr_common.errors import run_cli

if __name__ == "__main__":
    run_cli(read)
