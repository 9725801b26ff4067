/*
 * ngcodec.c - version, status names and chunk geometry: the pieces of the
 * ABI that are not a codec.
 */
#include "internal.h"

/* Emscripten's standalone runtime imports this hook to tell the host that
 * memory grew. Defining it here (a no-op: hosts re-derive their views after
 * every call anyway) leaves the module with zero imports. */
void emscripten_notify_memory_growth(size_t index) {
  (void)index;
}

uint32_t ngc_version(void) { return NGC_VERSION_NUMBER; }

const char *ngc_error_name(int status) {
  switch (status) {
    case NGC_OK: return "NGC_OK";
    case NGC_ERR_BAD_PARAMS: return "NGC_ERR_BAD_PARAMS";
    case NGC_ERR_DST_TOO_SMALL: return "NGC_ERR_DST_TOO_SMALL";
    case NGC_ERR_SIZE_MISMATCH: return "NGC_ERR_SIZE_MISMATCH";
    case NGC_ERR_TRUNCATED: return "NGC_ERR_TRUNCATED";
    case NGC_ERR_UNALIGNED: return "NGC_ERR_UNALIGNED";
    case NGC_ERR_BAD_CHANNEL_OFFSET: return "NGC_ERR_BAD_CHANNEL_OFFSET";
    case NGC_ERR_BAD_BITS: return "NGC_ERR_BAD_BITS";
    case NGC_ERR_BAD_TABLE_OFFSET: return "NGC_ERR_BAD_TABLE_OFFSET";
    case NGC_ERR_BAD_VALUES_OFFSET: return "NGC_ERR_BAD_VALUES_OFFSET";
    case NGC_ERR_BAD_TABLE_INDEX: return "NGC_ERR_BAD_TABLE_INDEX";
    case NGC_ERR_EMPTY_TABLE: return "NGC_ERR_EMPTY_TABLE";
    case NGC_ERR_OFFSET_OVERFLOW: return "NGC_ERR_OFFSET_OVERFLOW";
    case NGC_ERR_TOO_LARGE: return "NGC_ERR_TOO_LARGE";
    case NGC_ERR_NO_MEMORY: return "NGC_ERR_NO_MEMORY";
    case NGC_ERR_NOT_MAPPED: return "NGC_ERR_NOT_MAPPED";
    case NGC_ERR_TABLE_OVERLAP: return "NGC_ERR_TABLE_OVERLAP";
    default: return "NGC_ERR_UNKNOWN";
  }
}

int ngc_check_chunk(const ngc_chunk *chunk, uint32_t allowed_widths,
                    size_t *size_ret) {
  if (chunk == NULL || chunk->num_channels == 0 || chunk->value_bytes > 8 ||
      !(allowed_widths & (1u << chunk->value_bytes)))
    return NGC_ERR_BAD_PARAMS;
  /* 64-bit products cannot overflow: each factor is below 2^32 and the
   * running product is capped at SIZE_MAX (2^32 - 1 in wasm32) each step. */
  uint64_t n = (uint64_t)chunk->num_channels * chunk->value_bytes;
  for (int i = 0; i < 3; i++) {
    n *= chunk->size[i];
    if (n > SIZE_MAX) return NGC_ERR_TOO_LARGE;
  }
  *size_ret = (size_t)n;
  return NGC_OK;
}

int ngc_decoded_size(const ngc_chunk *chunk, size_t *size_ret) {
  if (size_ret == NULL) return NGC_ERR_BAD_PARAMS;
  return ngc_check_chunk(chunk, (1u << 1) | (1u << 2) | (1u << 4) | (1u << 8),
                         size_ret);
}
