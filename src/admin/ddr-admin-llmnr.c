/* systemd-resolved's LLMNR turned off by install: resolved sends a single-label name only
 * to LLMNR (ResolveUnicastSingleLabel=no), on every link, 3 attempts of ~1 s each, so a
 * failing local lookup (`getent hosts gw`) waits ~10 s; and on a hostile network any host
 * may answer it (a Responder-style poisoning the DNS firewall never sees; resolved even
 * asks the network for "wpad" that way). Issue 12 item 9. */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <glib/gi18n.h>

#include "ddr-admin-install.h"
#include "ddr-admin-llmnr.h"
#include "ddr-admin-resolved.h"
#include "ddr-admin-system.h"

gboolean
ddr_admin_llmnr_mode_ok (const char *mode)
{
  return !mode || g_str_equal (mode, "off") || g_str_equal (mode, "keep");
}

/* Its unit or its binary, where Debian (merged /usr or not), Fedora and an admin put them. */
static gboolean
resolved_installed (const char *root)
{
  static const char *const where[] = {
    "/usr/lib/systemd/system/" DDR_RESOLVED_UNIT, "/lib/systemd/system/" DDR_RESOLVED_UNIT,
    "/etc/systemd/system/" DDR_RESOLVED_UNIT, "/usr/lib/systemd/systemd-resolved",
    "/lib/systemd/systemd-resolved", NULL
  };

  for (guint i = 0; where[i]; i++)
    {
      g_autofree char *path = ddr_admin_path (root, where[i]);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return TRUE;
    }
  return FALSE;
}

int
ddr_admin_llmnr_off (const char *root, const char *mode, DdrInstallState *run,
                     DdrInstallState *known)
{
  static const char dropin[] =
    "# Written by threatstop-ddr-admin --action=install: with LLMNR, systemd-resolved sends\n"
    "# a single-label name to every link by multicast, so a failing local lookup waits\n"
    "# ~10 s, and any host on an untrusted network may answer names that ThreatSTOP's\n"
    "# DNS firewall never sees. Install with --llmnr=keep to keep LLMNR on.\n"
    "# --action=uninstall removes this file.\n"
    "[Resolve]\n"
    "LLMNR=no\n";
  g_autoptr(GError) error = NULL;
  g_autofree char *path = ddr_admin_path (root, DDR_RESOLVED_LLMNR_DROPIN);

  if (g_strcmp0 (mode, "keep") == 0)
    {
      /* A re-install does not take back what an earlier one did: uninstall does. */
      if (ddr_install_state_has (known, "created", DDR_RESOLVED_LLMNR_DROPIN)
          || ddr_install_state_has (known, "replaced", DDR_RESOLVED_LLMNR_DROPIN))
        g_print (_("An earlier install turned LLMNR off with %s; --action=uninstall "
                   "removes it.\n"), path);
      return 0;
    }
  if (!resolved_installed (root))
    return 0;
  if (!ddr_install_state_write (run, known, DDR_RESOLVED_LLMNR_DROPIN, dropin, -1, 0644,
                                &error))
    {
      g_printerr ("threatstop-ddr-admin: %s\n", error->message);
      return 1;
    }
  g_print (_("Wrote %s\n"), path);
  g_print (_("LLMNR is off in systemd-resolved: a single-label name no DNS server knows "
             "fails at once, and no host on the network can answer names the DNS firewall "
             "does not see (--llmnr=keep keeps it on).\n"));
  return ddr_admin_resolved_restart (root, "try-restart", run);
}
