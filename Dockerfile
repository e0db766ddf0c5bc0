# GPU image for real training runs: NVIDIA's NGC PyTorch (CUDA, cuDNN, NCCL and Apex included).
FROM nvcr.io/nvidia/pytorch:25.01-py3

# Korean fonts for the synthetic dataset, Tesseract for the baseline and fidelity figures.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       fonts-nanum fonts-nanum-extra fonts-noto-cjk fonts-unfonts-core fonts-baekmuk fontconfig \
       hunspell-ko tesseract-ocr tesseract-ocr-kor tesseract-ocr-kor-vert \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /workspace/inverse-dalle-ocr
COPY requirements.txt ./
# Keep the image's own CUDA build of torch: install everything else from requirements.txt.
RUN grep -v '^torch==' requirements.txt > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt
COPY . .
RUN pip install --no-cache-dir --no-deps -e .
