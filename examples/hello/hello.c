/* hello: prints its arguments and the GREETING variable, then exits with the status given by
 * --exit N (default 0). `--crash` dereferences NULL, to show how a signal is reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *greeting = getenv("GREETING");
    printf("hello from kiln: %s\n", greeting ? greeting : "(no GREETING set)");
    int status = 0;
    for (int i = 1; i < argc; i++) {
        printf("arg[%d]=%s\n", i, argv[i]);
        if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc) status = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--crash") == 0) {
            fflush(stdout);
            volatile int *nowhere = NULL;
            *nowhere = 1;
        }
    }
    return status;
}
