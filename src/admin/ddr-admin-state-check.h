/* Which install.state entries uninstall may act on: the files, directories and units
 * install itself writes, nothing else. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE if value is an entry install could have recorded in list ("created",
 * "replaced", "dirs", "enabled", "disabled", "restart"); other lists are plain values. */
gboolean ddr_admin_state_entry_ok (const char *list, const char *value);

G_END_DECLS
