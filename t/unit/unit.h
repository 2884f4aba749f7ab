/*
 * The unit test programs: each t/unit/check_*.c defines make_suite() and
 * is linked with t/unit/main.c, the one main() that runs it.
 */
#ifndef LAVA_UNIT_H
#define LAVA_UNIT_H

#include <check.h>

/* The suite of this program, freed by the runner. */
Suite *make_suite(void);

#endif
