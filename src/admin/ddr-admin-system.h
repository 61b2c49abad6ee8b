/* systemctl for install/uninstall; never run under --root. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* systemctl VERB UNIT; under --root (root != NULL) nothing runs and TRUE is
 * returned. Errors carry systemctl's own message. */
gboolean ddr_admin_systemctl (const char *root, const char *verb, const char *unit,
                              GError **error);
/* systemctl is-enabled / is-active; FALSE under --root. */
gboolean ddr_admin_unit_is   (const char *root, const char *what, const char *unit);
/* The last line the service logged since since_us (wall clock, µs) under identifier
 * (its program name), from its unit's journal: why a start failed, in its own words.
 * NULL when there is none (or no journalctl). */
char    *ddr_admin_journal_last (const char *unit, const char *ident, gint64 since_us);

G_END_DECLS
