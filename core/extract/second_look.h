/* second_look: the built-in decision, after a page's first OCR reading,
 * of what to try next: nothing, Tesseract's orientation detection, a
 * reading turned back, a reading as vertical Japanese, or one with the
 * vertical model beside the horizontal ones (a page mixing both). Plain
 * data in, one step out: the pipeline takes the step, records it, and asks
 * again until the answer is "accept". A policy's `retry` hook may answer
 * instead (luabridge/policy.c); this is what it falls back on. */
#ifndef DOCMILL_SECOND_LOOK_H
#define DOCMILL_SECOND_LOOK_H

#include <stdbool.h>

typedef enum {
    LOOK_ACCEPT,       /* keep the best reading so far */
    LOOK_ORIENTATION,  /* run Tesseract's orientation and script detection */
    LOOK_ROTATE,       /* read the page turned clockwise by `degrees` */
    LOOK_VERTICAL,     /* read the page as one block of vertical Japanese */
    LOOK_MIXED,        /* read it again with jpn_vert beside the set's models */
    LOOK_DESKEW,       /* read it levelled by `degrees` (counter-clockwise) */
    LOOK_COUNT
} look_action;

extern const char *const look_action_names[LOOK_COUNT];

/* What is known of a page: its first reading's figures (ocr_result) and
 * what has been tried since. */
typedef struct look_page {
    int confidence;        /* the first reading's mean word confidence */
    int chars;             /* bytes of text it gave */
    int cjk_symbols;
    double cjk_gap;
    int ttb_chars, ttb_confidence;   /* blocks laid out top to bottom */
    int ltr_chars, ltr_confidence;   /* the others */
    int best_confidence;   /* the best reading so far */
    unsigned tried;        /* bit (1u << action) for each step taken */
    bool osd_found;        /* the orientation step found text to judge by */
    int osd_degrees;       /* text turned clockwise by this (0/90/180/270) */
    double osd_confidence;
    bool osd_japanese;     /* its script is Japanese (or Han, kana) */
    bool vertical_model;   /* jpn is in the set and jpn_vert is installed */
} look_page;

typedef struct look_limits {
    int check_below;             /* orientation_check_below (0 = no second look) */
    double min_osd_confidence;   /* orientation_min_confidence */
    double min_cjk_gap;          /* vertical_min_cjk_gap (0 = no vertical reading) */
} look_limits;

typedef struct look_step {
    look_action action;
    double degrees;        /* LOOK_ROTATE: 90/180/270; LOOK_DESKEW: the angle */
} look_step;

/* Pages with less text than this are not judged: a blank page or a picture
 * gives OSD nothing to go by and scores low whichever way it is read. */
#define LOOK_MIN_CHARS 50
/* Most steps a page may take, whoever decides them. */
#define LOOK_MAX_STEPS 4

look_step second_look_next(const look_page *pg, const look_limits *lim);
/* The turn Tesseract made by itself: a first reading whose text lies
 * mostly in blocks laid out top to bottom and that still read well is a page
 * turned a quarter clockwise, which it read turned back: 270 (the clockwise
 * turn that makes it upright), else 0. */
int second_look_layout_turn(const look_page *pg, const look_limits *lim);
/* The checked form of a step someone else chose: false (with why) for an
 * angle that does not fit its action, or a step already taken. */
bool second_look_valid(const look_page *pg, look_step step, const char **why);

#endif
