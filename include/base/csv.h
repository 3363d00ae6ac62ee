/* csv.h: RFC 4180 fields. */
#ifndef SWEEP_CSV_H
#define SWEEP_CSV_H

#include <stddef.h>
#include <stdio.h>

/* Writes len bytes of s as one field: as they are, or, when they hold a
 * comma, a double quote, CR or LF, inside double quotes with each quote
 * doubled. No separator is written. */
void sw_csv_field(FILE *f, const char *s, size_t len);

/* The same for a NUL-terminated string (NULL writes an empty field). */
void sw_csv_str(FILE *f, const char *s);

#endif
