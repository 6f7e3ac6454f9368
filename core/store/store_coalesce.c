/* Pagoda — coalescing of one write batch (store.h, "COALESCING"): the puts
 * of one execution row or one attempt row in a batch become one statement
 * carrying the newest version, applied where the first of them was.
 *
 * Why this is the same as applying them one by one: the batch is one
 * transaction, so no reader ever sees the versions in between, and an
 * execution or attempt upsert replaces the row whole (no column keeps a
 * stored value), so the last version wins either way. Applying it at the
 * first put's place keeps every attempt row after its execution row. Only
 * writes that touch those rows by something other than their key
 * (expire_keys, delete_execution) could see the difference: they end the
 * run. A write's callback is unchanged; its status is that statement's.
 *
 * Writer thread only; no allocation for batches up to SMALL_SLOTS / 2. */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define SMALL_SLOTS 64

/* The row key of a put that may be merged; 0 for every other write. */
static int merge_key(const pgd_store_op_t *op, int64_t *a, int64_t *b) {
  if (op->probe || op->status != 0) return 0;
  if (op->kind == PGD_OP_PUT_EXECUTION) {
    *a = op->row.v[0].i;
    *b = -1;
    return op->row.v[0].present;
  }
  if (op->kind == PGD_OP_PUT_ATTEMPT) {
    *a = op->row.v[0].i;
    *b = op->row.v[1].i;
    return op->row.v[0].present && op->row.v[1].present;
  }
  return 0;
}

/* Writes after which no earlier put may absorb a later one. */
static int ends_run(const pgd_store_op_t *op) {
  return op->kind == PGD_OP_EXPIRE_KEYS || op->kind == PGD_OP_DELETE_EXECUTION;
}

static size_t hash_key(pgd_store_op_kind_t kind, int64_t a, int64_t b) {
  uint64_t h = (uint64_t)a * 0x9E3779B97F4A7C15ull ^ (uint64_t)b * 0xC2B2AE3D27D4EB4Full ^
               (uint64_t)kind;
  return (size_t)(h ^ (h >> 29));
}

size_t pgd_store_coalesce(pgd_store_op_t *ops, size_t n, size_t *rows) {
  size_t writes = 0, merged = 0;
  for (pgd_store_op_t *op = ops; op; op = op->next)
    if (op->kind != PGD_OP_FLUSH) writes++;
  *rows = writes;
  if (n < 2) return 0;
  /* open addressing over the first put of each row: at most n keys, at
   * least twice as many slots */
  size_t slots = SMALL_SLOTS;
  while (slots < 2 * n) slots *= 2;
  pgd_store_op_t *small[SMALL_SLOTS];
  pgd_store_op_t **table = slots == SMALL_SLOTS ? small : calloc(slots, sizeof *table);
  if (!table) return 0; /* no memory: apply every write as it is */
  memset(table, 0, slots * sizeof *table);
  for (pgd_store_op_t *op = ops; op; op = op->next) {
    if (ends_run(op)) {
      memset(table, 0, slots * sizeof *table);
      continue;
    }
    int64_t a, b;
    if (!merge_key(op, &a, &b)) continue;
    size_t i = hash_key(op->kind, a, b) & (slots - 1);
    for (;; i = (i + 1) & (slots - 1)) {
      pgd_store_op_t *first = table[i];
      if (!first) {
        table[i] = op;
        break;
      }
      int64_t fa = 0, fb = 0;
      merge_key(first, &fa, &fb);
      if (first->kind == op->kind && fa == a && fb == b) {
        first->newest = op;
        op->merged_into = first;
        merged++;
        break;
      }
    }
  }
  if (table != small) free(table);
  *rows = writes - merged;
  return merged;
}

void pgd_store_coalesce_done(pgd_store_op_t *ops) {
  for (pgd_store_op_t *op = ops; op; op = op->next) {
    if (op->merged_into) op->status = op->merged_into->status;
  }
  for (pgd_store_op_t *op = ops; op; op = op->next) op->newest = op->merged_into = NULL;
}
