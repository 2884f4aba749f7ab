/*
 * main() of every unit test program (see unit.h): runs make_suite()'s
 * tests, exit status 0 when all pass. CK_FORK and the other CK_* variables
 * of the environment are Check's own.
 */
#include <stdlib.h>

#include "unit.h"

int
main(void)
{
    SRunner  *sr;
    int       failed;

    sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
