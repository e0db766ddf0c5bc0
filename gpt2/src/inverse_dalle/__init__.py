"""Stage 2 of Inverse DALL-E OCR: a GPT-2 that reads rows of visual tokens (finetuned: draws)."""

from inverse_dalle.generation import ImageGenerator
from inverse_dalle.ocr import InverseDalleOCR

__all__ = ["ImageGenerator", "InverseDalleOCR"]
