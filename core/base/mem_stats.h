/* mem_stats: what a worker costs — process RSS (current and peak), and the
 * per-state figures the caller adds (Lua heap, MuPDF allocations). */
#ifndef DOCMILL_MEM_STATS_H
#define DOCMILL_MEM_STATS_H

#include <stdint.h>

typedef struct mem_stats {
    int64_t rss_bytes;
    int64_t peak_rss_bytes;
} mem_stats;

int mem_stats_read(mem_stats *out);

#endif
