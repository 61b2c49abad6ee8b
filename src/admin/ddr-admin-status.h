/* --action=status: the daemon's state and key statistics, for people or (--json) scripts. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The --json object: DESIGN.md's keys from properties and statistics (floating). */
GVariant *ddr_admin_status_to_variant (GVariant *properties, GVariant *statistics);
int       ddr_admin_status            (gboolean json);

G_END_DECLS
