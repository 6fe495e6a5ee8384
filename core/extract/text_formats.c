#include "extract/text_formats.h"
#include "extract/converters.h"
#include "extract/html.h"
#include "extract/ooxml.h"
#include "extract/rtf.h"
#include "extract/textnorm.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int read_all(const char *path, sbuf *out, dm_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        dm_err_set(err, true, "cannot open %s", path);
        return -1;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sbuf_append(out, buf, n);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        dm_err_set(err, false, "cannot read %s", path);
        return -1;
    }
    return 0;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* 1: an OOXML package, read; 0: another zip; -1: error. */
static int open_ooxml(fz_context *ctx, const char *path, const text_limits *lim, paged_text *out,
                      const char **mime, dm_err *err)
{
    fz_archive *volatile zip = NULL;
    volatile ooxml_kind kind = OOXML_NONE;
    char main_part[512] = "";
    fz_try(ctx)
    {
        zip = fz_open_zip_archive(ctx, path);
        kind = ooxml_detect(ctx, zip, main_part, sizeof main_part);
    }
    fz_catch(ctx)
    {
        fz_drop_archive(ctx, zip);
        /* Not a zip MuPDF can read: let the other sniffers try. */
        return 0;
    }
    if (kind == OOXML_NONE) {
        fz_drop_archive(ctx, zip);
        return 0;
    }
    expand_budget budget = {.max_bytes = lim->max_expanded_bytes, .max_ratio = lim->max_ratio,
                            .compressed = file_size(path)};
    int rc = ooxml_read(ctx, zip, kind, main_part, &budget, out, err);
    fz_drop_archive(ctx, zip);
    *mime = ooxml_mime(kind);
    return rc == 0 ? 1 : -1;
}

int text_formats_open(fz_context *ctx, const char *path, const unsigned char *head, size_t n,
                      const text_limits *lim, bool plain_fallback, paged_text *out,
                      const char **mime, const char **encoding, dm_err *err)
{
    paged_text_init(out, lim->max_text_bytes);
    out->max_images = lim->max_images;
    *encoding = NULL;
    if (n >= 4 && memcmp(head, "PK\x03\x04", 4) == 0)
        return open_ooxml(ctx, path, lim, out, mime, err);
    bool encrypted = false;
    legacy_kind legacy = legacy_sniff(path, head, n, &encrypted);
    if (encrypted) {
        dm_err_set(err, true, "encrypted: the Office document needs a password");
        return -1;
    }
    if (legacy != LEGACY_NONE) {
        converter_limits cl = {.programs = lim->converters, .deadline_ms = lim->deadline_ms,
                               .max_memory = lim->max_memory, .max_output = lim->max_text_bytes};
        *mime = legacy_mime(legacy);
        if (legacy_read(legacy, path, &cl, out, err) != 0)
            return -1;
        if (out->count == 0)
            paged_text_new_page(out, NULL);
        return 1;
    }
    bool rtf = rtf_sniff(head, n), html = !rtf && html_sniff(head, n);
    if (!rtf && !html && !plain_fallback)
        return 0;
    sbuf raw;
    sbuf_init(&raw);
    int rc = read_all(path, &raw, err);
    const char *data = raw.data ? raw.data : "";
    if (rc == 0 && rtf) {
        *mime = "application/rtf";
        rc = rtf_read(data, raw.len, out, err);
    } else if (rc == 0 && html) {
        *mime = "text/html";
        rc = html_read(data, raw.len, lim->html_default_charset, out, err);
    } else if (rc == 0) {
        *mime = "text/plain";
        text_page *p = paged_text_new_page(out, NULL);
        rc = text_decode(data, raw.len, &p->text, encoding, err);
        out->bytes = p->text.len;
    }
    sbuf_free(&raw);
    if (rc != 0)
        return -1;
    paged_text_trim(out);
    if (out->count == 0)
        paged_text_new_page(out, NULL);
    return 1;
}
