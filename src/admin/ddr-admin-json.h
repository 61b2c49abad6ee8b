/* GVariant to JSON for --json output (booleans, numbers, strings, arrays, a{sv}). Pure code. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends v as JSON. Dictionaries with string keys become objects, other containers
 * arrays, variants are unboxed; integers stay exact (no floating point). */
void  ddr_admin_json_append (GString *out, GVariant *v);
char *ddr_admin_json_string (GVariant *v);

G_END_DECLS
