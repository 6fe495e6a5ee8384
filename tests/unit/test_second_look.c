/* The built-in second look (extract/second_look.c), on the figures the
 * scans of tests/e2e/test_orientation.py give a first reading. */
#include "check.h"
#include "extract/second_look.h"

static const look_limits LIMITS = {.check_below = 70, .min_osd_confidence = 1.5,
                                   .min_cjk_gap = 0.5};

/* An upright Japanese page with English words: read at 94 in rows. */
static look_page upright(void)
{
    return (look_page){.confidence = 94, .chars = 420, .cjk_symbols = 110, .cjk_gap = 0.12,
                       .ltr_chars = 150, .ltr_confidence = 94, .best_confidence = 94,
                       .vertical_model = true};
}

static look_action next(const look_page *pg)
{
    return second_look_next(pg, &LIMITS).action;
}

static void test_upright_page_is_accepted_at_once(void)
{
    look_page pg = upright();
    CHECK_INT(next(&pg), LOOK_ACCEPT);
    CHECK_INT(second_look_layout_turn(&pg, &LIMITS), 0);
}

static void test_upside_down_page_is_detected_then_turned_back(void)
{
    look_page pg = upright();
    pg.confidence = pg.best_confidence = 38;
    pg.ltr_confidence = 38;
    CHECK_INT(next(&pg), LOOK_ORIENTATION);
    pg.tried |= 1u << LOOK_ORIENTATION;
    pg.osd_found = true, pg.osd_degrees = 180, pg.osd_confidence = 6.2, pg.osd_japanese = true;
    look_step s = second_look_next(&pg, &LIMITS);
    CHECK_INT(s.action, LOOK_ROTATE);
    CHECK_INT(s.degrees, 180);
    pg.tried |= 1u << LOOK_ROTATE;
    pg.best_confidence = 93;
    CHECK_INT(next(&pg), LOOK_ACCEPT);
}

static void test_text_turned_clockwise_is_turned_back_counter_clockwise(void)
{
    look_page pg = upright();
    pg.confidence = pg.best_confidence = 27;
    pg.tried = 1u << LOOK_ORIENTATION;
    pg.osd_found = true, pg.osd_degrees = 270, pg.osd_confidence = 3.0;
    look_step s = second_look_next(&pg, &LIMITS);
    CHECK_INT(s.action, LOOK_ROTATE);
    CHECK_INT(s.degrees, 90);
}

static void test_unsure_or_upright_detection_leads_to_vertical_only_in_japanese(void)
{
    look_page pg = upright();
    pg.confidence = pg.best_confidence = 20;
    pg.ttb_chars = 300, pg.ttb_confidence = 13, pg.ltr_chars = 0, pg.ltr_confidence = 0;
    pg.tried = 1u << LOOK_ORIENTATION;
    pg.osd_found = true, pg.osd_degrees = 90, pg.osd_confidence = 0.4, pg.osd_japanese = true;
    CHECK_INT(next(&pg), LOOK_VERTICAL);   /* too unsure a turn: not taken */
    pg.osd_japanese = false;
    CHECK_INT(next(&pg), LOOK_ACCEPT);     /* Latin script: the vertical model reads nothing */
    pg.osd_japanese = true, pg.vertical_model = false;
    CHECK_INT(next(&pg), LOOK_ACCEPT);     /* no jpn in the set, or jpn_vert not installed */
    pg.vertical_model = true, pg.osd_found = false;
    CHECK_INT(next(&pg), LOOK_ACCEPT);     /* OSD found nothing to judge by */
}

static void test_still_low_after_the_turn_tries_vertical_last(void)
{
    look_page pg = upright();
    pg.confidence = pg.best_confidence = 21;
    pg.tried = 1u << LOOK_ORIENTATION | 1u << LOOK_ROTATE;
    pg.osd_found = true, pg.osd_degrees = 90, pg.osd_confidence = 2.0, pg.osd_japanese = true;
    CHECK_INT(next(&pg), LOOK_VERTICAL);
    pg.tried |= 1u << LOOK_VERTICAL;
    CHECK_INT(next(&pg), LOOK_ACCEPT);
}

static void test_rows_a_column_apart_are_read_vertically(void)
{
    look_page pg = upright();
    pg.confidence = pg.best_confidence = 85;
    pg.cjk_gap = 0.9;
    CHECK_INT(next(&pg), LOOK_VERTICAL);
    pg.cjk_symbols = 20;   /* too few characters to judge by */
    CHECK_INT(next(&pg), LOOK_ACCEPT);
    pg.cjk_symbols = 110;
    pg.tried = 1u << LOOK_VERTICAL;
    CHECK_INT(next(&pg), LOOK_ACCEPT);
    look_limits off = LIMITS;
    off.min_cjk_gap = 0;
    pg.tried = 0;
    CHECK_INT(second_look_next(&pg, &off).action, LOOK_ACCEPT);
}

