/* The settings schema without Lua: defaults come from the schema, setters
 * check ranges and name where, the start-only list, the line of a key. */
#include "check.h"
#include "settings/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_defaults_come_from_the_schema(void)
{
    policy_settings s;
    settings_defaults(&s);
    CHECK_INT(s.dpi, 150);
    CHECK_STR(s.languages, "jpn+eng");
    CHECK(s.ocr_skip_inverted);
    CHECK(s.max_bad_char_ratio == 0.3);
    CHECK_STR(s.fetch_allowed_buckets, "*");
    CHECK_STR(s.fetch_allowed_urls, "");
    CHECK_INT(s.hook_budget_ms, 1000);
    /* Every default is inside its own range. */
    for (const setting_spec *sp = settings_schema; sp->name; sp++) {
        if (sp->type == SETTING_STR)
            CHECK(strlen(sp->dflt_str ? sp->dflt_str : "") <= (size_t)sp->max);
        else
            CHECK(sp->dflt >= sp->min && sp->dflt <= sp->max);
    }
}

static void test_setters_check_the_range(void)
{
    policy_settings s;
    settings_defaults(&s);
    dm_err err;
    const setting_spec *w = settings_find("workers");
    CHECK(w != NULL);
    CHECK_INT(settings_set_number(&s, w, 3000, "c5.xlarge.lua:12", &err), -1);
    CHECK_STR(err.msg, "c5.xlarge.lua:12: 'workers' = 3000 is out of range (integer 0..256)");
    CHECK_INT(settings_set_number(&s, w, 2.5, "x", &err), -1);
    CHECK_INT(settings_set_number(&s, w, 3, "x", &err), 0);
    CHECK_INT(s.workers, 3);
    CHECK_INT(settings_set_string(&s, settings_find("languages"), "", 0, "p.lua:3", &err), -1);
    CHECK_CONTAINS(err.msg, "p.lua:3: 'languages' must be 1..63 characters");
    CHECK(settings_find("dpii") == NULL);
}

static void test_start_only_changes(void)
{
    policy_settings a, b;
    settings_defaults(&a);
    b = a;
    const char *names[8];
    CHECK_INT(settings_changed_start_only(&a, &b, names, 8), 0);
    b.dpi = 300;              /* live */
    b.workers = 7;            /* start-only */
    b.batch_max_mb = 2;       /* start-only */
    CHECK_INT(settings_changed_start_only(&a, &b, names, 8), 2);
    CHECK_STR(names[0], "batch_max_mb");
    CHECK_STR(names[1], "workers");
}

static void test_key_line(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/policy.lua", check_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("-- workers = 1 (a comment)\n"
          "local P = {\n"
          "  dpi = 200, languages = \"eng\",\n"
          "  max_workers_note = 1,\n"
          "  workers = 3000,\n"
          "}\n"
          "if P.workers == 2 then P.workers = 1 end\n"
          "return P\n",
          f);
    fclose(f);
    CHECK_INT(settings_key_line(path, "workers"), 5);
    CHECK_INT(settings_key_line(path, "dpi"), 3);
    CHECK_INT(settings_key_line(path, "languages"), 3);
    CHECK_INT(settings_key_line(path, "ocr_psm"), 0);
    CHECK_INT(settings_key_line("/nonexistent/p.lua", "dpi"), 0);
    unlink(path);
}

static void test_closest(void)
{
    const char *cands[] = {"dpi", "languages", "workers"};
    CHECK_STR(settings_closest("dpii", cands, 3), "dpi");
    CHECK_STR(settings_closest("worker", cands, 3), "workers");
    CHECK(settings_closest("something_else_entirely", cands, 3) == NULL);
}

static void test_env_overrides(void)
{
    policy_settings s;
    settings_defaults(&s);
    dm_err err;
    setenv("PDF_DPI", "300", 1);
    setenv("OCR_LANGUAGE", "eng", 1);
    CHECK_INT(settings_apply_env(&s, &err), 0);
    CHECK_INT(s.dpi, 300);
    CHECK_STR(s.languages, "eng");
    setenv("PDF_DPI", "9000", 1);
    CHECK_INT(settings_apply_env(&s, &err), -1);
    CHECK_CONTAINS(err.msg, "environment PDF_DPI='9000' is not a valid dpi");
    unsetenv("PDF_DPI");
    unsetenv("OCR_LANGUAGE");
}

int main(void)
{
    static const check_case cases[] = {
        {"defaults come from the schema and fit their ranges", test_defaults_come_from_the_schema},
        {"setters check ranges and say where", test_setters_check_the_range},
        {"start-only settings that changed are named", test_start_only_changes},
        {"the line a key is set on", test_key_line},
        {"a typo's closest key", test_closest},
        {"the seed's environment variables override", test_env_overrides},
        {NULL, NULL}};
    return check_run(cases);
}
