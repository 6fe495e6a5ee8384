/* Fuzzes the archive reader (container/archive.c over libarchive: zip, tar
 * and its compressed forms, 7z, rar, cpio, a lone compressed file) through
 * the container interface, on the input written to a temp file. Checks,
 * beyond memory safety and UB: every name valid UTF-8; every member file
 * in the member dir and within the limits; the limits held overall; no
 * member file left behind by the reader. */
#include "container/container.h"
#include "extract/textnorm.h"

#include "fuzz_require.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_MEMBERS 20
#define MAX_EXPANDED ((int64_t)4 << 20)
#define MAX_MEMBER ((int64_t)1 << 20)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char work_dir[64];
static char member_dir[128];
static char input_path[128];

/* At exit (libFuzzer exits through exit()), the dirs go too. */
static void remove_dirs(void)
{
    unlink(input_path);
    rmdir(member_dir);
    rmdir(work_dir);
}

static void make_dirs(void)
{
    if (work_dir[0])
        return;
    snprintf(work_dir, sizeof work_dir, "/tmp/fuzz-archive-XXXXXX");
    REQUIRE(mkdtemp(work_dir) != NULL);
    snprintf(member_dir, sizeof member_dir, "%s/members", work_dir);
    REQUIRE(mkdir(member_dir, 0700) == 0);
    /* A compression suffix, so a lone compressed input gets a label. */
    snprintf(input_path, sizeof input_path, "%s/input.gz", work_dir);
    atexit(remove_dirs);
}

static bool member_dir_is_empty(void)
{
    DIR *d = opendir(member_dir);
    REQUIRE(d != NULL);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            entries++;
    closedir(d);
    return entries == 0;
}

static void check_member(const container_member *m)
{
    REQUIRE(m->name && m->name[0]);
    REQUIRE(text_is_utf8(m->name, strlen(m->name)));
    if (!m->path) {
        REQUIRE(m->skipped != NULL);
        return;
    }
    REQUIRE(m->skipped == NULL);
    size_t dir_len = strlen(member_dir);
    REQUIRE(strncmp(m->path, member_dir, dir_len) == 0 && m->path[dir_len] == '/');
    REQUIRE(strchr(m->path + dir_len + 1, '/') == NULL);
    struct stat st;
    REQUIRE(lstat(m->path, &st) == 0 && S_ISREG(st.st_mode));
    REQUIRE(st.st_size == m->size);
    REQUIRE(m->size <= MAX_MEMBER);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    make_dirs();
    FILE *f = fopen(input_path, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(data, 1, size, f) == size);
    REQUIRE(fclose(f) == 0);

    container_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.max_members = MAX_MEMBERS;
    lim.max_member_bytes = MAX_MEMBER;
    lim.max_expanded_bytes = MAX_EXPANDED;
    lim.max_ratio = 100;
    lim.deadline_ms = dm_mono_ms() + 20000;
    container_sniff(input_path, data, size);
    dm_err err;
    container *c = container_open(input_path, CONTAINER_ARCHIVE, &lim, member_dir, &err);
    if (c) {
        REQUIRE(container_mime(c) != NULL);
        for (;;) {
            container_member m;
            int rc = container_next(c, &m, &err);
            REQUIRE(rc >= -1 && rc <= 1);
            if (rc != 1) {
                REQUIRE(rc == 0 || err.msg[0]);
                break;
            }
            check_member(&m);
            if (m.path)
                unlink(m.path);
            container_member_free(&m);
        }
        REQUIRE(container_members(c) <= MAX_MEMBERS);
        REQUIRE(container_expanded(c) <= MAX_EXPANDED);
        container_close(c);
    } else {
        REQUIRE(err.msg[0] != '\0');
    }
    REQUIRE(member_dir_is_empty());
    unlink(input_path);
    return 0;
}
