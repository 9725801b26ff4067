/*
 * cseg_remap.c - ngc_cseg_remap: a chunk's lookup tables rewritten through
 * a label mapping, its headers and packed indices copied unchanged. Checks
 * the chunk as ngc_cseg_decode does (through walk, cseg_scan.h).
 */
#include <stdlib.h>

#include "cseg_scan.h"

/* Remap rewrites table entries in place, so it first collects what the
 * words of the chunk are: runs of table entries that some index reaches,
 * and runs of headers and packed values. A word in both kinds of run
 * (tables laid over values), or in two uint64 tables out of step, makes the
 * chunk one that cannot be rewritten in place: NGC_ERR_TABLE_OVERLAP, and
 * the host decodes, maps and encodes instead. No encoder we know of writes
 * such chunks; the format does not forbid them. Runs, not a mark per word:
 * the work is per block, not per byte of the chunk. */
typedef struct run {
  uint32_t start, end; /* words [start, end) of the chunk */
} run;

typedef struct remap_op {
  ngc_mapping *map;
  const uint32_t *src;
  run *tables, *others;
  uint32_t ntables, nothers;
} remap_op;

static int remap_visit(void *op, uint32_t c, const uint32_t *w, const geometry *g,
                       const block_header *h, const uint32_t origin[3],
                       const uint32_t vis[3]) {
  (void)c;
  (void)origin;
  (void)vis;
  remap_op *r = op;
  const uint32_t vw = g->value_words;
  const uint32_t *values = w + h->values_offset;
  uint32_t reached = 1;
  if (h->bits != 0) {
    const uint32_t max = max_index(values, h->bits, g->block_volume);
    if (max >= h->entries) return NGC_ERR_BAD_TABLE_INDEX; /* (max + 1 may wrap) */
    reached = max + 1;
    const uint32_t start = (uint32_t)(values - r->src);
    r->others[r->nothers++] =
        (run){start, start + (uint32_t)values_words(h->bits, g->block_volume)};
  }
  /* In bounds: header checks and the index check above. */
  const uint32_t start = (uint32_t)(w - r->src) + h->table_offset;
  r->tables[r->ntables++] = (run){start, start + reached * vw};
  return NGC_OK;
}

/* LSD radix sort of runs by start, 8 bits a pass, passes in which every
 * start has the same digit skipped; most chunks list their runs in order
 * already, and then nothing moves. `tmp` holds n runs. */
static void sort_runs(run *a, run *tmp, uint32_t n) {
  uint32_t i = 1;
  while (i < n && a[i - 1].start <= a[i].start) i++;
  if (i >= n) return;
  static uint32_t hist[256];
  run *from = a, *to = tmp;
  for (int shift = 0; shift < 32; shift += 8) {
    memset(hist, 0, sizeof hist);
    for (i = 0; i < n; i++) hist[(from[i].start >> shift) & 255]++;
    if (hist[(from[0].start >> shift) & 255] == n) continue;
    uint32_t sum = 0;
    for (int d = 0; d < 256; d++) {
      const uint32_t h = hist[d];
      hist[d] = sum;
      sum += h;
    }
    for (i = 0; i < n; i++) to[hist[(from[i].start >> shift) & 255]++] = from[i];
    run *t = from;
    from = to;
    to = t;
  }
  if (from != a) memcpy(a, from, (size_t)n * sizeof *a);
}

/* Sorts runs and joins the overlapping ones; returns the new count. For
 * uint64 tables (vw 2), runs that overlap out of step set *clash. */
static uint32_t join_runs(run *a, run *tmp, uint32_t n, uint32_t vw, int *clash) {
  if (n == 0) return 0;
  sort_runs(a, tmp, n);
  uint32_t k = 0;
  for (uint32_t i = 1; i < n; i++) {
    if (a[i].start < a[k].end) {
      if ((a[i].start - a[k].start) % vw != 0) *clash = 1;
      if (a[i].end > a[k].end) a[k].end = a[i].end;
    } else {
      a[++k] = a[i];
    }
  }
  return k + 1;
}

/* Label -> its mapped value, memoised: a label is looked up in the keys
 * once per call, however many tables hold it. */
typedef struct memo_slot {
  uint64_t label, value;
  uint32_t state; /* MEMO_EMPTY, MEMO_MAPPED or MEMO_MISSING */
} memo_slot;
enum { MEMO_EMPTY = 0, MEMO_MAPPED = 1, MEMO_MISSING = 2 };

typedef struct memo {
  memo_slot *slots;
  uint32_t mask, size;
  const ngc_mapping *map;
  /* When the keys are few next to the table entries: every key hashed
   * once (key_slots: its index + 1, 0 empty), so that a label costs one
   * probe instead of a binary search, whose dependent loads were most of
   * remap's time. */
  uint32_t *key_slots, key_mask;
  memo_slot found; /* the answer of a key_slots lookup */
} memo;

