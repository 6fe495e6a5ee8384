#include "base/mem_stats.h"

#include <stdio.h>
#include <string.h>

int mem_stats_read(mem_stats *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        long long kb;
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
            out->rss_bytes = kb * 1024;
        else if (sscanf(line, "VmHWM: %lld kB", &kb) == 1)
            out->peak_rss_bytes = kb * 1024;
    }
    fclose(f);
    return 0;
}
