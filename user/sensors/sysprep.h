/* Runtime preconditions for loading the sensors. */
#ifndef TW_SYSPREP_H
#define TW_SYSPREP_H

#include <stddef.h>

/*
 * Check privileges and kernel BTF, and mount tracefs and bpffs where they
 * are absent. On failure returns a negative errno and writes one line
 * naming what is missing into err.
 */
int sysprep_run(char *err, size_t errsz);

#endif