static int memo_hash_keys(memo *m) {
  size_t slots = 64;
  while (slots < 2 * (size_t)m->map->count) slots *= 2;
  m->key_slots = calloc(slots, sizeof *m->key_slots);
  if (m->key_slots == NULL) return NGC_ERR_NO_MEMORY;
  m->key_mask = (uint32_t)(slots - 1);
  for (uint32_t k = 0; k < m->map->count; k++) {
    uint32_t i = (uint32_t)mix64(m->map->keys[k]) & m->key_mask;
    while (m->key_slots[i] != 0) i = (i + 1) & m->key_mask;
    m->key_slots[i] = k + 1;
  }
  return NGC_OK;
}

static int memo_init(memo *m, size_t expected) {
  size_t slots = 64;
  while (slots < 2 * expected && slots < ((size_t)1 << 24)) slots *= 2;
  m->slots = calloc(slots, sizeof *m->slots);
  m->mask = (uint32_t)(slots - 1);
  m->size = 0;
  return m->slots == NULL ? NGC_ERR_NO_MEMORY : NGC_OK;
}

static memo_slot *memo_find(memo *m, uint64_t label) {
  uint32_t i = (uint32_t)mix64(label) & m->mask;
  while (m->slots[i].state != MEMO_EMPTY && m->slots[i].label != label) i = (i + 1) & m->mask;
  return &m->slots[i];
}

/* The slot of label, looked up in the keys on first use; NULL when the
 * memo cannot grow (out of memory). Kept at most half full. */
static memo_slot *memo_get(memo *m, uint64_t label) {
  if (m->key_slots != NULL) {
    uint32_t i = (uint32_t)mix64(label) & m->key_mask, k;
    while ((k = m->key_slots[i]) != 0 && m->map->keys[k - 1] != label) i = (i + 1) & m->key_mask;
    m->found.label = label;
    m->found.state = k == 0 ? MEMO_MISSING : MEMO_MAPPED;
    m->found.value = k == 0 ? label : m->map->values[k - 1];
    return &m->found;
  }
  memo_slot *slot = memo_find(m, label);
  if (slot->state != MEMO_EMPTY) return slot;
  if (2 * ((uint64_t)m->size + 1) > m->mask) {
    memo bigger = {NULL, 0, 0, m->map, NULL, 0, {0, 0, 0}};
    if (memo_init(&bigger, (size_t)m->mask + 1) != NGC_OK) return NULL;
    for (uint32_t i = 0; i <= m->mask; i++)
      if (m->slots[i].state != MEMO_EMPTY) *memo_find(&bigger, m->slots[i].label) = m->slots[i];
    bigger.size = m->size;
    free(m->slots);
    *m = bigger;
    slot = memo_find(m, label);
  }
  const ngc_labels keys = {m->map->keys, m->map->count};
  const int64_t k = find_label(&keys, label);
  slot->label = label;
  slot->state = k < 0 ? MEMO_MISSING : MEMO_MAPPED;
  slot->value = k < 0 ? label : m->map->values[k];
  m->size++;
  return slot;
}

/* The NOT_MAPPED check, run only when some reachable entry has no key:
 * the first block one of whose visible voxels holds such a label. */
typedef struct missing_op {
  memo *memo;
  ngc_mapping *map;
} missing_op;

static int missing_visit(void *op, uint32_t c, const uint32_t *w, const geometry *g,
                         const block_header *h, const uint32_t origin[3],
                         const uint32_t vis[3]) {
  (void)c;
  (void)origin;
  missing_op *q = op;
  const uint32_t vw = g->value_words;
  const uint32_t reached =
      h->bits == 0 ? 1 : max_index(w + h->values_offset, h->bits, g->block_volume) + 1;
  uint32_t i = 0;
  for (; i < reached; i++) {
    const memo_slot *slot = memo_get(q->memo, table_label(w, h, i, vw));
    if (slot == NULL) return NGC_ERR_NO_MEMORY;
    if (slot->state != MEMO_MAPPED) break;
  }
  if (i == reached) return NGC_OK;
  used_set u;
  int status = scan_block(w, g, h, vis, &u);
  for (i = 0; i < u.n && status == NGC_OK; i++) {
    uint32_t index, count;
    used_get(&u, i, &index, &count);
    const uint64_t label = table_label(w, h, index, vw);
    const memo_slot *slot = memo_get(q->memo, label);
    if (slot == NULL) {
      status = NGC_ERR_NO_MEMORY;
    } else if (slot->state == MEMO_MISSING) {
      q->map->missing = label;
      status = NGC_ERR_NOT_MAPPED;
    }
  }
  used_release(&u);
  return status;
}

