/* REQUIRE(cond): a rule a harness checks beyond memory safety. Breaking it
 * aborts, which libFuzzer reports as a crash and saves the input for. */
#ifndef DOCMILL_FUZZ_REQUIRE_H
#define DOCMILL_FUZZ_REQUIRE_H

#include <stdio.h>
#include <stdlib.h>

#define REQUIRE(cond)                                                       \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: broken: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                        \
        }                                                                   \
    } while (0)

#endif
