#include "extract/paged_text.h"

#include <stdlib.h>
#include <string.h>

void paged_text_init(paged_text *pt, size_t max_bytes)
{
    memset(pt, 0, sizeof *pt);
    pt->max_bytes = max_bytes;
}

void paged_text_free(paged_text *pt)
{
    for (int i = 0; i < pt->count; i++) {
        free(pt->pages[i].name);
        sbuf_free(&pt->pages[i].text);
    }
    free(pt->pages);
    for (int i = 0; i < pt->nimages; i++) {
        free(pt->images[i].name);
        sbuf_free(&pt->images[i].data);
    }
    free(pt->images);
    doc_meta_free(&pt->meta);
    memset(pt, 0, sizeof *pt);
}

text_page *paged_text_new_page(paged_text *pt, const char *name)
{
    if (pt->count == pt->cap) {
        pt->cap = pt->cap ? pt->cap * 2 : 8;
        pt->pages = dm_xrealloc(pt->pages, (size_t)pt->cap * sizeof *pt->pages);
    }
    text_page *p = &pt->pages[pt->count++];
    p->name = name ? dm_xstrdup(name) : NULL;
    sbuf_init(&p->text);
    return p;
}

bool paged_text_add_image(paged_text *pt, const char *name, const char *data, size_t n)
{
    if (pt->nimages >= pt->max_images)
        return false;
    if (pt->nimages == pt->images_cap) {
        pt->images_cap = pt->images_cap ? pt->images_cap * 2 : 4;
        pt->images = dm_xrealloc(pt->images, (size_t)pt->images_cap * sizeof *pt->images);
    }
    text_image *im = &pt->images[pt->nimages++];
    im->name = dm_xstrdup(name);
    sbuf_init(&im->data);
    sbuf_append(&im->data, data, n);
    return true;
}

bool paged_text_append(paged_text *pt, const char *s, size_t n)
{
    if (pt->truncated)
        return false;
    if (pt->max_bytes > 0 && pt->bytes + n > pt->max_bytes) {
        pt->truncated = true;
        return false;
    }
    if (pt->count == 0)
        paged_text_new_page(pt, NULL);
    sbuf_append(&pt->pages[pt->count - 1].text, s, n);
    pt->bytes += n;
    return true;
}

void paged_text_break(paged_text *pt, const char *sep)
{
    if (pt->count == 0)
        return;
    sbuf *t = &pt->pages[pt->count - 1].text;
    if (t->len == 0 || t->data[t->len - 1] == '\n')
        return;
    paged_text_append(pt, sep, strlen(sep));
}

static bool blank(const sbuf *t)
{
    for (size_t i = 0; i < t->len; i++)
        if ((unsigned char)t->data[i] > ' ')
            return false;
    return true;
}

void paged_text_trim(paged_text *pt)
{
    while (pt->count > 1 && blank(&pt->pages[pt->count - 1].text) &&
           !pt->pages[pt->count - 1].name) {
        pt->count--;
        sbuf_free(&pt->pages[pt->count].text);
        free(pt->pages[pt->count].name);
    }
}

void doc_meta_set(char **field, const char *value, size_t len)
{
    if (!value)
        return;
    while (len > 0 && (unsigned char)*value <= ' ')
        value++, len--;
    while (len > 0 && (unsigned char)value[len - 1] <= ' ')
        len--;
    if (len == 0)
        return;
    free(*field);
    *field = dm_xmalloc(len + 1);
    memcpy(*field, value, len);
    (*field)[len] = '\0';
}

void doc_meta_free(doc_meta *m)
{
    free(m->title);
    free(m->author);
    free(m->subject);
    free(m->keywords);
    free(m->from);
    free(m->to);
    free(m->date);
    free(m->created);
    free(m->modified);
    memset(m, 0, sizeof *m);
}

bool expand_budget_take(expand_budget *b, size_t n)
{
    if (b->cut)
        return false;
    b->used += (int64_t)n;
    if (b->max_bytes > 0 && b->used > b->max_bytes) {
        b->cut = "max_expanded_mb";
        return false;
    }
    /* The ratio is judged once there is enough to judge by: a tiny file
     * inflating to a few hundred KB is ordinary XML. */
    if (b->max_ratio > 0 && b->used > (1 << 20) && b->compressed > 0 &&
        (double)b->used > b->max_ratio * (double)b->compressed) {
        b->cut = "max_compression_ratio";
        return false;
    }
    return true;
}
