#!/usr/bin/env bash
# Builds pyhost/ngcodec/web/ngcodec.wasm from wasm_src/ with Debian's emscripten
# (3.1.6). The output is byte-for-byte reproducible; tests/test_wasm_module.py
# rebuilds it and compares with the committed file.
#
#   build_scripts/build_wasm.sh [OUTPUT]     (default: the package's copy)
#
# Do not set EM_CACHE: Debian's library cache is prebuilt and frozen.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/pyhost/ngcodec/web/ngcodec.wasm}
exports=_malloc,_free,_ngc_version,_ngc_error_name,_ngc_decoded_size,\
_ngc_raw_decode,_ngc_raw_encode,_ngc_cseg_encode_bound,_ngc_cseg_encode,\
_ngc_cseg_decode,\
_ngc_cseg_decode_box,_ngc_cseg_read_voxels,_ngc_cseg_label_counts,_ngc_cseg_contains,_ngc_cseg_mask,\
_ngc_cseg_remap,_ngc_downsample

cd "$here/wasm_src"
# Relative source paths and a fixed output name keep absolute paths out of
# the module, so the bytes do not depend on where the checkout lives.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
emcc -O3 -DNDEBUG -flto -msimd128 -mbulk-memory \
  --no-entry -sSTANDALONE_WASM \
  -sFILESYSTEM=0 -sMALLOC=emmalloc \
  -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=1MB -sMAXIMUM_MEMORY=4GB \
  -sTOTAL_STACK=256KB -Wl,--stack-first \
  -sEXPORTED_FUNCTIONS="$exports" \
  -Wall -Wextra -Werror \
  ngcodec.c raw.c cseg_decode.c cseg_encode.c cseg_scan.c cseg_ops.c cseg_remap.c downsample.c -o "$tmp/ngcodec.wasm"
cp "$tmp/ngcodec.wasm" "$out"
echo "built $out ($(wc -c < "$out") bytes, sha256 $(sha256sum "$out" | cut -c1-16))"
