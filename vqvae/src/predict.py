"""Tokenise a dataset table: python src/predict.py CONFIG CKPT --dataset T --output O

The command lives in vqvae.cli, shared with `inverse-dalle tokenize`.
"""

from ocr_common.errors import run_cli
from vqvae.cli import tokenize

if __name__ == "__main__":
    run_cli(tokenize)