static void test_horizontal_rows_beside_bad_columns_are_read_mixed(void)
{
    /* The heading read well in rows, the body's columns read as garbage. */
    look_page pg = {.confidence = 43, .chars = 700, .cjk_symbols = 40, .cjk_gap = 0.1,
                    .ltr_chars = 90, .ltr_confidence = 92, .ttb_chars = 260, .ttb_confidence = 4,
                    .best_confidence = 43, .vertical_model = true};
    CHECK_INT(next(&pg), LOOK_MIXED);
    pg.tried = 1u << LOOK_MIXED;
    pg.best_confidence = 88;
    CHECK_INT(next(&pg), LOOK_ACCEPT);
    /* The same when the page as a whole still reads above the line. */
    pg.tried = 0, pg.confidence = pg.best_confidence = 75;
    CHECK_INT(next(&pg), LOOK_MIXED);
    /* Without the vertical model: the orientation check, as for any low page. */
    pg.confidence = pg.best_confidence = 43, pg.vertical_model = false;
    CHECK_INT(next(&pg), LOOK_ORIENTATION);
    /* A few characters in a column (a stamp, a margin note) are not enough. */
    pg.vertical_model = true, pg.ttb_chars = 12;
    CHECK_INT(next(&pg), LOOK_ORIENTATION);
}

static void test_nothing_to_judge_by_or_off_or_out_of_steps(void)
{
    look_page pg = upright();
    pg.confidence = pg.best_confidence = 20;
    pg.chars = 30;   /* a blank page, a picture */
    CHECK_INT(next(&pg), LOOK_ACCEPT);
    pg.chars = 400;
    look_limits off = LIMITS;
    off.check_below = 0;
    CHECK_INT(second_look_next(&pg, &off).action, LOOK_ACCEPT);
    /* Columns read badly beside rows read well would call for a mixed
     * reading, but LOOK_MAX_STEPS steps have been taken. */
    pg.ltr_chars = 90, pg.ltr_confidence = 92, pg.ttb_chars = 260, pg.ttb_confidence = 4;
    pg.tried = 1u << LOOK_ORIENTATION | 1u << LOOK_DESKEW | 1u << LOOK_VERTICAL;
    CHECK_INT(next(&pg), LOOK_MIXED);
    pg.tried |= 1u << LOOK_ROTATE;
    CHECK_INT(next(&pg), LOOK_ACCEPT);
}

static void test_a_page_read_well_in_columns_was_turned_by_tesseract(void)
{
    /* Turned a quarter clockwise: Tesseract lays its lines out top to
     * bottom and reads them well. */
    look_page pg = {.confidence = 94, .chars = 420, .ttb_chars = 150, .ttb_confidence = 94};
    CHECK_INT(second_look_layout_turn(&pg, &LIMITS), 270);
    pg.ttb_confidence = 13;   /* vertical Japanese, or turned the other way */
    CHECK_INT(second_look_layout_turn(&pg, &LIMITS), 0);
    pg.ttb_confidence = 94, pg.ltr_chars = 100;   /* mostly rows */
    CHECK_INT(second_look_layout_turn(&pg, &LIMITS), 0);
    pg.ltr_chars = 0, pg.ttb_chars = 20;          /* too little */
    CHECK_INT(second_look_layout_turn(&pg, &LIMITS), 0);
}

static void test_steps_chosen_by_a_hook_are_checked(void)
{
    look_page pg = upright();
    const char *why = NULL;
    CHECK(second_look_valid(&pg, (look_step){LOOK_ROTATE, 90}, &why));
    CHECK(!second_look_valid(&pg, (look_step){LOOK_ROTATE, 45}, &why));
    CHECK_CONTAINS(why, "90, 180 or 270");
    CHECK(second_look_valid(&pg, (look_step){LOOK_DESKEW, -2.5}, &why));
    CHECK(!second_look_valid(&pg, (look_step){LOOK_DESKEW, 0}, &why));
    CHECK(!second_look_valid(&pg, (look_step){LOOK_DESKEW, 30}, &why));
    CHECK(!second_look_valid(&pg, (look_step){(look_action)99, 0}, &why));
    pg.tried = 1u << LOOK_VERTICAL;
    CHECK(!second_look_valid(&pg, (look_step){LOOK_VERTICAL, 0}, &why));
    CHECK_CONTAINS(why, "already taken");
    CHECK(second_look_valid(&pg, (look_step){LOOK_ACCEPT, 0}, &why));
    CHECK_STR(look_action_names[LOOK_MIXED], "mixed");
}

int main(void)
{
    static const check_case cases[] = {
        {"an upright page is accepted at once", test_upright_page_is_accepted_at_once},
        {"upside down: detected, then read turned back", test_upside_down_page_is_detected_then_turned_back},
        {"text turned clockwise is turned back the other way", test_text_turned_clockwise_is_turned_back_counter_clockwise},
        {"vertical after the orientation check only in Japanese script", test_unsure_or_upright_detection_leads_to_vertical_only_in_japanese},
        {"still low after the turn: vertical last", test_still_low_after_the_turn_tries_vertical_last},
        {"rows a column apart are read vertically", test_rows_a_column_apart_are_read_vertically},
        {"rows beside unreadable columns: read mixed", test_horizontal_rows_beside_bad_columns_are_read_mixed},
        {"nothing to judge by, off, or out of steps", test_nothing_to_judge_by_or_off_or_out_of_steps},
        {"a page read well in columns was turned by Tesseract", test_a_page_read_well_in_columns_was_turned_by_tesseract},
        {"steps chosen by a hook are checked", test_steps_chosen_by_a_hook_are_checked},
        {NULL, NULL}};
    return check_run(cases);
}
