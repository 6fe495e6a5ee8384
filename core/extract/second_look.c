#include "extract/second_look.h"

#include <math.h>

const char *const look_action_names[LOOK_COUNT] = {"accept", "orientation", "rotate",
                                                   "vertical", "mixed", "deskew"};

/* Vertical text is judged from at least this many Japanese characters,
 * and a block of it beside horizontal text from this many characters. */
#define VERTICAL_MIN_CJK 30
#define MIXED_MIN_CHARS 30
/* At least this share of a page's characters in top-to-bottom blocks makes
 * the page one turned a quarter. */
#define TURNED_MIN_SHARE 0.8

static bool tried(const look_page *pg, look_action a)
{
    return (pg->tried >> a) & 1u;
}

static look_step step(look_action a, double degrees)
{
    return (look_step){.action = a, .degrees = degrees};
}

/* Horizontal blocks read well beside top-to-bottom blocks read badly: the
 * page is upright (its rows prove it), the columns are vertical Japanese. */
static bool mixed_layout(const look_page *pg, const look_limits *lim)
{
    return pg->ltr_chars >= MIXED_MIN_CHARS && pg->ltr_confidence >= lim->check_below &&
           pg->ttb_chars >= MIXED_MIN_CHARS && pg->ttb_confidence < lim->check_below &&
           pg->cjk_symbols > 0;
}

look_step second_look_next(const look_page *pg, const look_limits *lim)
{
    /* check_below 0 turns the look at low pages off, not the others. */
    if (pg->chars < LOOK_MIN_CHARS || __builtin_popcount(pg->tried) >= LOOK_MAX_STEPS)
        return step(LOOK_ACCEPT, 0);
    bool vertical = pg->vertical_model && lim->min_cjk_gap > 0;
    if (vertical && mixed_layout(pg, lim) && !tried(pg, LOOK_MIXED))
        return step(LOOK_MIXED, 0);
    if (pg->confidence >= lim->check_below) {
        /* Read well, but as rows of Japanese characters a column apart
         * (~0.9 character heights against 0.1-0.25 for horizontal text). */
        if (vertical && pg->cjk_symbols >= VERTICAL_MIN_CJK && pg->cjk_gap >= lim->min_cjk_gap &&
            !tried(pg, LOOK_VERTICAL))
            return step(LOOK_VERTICAL, 0);
        return step(LOOK_ACCEPT, 0);
    }
    if (pg->best_confidence >= lim->check_below)
        return step(LOOK_ACCEPT, 0);
    if (!tried(pg, LOOK_ORIENTATION))
        return step(LOOK_ORIENTATION, 0);
    if (pg->osd_found && pg->osd_degrees % 360 != 0 &&
        pg->osd_confidence >= lim->min_osd_confidence && !tried(pg, LOOK_ROTATE))
        return step(LOOK_ROTATE, (360 - pg->osd_degrees % 360) % 360);
    /* Only where OSD saw Japanese script: on a dense page of Latin text the
     * vertical model takes many seconds to read nothing. */
    if (vertical && pg->osd_found && pg->osd_japanese && !tried(pg, LOOK_VERTICAL) &&
        !tried(pg, LOOK_MIXED))
        return step(LOOK_VERTICAL, 0);
    return step(LOOK_ACCEPT, 0);
}

int second_look_layout_turn(const look_page *pg, const look_limits *lim)
{
    int all = pg->ttb_chars + pg->ltr_chars;
    if (all < LOOK_MIN_CHARS || pg->ttb_chars < TURNED_MIN_SHARE * all)
        return 0;
    int floor = lim->check_below > 0 ? lim->check_below : 70;
    return pg->ttb_confidence >= floor ? 270 : 0;
}

bool second_look_valid(const look_page *pg, look_step s, const char **why)
{
    if ((unsigned)s.action >= LOOK_COUNT) {
        *why = "an unknown step";
        return false;
    }
    if (s.action != LOOK_ACCEPT && tried(pg, s.action)) {
        *why = "a step already taken for this page";
        return false;
    }
    if (s.action == LOOK_ROTATE && !(s.degrees == 90 || s.degrees == 180 || s.degrees == 270)) {
        *why = "a turn other than 90, 180 or 270 degrees";
        return false;
    }
    if (s.action == LOOK_DESKEW && !(fabs(s.degrees) > 0 && fabs(s.degrees) <= 10)) {
        *why = "a deskew angle outside -10..10 degrees (or 0)";
        return false;
    }
    return true;
}