int ngc_cseg_remap(ngc_chunk *chunk, const void *src, size_t src_size, ngc_mapping *mapping,
                   void *dst, size_t dst_capacity) {
  if (chunk == NULL) return NGC_ERR_BAD_PARAMS;
  chunk->fail_channel = NGC_NO_PLACE;
  chunk->fail_block = NGC_NO_PLACE;
  if (mapping == NULL || (mapping->count != 0 && mapping->values == NULL)) return NGC_ERR_BAD_PARAMS;
  const ngc_labels keys = {mapping->keys, mapping->count};
  if (!check_set(&keys)) return NGC_ERR_BAD_PARAMS;
  if (chunk->value_bytes == 4)
    for (uint32_t i = 0; i < mapping->count; i++)
      if (mapping->values[i] > UINT32_MAX) return NGC_ERR_BAD_PARAMS;
  if (dst_capacity < src_size) return NGC_ERR_DST_TOO_SMALL;
  if (dst == NULL && src_size != 0) return NGC_ERR_BAD_PARAMS;
  const uint32_t *w = src;
  geometry g;
  size_t decoded_size;
  int status = get_geometry(chunk, &decoded_size, &g);
  if (status != NGC_OK) return status;
  /* One table and one values run per block, the headers and offsets. */
  const size_t most = (size_t)g.num_blocks * chunk->num_channels + chunk->num_channels + 1;
  if (most > UINT32_MAX / sizeof(run)) return NGC_ERR_TOO_LARGE;
  remap_op r = {mapping, src, malloc(most * sizeof(run)), malloc(most * sizeof(run)), 0, 0};
  memo m = {NULL, 0, 0, mapping, NULL, 0, {0, 0, 0}};
  if (r.tables == NULL || r.others == NULL) status = NGC_ERR_NO_MEMORY;
  if (status == NGC_OK) status = walk(chunk, src, src_size, &r, remap_visit, NULL);
  const uint32_t vw = chunk->value_bytes / 4;
  if (status == NGC_OK) {
    /* walk checked every channel offset and header region. */
    r.others[r.nothers++] = (run){0, chunk->num_channels};
    for (uint32_t c = 0; c < chunk->num_channels; c++) {
      const uint32_t at = ngc_load32(&w[c]);
      r.others[r.nothers++] = (run){at, at + 2 * g.num_blocks};
    }
    int clash = 0;
    run *tmp = malloc(most * sizeof(run));
    if (tmp == NULL) {
      status = NGC_ERR_NO_MEMORY;
    } else {
      r.ntables = join_runs(r.tables, tmp, r.ntables, vw, &clash);
      r.nothers = join_runs(r.others, tmp, r.nothers, 1, &clash);
      free(tmp);
    }
    /* Both lists are sorted and disjoint: one sweep finds any overlap. */
    for (uint32_t t = 0, o = 0; t < r.ntables && o < r.nothers && !clash;) {
      if (r.tables[t].end <= r.others[o].start) t++;
      else if (r.others[o].end <= r.tables[t].start) o++;
      else clash = 1;
    }
    if (clash && status == NGC_OK) status = NGC_ERR_TABLE_OVERLAP;
  }
  /* Each entry's new value, looked up once (a memo, so each label once). */
  size_t entries = 0;
  uint64_t *mapped = NULL;
  if (status == NGC_OK) {
    for (uint32_t t = 0; t < r.ntables; t++) entries += (r.tables[t].end - r.tables[t].start) / vw;
    mapped = malloc((entries ? entries : 1) * sizeof *mapped);
    if (mapped == NULL) status = NGC_ERR_NO_MEMORY;
    else if ((uint64_t)mapping->count <= 4 * (uint64_t)entries + 4096)
      status = memo_hash_keys(&m);
    else /* a mapping far larger than the chunk: look up each label once */
      status = memo_init(&m, entries);
  }
  if (status == NGC_OK) {
    int any_missing = 0;
    size_t e = 0;
    for (uint32_t t = 0; t < r.ntables && status == NGC_OK; t++)
      for (uint32_t i = r.tables[t].start; i < r.tables[t].end; i += vw, e++) {
        const uint64_t label = vw == 1 ? ngc_load32(&w[i]) : ngc_load64(&w[i]);
        const memo_slot *slot = memo_get(&m, label);
        if (slot == NULL) {
          status = NGC_ERR_NO_MEMORY;
          break;
        }
        any_missing |= slot->state == MEMO_MISSING;
        mapped[e] = slot->value; /* the label itself when it has no key */
      }
    if (status == NGC_OK && any_missing && !(mapping->flags & NGC_PRESERVE_MISSING)) {
      missing_op q = {&m, mapping};
      status = walk(chunk, src, src_size, &q, missing_visit, NULL);
    }
  }
  if (status == NGC_OK) {
    if (dst != src) memmove(dst, src, src_size);
    uint32_t *out = dst;
    size_t e = 0;
    for (uint32_t t = 0; t < r.ntables; t++)
      for (uint32_t i = r.tables[t].start; i < r.tables[t].end; i += vw, e++) {
        if (vw == 1) ngc_store32(&out[i], (uint32_t)mapped[e]);
        else ngc_store64(&out[i], mapped[e]);
      }
  }
  free(mapped);
  free(m.key_slots);
  free(m.slots);
  free(r.tables);
  free(r.others);
  return status;
}
