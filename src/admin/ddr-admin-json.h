/* GVariant to JSON for --json output (booleans, numbers, strings, arrays, a{sv}). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* v as one line of JSON (json-glib). Dictionaries with string keys become objects,
 * other containers arrays, variants are unboxed; integers stay exact up to G_MAXINT64
 * (json-glib's limit; larger unsigned values are written as G_MAXINT64). */
char *ddr_admin_json_string (GVariant *v);

G_END_DECLS
