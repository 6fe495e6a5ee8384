#include "extract/converters.h"
#include "extract/textnorm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const unsigned char OLE2_MAGIC[8] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool read_at(int fd, off_t off, unsigned char *buf, size_t n)
{
    return pread(fd, buf, n, off) == (ssize_t)n;
}

/* A directory entry's name (UTF-16LE, ASCII for the streams asked about). */
static bool entry_is(const unsigned char *e, const char *name)
{
    unsigned len = (unsigned)e[64] | (unsigned)e[65] << 8;   /* bytes, with the NUL */
    size_t n = strlen(name);
    if (len != 2 * (n + 1))
        return false;
    for (size_t i = 0; i < n; i++)
        if (e[2 * i] != (unsigned char)name[i] || e[2 * i + 1] != 0)
            return false;
    return true;
}

/* Walks the compound file's directory (its sector chain through the FAT
 * sectors the header lists; bounded hops) looking for the streams that
 * say what the file is. */
static legacy_kind ole2_directory(int fd, const unsigned char *hdr, bool *encrypted)
{
    unsigned shift = (unsigned)hdr[0x1E] | (unsigned)hdr[0x1F] << 8;
    if (shift != 9 && shift != 12)
        return LEGACY_NONE;
    size_t ss = (size_t)1 << shift;
    unsigned char *sector = malloc(ss), *fat = malloc(ss);
    if (!sector || !fat) {
        free(sector);
        free(fat);
        return LEGACY_NONE;
    }
    legacy_kind kind = LEGACY_NONE;
    uint32_t sid = le32(hdr + 0x30);
    int32_t fat_loaded = -1;
    for (int hop = 0; hop < 256 && sid < 0xFFFFFFFA && kind == LEGACY_NONE; hop++) {
        if (!read_at(fd, (off_t)(sid + 1) << shift, sector, ss))
            break;
        for (size_t e = 0; e + 128 <= ss; e += 128) {
            const unsigned char *ent = sector + e;
            if (entry_is(ent, "WordDocument"))
                kind = LEGACY_DOC;
            else if (entry_is(ent, "Workbook") || entry_is(ent, "Book"))
                kind = LEGACY_XLS;
            else if (entry_is(ent, "PowerPoint Document"))
                kind = LEGACY_PPT;
            else if (entry_is(ent, "EncryptedPackage"))
                *encrypted = true;
        }
        /* The next directory sector: its FAT entry. */
        uint32_t per = (uint32_t)(ss / 4), idx = sid / per;
        if (idx >= 109)
            break;   /* past the header's FAT list: far beyond any directory here */
        if ((int32_t)idx != fat_loaded) {
            uint32_t fat_sid = le32(hdr + 0x4C + 4 * idx);
            if (fat_sid >= 0xFFFFFFFA || !read_at(fd, (off_t)(fat_sid + 1) << shift, fat, ss))
                break;
            fat_loaded = (int32_t)idx;
        }
        sid = le32(fat + 4 * (sid % per));
    }
    free(sector);
    free(fat);
    return kind;
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

legacy_kind legacy_sniff(const char *path, const unsigned char *head, size_t n, bool *encrypted)
{
    *encrypted = false;
    if (n < 512 || memcmp(head, OLE2_MAGIC, 8) != 0)
        return LEGACY_NONE;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    legacy_kind kind = LEGACY_NONE;
    if (fd >= 0) {
        unsigned char hdr[512];
        if (read_at(fd, 0, hdr, sizeof hdr))
            kind = ole2_directory(fd, hdr, encrypted);
        close(fd);
    }
    if (kind != LEGACY_NONE)
        return kind;
    static const struct {
        const char *ext;
        legacy_kind kind;
    } by_name[] = {{".doc", LEGACY_DOC}, {".dot", LEGACY_DOC}, {".xls", LEGACY_XLS},
                   {".xlt", LEGACY_XLS}, {".ppt", LEGACY_PPT}, {".pps", LEGACY_PPT},
                   {".pot", LEGACY_PPT}};
    for (size_t i = 0; !*encrypted && i < sizeof by_name / sizeof by_name[0]; i++)
        if (ends_with_ci(path, by_name[i].ext))
            return by_name[i].kind;
    return LEGACY_OTHER;
}

const char *legacy_mime(legacy_kind kind)
{
    switch (kind) {
    case LEGACY_DOC: return "application/msword";
    case LEGACY_XLS: return "application/vnd.ms-excel";
    case LEGACY_PPT: return "application/vnd.ms-powerpoint";
    default: return "application/x-ole-storage";
    }
}

/* ---- the child process ---- */

static bool find_on_path(const char *prog, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && (size_t)snprintf(out, cap, "%.*s/%s", (int)len, path, prog) < cap &&
            access(out, X_OK) == 0)
            return true;
        path += len + (end ? 1 : 0);
    }
    return false;
}

