"""Stage 1 of Inverse DALL-E OCR: a VQVAE that turns text images into rows of visual tokens."""

from vqvae.model import VQVAE
from vqvae.tokenizer import ImageTokenizer

__all__ = ["VQVAE", "ImageTokenizer"]
