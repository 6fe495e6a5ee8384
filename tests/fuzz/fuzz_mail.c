/* Fuzzes the mail reader (container/mail.c: GMime's parser, the body's
 * charsets, the attachments' transfer encodings, mbox splitting) on a temp
 * file: the bytes opened as a mail and, when they start with "From ", as
 * an mbox, whatever sniffing says. Checks, beyond memory safety and UB:
 * text, metadata and member names valid UTF-8, member files inside the
 * temp dir and within the limits. */
#include "container/container.h"
#include "extract/textnorm.h"

#include "fuzz_require.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char *temp_dir(void)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fuzz-mail-XXXXXX");
        REQUIRE(mkdtemp(dir) != NULL);
    }
    return dir;
}

static bool utf8_or_null(const char *s) { return !s || text_is_utf8(s, strlen(s)); }

static void read_all(const char *path, container_kind kind)
{
    container_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.max_members = 20;
    lim.max_member_bytes = 256 << 10;
    lim.max_expanded_bytes = 1 << 20;
    lim.max_text_bytes = 64 << 10;
    dm_err err;
    memset(&err, 0, sizeof err);
    container *c = container_open(path, kind, &lim, temp_dir(), &err);
    if (!c) {
        REQUIRE(err.msg[0] != '\0');
        return;
    }
    const paged_text *t = container_text(c);
    REQUIRE(t->bytes <= lim.max_text_bytes);
    for (int i = 0; i < t->count; i++)
        REQUIRE(utf8_or_null(t->pages[i].text.data));
    const doc_meta *meta = &t->meta;
    REQUIRE(utf8_or_null(meta->title) && utf8_or_null(meta->subject) &&
            utf8_or_null(meta->from) && utf8_or_null(meta->to) && utf8_or_null(meta->date));
    size_t dir_len = strlen(temp_dir());
    container_member m;
    while (container_next(c, &m, &err) == 1) {
        REQUIRE(m.name && text_is_utf8(m.name, strlen(m.name)));
        if (m.path) {
            REQUIRE(strncmp(m.path, temp_dir(), dir_len) == 0 && m.path[dir_len] == '/' &&
                    !strchr(m.path + dir_len + 1, '/'));
            struct stat st;
            REQUIRE(stat(m.path, &st) == 0 && st.st_size == m.size);
            REQUIRE(m.size <= lim.max_member_bytes);
            unlink(m.path);
        } else {
            REQUIRE(m.skipped != NULL);
        }
        container_member_free(&m);
    }
    REQUIRE(container_members(c) <= lim.max_members);
    REQUIRE(container_expanded(c) <= lim.max_expanded_bytes);
    container_close(c);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "%s/input", temp_dir());
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(data, 1, size, f) == size || size == 0);
    REQUIRE(fclose(f) == 0);
    container_sniff(path, data, size < 4096 ? size : 4096);
    read_all(path, CONTAINER_MAIL);
    if (size >= 5 && memcmp(data, "From ", 5) == 0)
        read_all(path, CONTAINER_MBOX);
    unlink(path);
    return 0;
}
