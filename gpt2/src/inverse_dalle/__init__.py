"""Stage 2 of Inverse DALL-E OCR: a GPT-2 that reads (and later draws) rows of visual tokens."""

from inverse_dalle.ocr import InverseDalleOCR

__all__ = ["InverseDalleOCR"]
