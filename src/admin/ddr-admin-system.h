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

G_END_DECLS
