/* systemd-resolved's stub listener vs. a relay on port 53 of every address. */
#pragma once

#include <glib.h>
#include "ddr-admin-state.h"

G_BEGIN_DECLS

#define DDR_RESOLVED_UNIT   "systemd-resolved.service"
#define DDR_RESOLVED_DROPIN "/etc/systemd/resolved.conf.d/threatstop-ddr.conf"

/* TRUE when resolved runs (its stub-resolv.conf exists under root) with its stub
 * listener on (DNSStubListener= not "no" in resolved.conf or its drop-ins). */
gboolean ddr_admin_resolved_stub_active (const char *root);

/* Resolves the conflict the way mode says (stub-off: a drop-in with
 * DNSStubListener=no; disable: the vendor's way, resolved disabled), after asking.
 * Returns the exit code: 0 done, 1 declined or failed. Changes go into run. */
int      ddr_admin_resolved_fix (const char *root, const char *mode, gboolean yes,
                                 DdrInstallState *run, DdrInstallState *known);
/* After install wrote a resolved drop-in: resolved is recorded in run as a unit to restart
 * (uninstall does it again) and restarted with verb ("restart" or "try-restart"), not
 * under root. Returns the exit code: 0 done, 1 failed (said on stderr). */
int      ddr_admin_resolved_restart (const char *root, const char *verb, DdrInstallState *run);
/* Uninstall's half: restart resolved when install did (not under root). */
void     ddr_admin_resolved_undo (const char *root, DdrInstallState *state);

G_END_DECLS
