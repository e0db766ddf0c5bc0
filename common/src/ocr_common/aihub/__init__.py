"""AIHub's Korean outdoor-sign and book-cover OCR set → cropped text images + dataset table.

`process_aihub(json_dir, image_dir, output_dir, output_dataset)` crops every usable annotation,
counts every skipped one by reason (`SKIP_REASONS`) and returns a `Report`.
"""

from ocr_common.aihub.crops import VERTICAL_ASPECT
from ocr_common.aihub.labels import SKIP_REASONS
from ocr_common.aihub.process import Report, process_aihub

__all__ = ["SKIP_REASONS", "VERTICAL_ASPECT", "Report", "process_aihub"]
