#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what rtx needs to build and test on a Debian 12 machine, and nothing that is already
# there. Safe to run any number of times. The CUDA Toolkit (NVRTC, cudart) is expected under
# /usr/local/cuda (or CUDA_PATH); it is not a Debian package on this kind of machine.
set -euo pipefail

packages=(
  meson ninja-build pkg-config g++ cmake
  libeigen3-dev nlohmann-json3-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  doctest-dev libonnx-testdata
  python3-numpy
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

cuda="${CUDA_PATH:-/usr/local/cuda}"
if [ ! -f "$cuda/include/nvrtc.h" ]; then
  echo "setup: no CUDA Toolkit with NVRTC under $cuda (set CUDA_PATH)" >&2
  exit 1
fi

# The ONNX node tests for opsets newer than Debian's (FP8/INT4 Q/DQ, Gelu, RMSNormalization,
# Attention) ship inside the PyPI onnx package; 1.22 is the last release that carries them. Only
# the conformance suite reads them, and it skips that part with the reason when they are absent.
if ! python3 -c "import onnx, sys; sys.exit(0 if onnx.__version__ == '1.22.0' else 1)" 2>/dev/null; then
  echo "setup: installing onnx==1.22.0 from PyPI (conformance test data)"
  python3 -m pip install -q onnx==1.22.0 || echo "setup: warning: pip could not install onnx==1.22.0; newer-opset conformance tests will be skipped"
fi