/* Between fork and exec only async-signal-safe calls: no allocation. */
static void child(const char *exe, const char *const argv[], int out_fd, int err_fd,
                  const converter_limits *lim)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        _exit(126);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    if (lim->max_memory > 0) {
        struct rlimit as = {lim->max_memory, lim->max_memory};
        setrlimit(RLIMIT_AS, &as);
    }
    struct rlimit nofile_write = {0, 0};
    setrlimit(RLIMIT_FSIZE, &nofile_write);   /* it writes no file */
    if (lim->deadline_ms > 0) {
        int64_t left = (lim->deadline_ms - dm_mono_ms()) / 1000 + 1;
        struct rlimit cpu = {(rlim_t)(left > 0 ? left : 1), (rlim_t)(left > 0 ? left : 1) + 1};
        setrlimit(RLIMIT_CPU, &cpu);
    }
    execv(exe, (char *const *)argv);
    _exit(127);
}

int converter_run(const char *const argv[], const converter_limits *lim, sbuf *out,
                  int *status, char *errbuf, size_t errcap, dm_err *err)
{
    char exe[1024];
    *status = 0;
    if (errcap)
        errbuf[0] = '\0';
    if (!find_on_path(argv[0], exe, sizeof exe)) {
        dm_err_set(err, true, "%s is not installed", argv[0]);
        return -1;
    }
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        dm_err_set(err, false, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        dm_err_set(err, false, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0)
        child(exe, argv, out_pipe[1], err_pipe[1], lim);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (pid < 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        dm_err_set(err, false, "cannot start %s: %s", argv[0], strerror(errno));
        return -1;
    }
    struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    size_t errlen = 0;
    bool timed_out = false, too_much = false;
    int open_fds = 2;
    char buf[65536];
    while (open_fds > 0) {
        int wait_ms = -1;
        if (lim->deadline_ms > 0) {
            int64_t left = lim->deadline_ms - dm_mono_ms();
            if (left <= 0) {
                timed_out = true;
                break;
            }
            wait_ms = left > 1000 ? 1000 : (int)left;
        }
        int rc = poll(fds, 2, wait_ms);
        if (rc < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else if (i == 0) {
                if (lim->max_output > 0 && out->len + (size_t)n > lim->max_output) {
                    too_much = true;
                    n = (ssize_t)(lim->max_output - out->len);
                }
                sbuf_append(out, buf, (size_t)n);
            } else if (errcap > 1) {
                /* the last errcap-1 bytes of what it said */
                for (ssize_t k = 0; k < n; k++) {
                    if (errlen == errcap - 1) {
                        memmove(errbuf, errbuf + 1, errcap - 2);
                        errlen--;
                    }
                    errbuf[errlen++] = buf[k];
                }
                errbuf[errlen] = '\0';
            }
        }
        if (too_much)
            break;
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    if (timed_out || too_much)
        kill(pid, SIGKILL);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? -WTERMSIG(ws) : -1;
    if (timed_out) {
        dm_err_set(err, true, "timed out: %s ran past the page deadline", argv[0]);
        return -1;
    }
    if (too_much)
        *status = 0;   /* cut at the cap: what came so far is the text */
    return 0;
}

/* ---- the legacy formats ---- */

typedef struct converter {
    legacy_kind kind;
    const char *program;
    const char *package;
    const char *args[6];   /* after the program, before the file */
} converter;

static const converter CONVERTERS[] = {
    {LEGACY_DOC, "antiword", "antiword", {"-m", "UTF-8.txt", "-w", "0", NULL}},
    {LEGACY_DOC, "catdoc", "catdoc", {"-d", "utf-8", "-w", NULL}},
    /* run_one adds the sheet break and the cell separator: "\f" -c "\t" */
    {LEGACY_XLS, "xls2csv", "catdoc", {"-d", "utf-8", "-q", "0", "-b", NULL}},
    {LEGACY_PPT, "catppt", "catdoc", {"-d", "utf-8", NULL}},
};

/* The programs the setting names for kind, in order: "doc:antiword,catdoc
 * xls:xls2csv" gives antiword then catdoc for doc. Returns how many. */
static int chosen(const char *programs, legacy_kind kind, const converter *out[], int cap)
{
    static const char *const key[] = {[LEGACY_DOC] = "doc", [LEGACY_XLS] = "xls",
                                      [LEGACY_PPT] = "ppt"};
    int n = 0;
    size_t klen = strlen(key[kind]);
    for (const char *p = programs ? programs : ""; *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len > klen + 1 && strncmp(p, key[kind], klen) == 0 && p[klen] == ':') {
            const char *q = p + klen + 1, *end = p + len;
            while (q < end) {
                size_t plen = strcspn(q, ",");
                if (q + plen > end)
                    plen = (size_t)(end - q);
                for (size_t i = 0; n < cap && i < sizeof CONVERTERS / sizeof CONVERTERS[0]; i++)
                    if (CONVERTERS[i].kind == kind && strlen(CONVERTERS[i].program) == plen &&
                        strncmp(CONVERTERS[i].program, q, plen) == 0)
                        out[n++] = &CONVERTERS[i];
                q += plen + 1;
            }
        }
        p += len;
    }
    return n;
}

/* One converter on path: 0 with its text in raw, else -1 with err. */
static int run_one(const converter *c, legacy_kind kind, const char *path,
                   const converter_limits *lim, sbuf *raw, dm_err *err)
{
    const char *argv[12];
    int k = 0;
    argv[k++] = c->program;
    for (int i = 0; c->args[i]; i++)
        argv[k++] = c->args[i];
    if (kind == LEGACY_XLS) {
        argv[k++] = "\f";   /* -b: the sheet break */
        argv[k++] = "-c";
        argv[k++] = "\t";   /* cells */
    }
    argv[k++] = path;
    argv[k] = NULL;
    int status;
    char errbuf[300];
    sbuf_reset(raw);
    if (converter_run(argv, lim, raw, &status, errbuf, sizeof errbuf, err) != 0)
        return -1;
    if (status != 0) {
        for (char *p = errbuf; *p; p++)
            if (*p == '\n')
                *p = ' ';
        dm_err_set(err, true, "%s could not read the file (%s %d): %s", c->program,
                   status < 0 ? "signal" : "exit", status < 0 ? -status : status, errbuf);
        return -1;
    }
    return 0;
}

int legacy_read(legacy_kind kind, const char *path, const converter_limits *lim,
                paged_text *out, dm_err *err)
{
    static const char *const name[] = {[LEGACY_DOC] = ".doc", [LEGACY_XLS] = ".xls",
                                       [LEGACY_PPT] = ".ppt"};
    if (kind < LEGACY_DOC || kind > LEGACY_PPT) {
        dm_err_set(err, true, "unsupported type: an OLE2 compound file that is no Word, Excel "
                              "or PowerPoint file (an Outlook .msg?)");
        return -1;
    }
    const converter *cands[4];
    int n = chosen(lim->programs, kind, cands, 4);
    if (n == 0) {
        dm_err_set(err, true, "unsupported type: legacy %s, and office_converters names no "
                              "converter for it", name[kind]);
        return -1;
    }
    /* The first that reads it; the first's failure is the one reported,
     * unless none is installed at all. */
    sbuf raw;
    sbuf_init(&raw);
    dm_err first;
    bool any_installed = false, ok = false;
    for (int i = 0; i < n && !ok; i++) {
        dm_err e;
        ok = run_one(cands[i], kind, path, lim, &raw, &e) == 0;
        bool missing = !ok && strstr(e.msg, "is not installed") != NULL;
        any_installed |= !missing;
        if (!ok && (i == 0 || (!missing && strstr(first.msg, "is not installed"))))
            first = e;
    }
    if (!ok) {
        sbuf_free(&raw);
        if (!any_installed)
            dm_err_set(err, true, "legacy %s needs %s, which is not installed (apt-get install "
                                  "%s)", name[kind], cands[0]->program, cands[0]->package);
        else
            *err = first;
        return -1;
    }
    sbuf text;
    sbuf_init(&text);
    const char *enc;
    int rc = text_decode(raw.data ? raw.data : "", raw.len, &text, &enc, err);
    sbuf_free(&raw);
    if (rc == 0) {
        /* form feeds part pages (sheets) */
        const char *p = text.data ? text.data : "", *end = p + text.len;
        while (p <= end) {
            const char *ff = memchr(p, '\f', (size_t)(end - p));
            const char *stop = ff ? ff : end;
            paged_text_new_page(out, NULL);
            paged_text_append(out, p, (size_t)(stop - p));
            p = stop + 1;
            if (!ff)
                break;
        }
        paged_text_trim(out);
    }
    sbuf_free(&text);
    return rc;
}
