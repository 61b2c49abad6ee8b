/* systemd-resolved's LLMNR: off by a drop-in where resolved is installed (--llmnr). */
#pragma once

#include <glib.h>
#include "ddr-admin-state.h"

G_BEGIN_DECLS

#define DDR_RESOLVED_LLMNR_DROPIN "/etc/systemd/resolved.conf.d/threatstop-ddr-llmnr.conf"

/* mode is NULL (off), "off" or "keep". */
gboolean ddr_admin_llmnr_mode_ok (const char *mode);
/* Install's half: where systemd-resolved is installed under root and mode is off, writes
 * the drop-in with LLMNR=no (recorded in run, with resolved as a unit to restart) and
 * try-restarts resolved (not under root). Returns the exit code: 0 done or nothing to
 * do, 1 failed. Uninstall removes the file as any recorded one and try-restarts resolved
 * through ddr_admin_resolved_undo(). */
int      ddr_admin_llmnr_off     (const char *root, const char *mode, DdrInstallState *run,
                                  DdrInstallState *known);

G_END_DECLS
