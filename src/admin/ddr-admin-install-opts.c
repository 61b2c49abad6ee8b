/* The install/uninstall flags: the vendor's (--listen, --url, --acl) and ours. */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "ddr-admin-install.h"

const GOptionEntry *
ddr_admin_install_option_entries (DdrInstallOptions *o)
{
  static GOptionEntry entries[11];
  const GOptionEntry e[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->listen,
      N_("With --action=install: where the relay listens (127.0.0.1 on a laptop; a LAN "
         "address or 0.0.0.0:53 on a forwarder); IPv6 in brackets; may be repeated"),
      N_("IP[:PORT]") },
    { "url", 0, 0, G_OPTION_ARG_STRING, &o->url,
      N_("With --action=install: your ThreatSTOP DoH endpoint (https only)"), N_("URL") },
    { "acl", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->acl,
      N_("With --action=install: who may use the relay; may be repeated (default: loopback, "
         "plus the private networks when listening beyond loopback)"), N_("CIDR") },
    { "check-domain", 0, 0, G_OPTION_ARG_STRING, &o->check_domain,
      N_("With --action=install: a name that resolves only through the service; install "
         "tests the endpoint and the relay with it"), N_("NAME") },
    { "bootstrap", 0, 0, G_OPTION_ARG_STRING, &o->bootstrap,
      N_("With --action=install: addresses of the DoH host, so it is found without DNS"),
      N_("IP[,IP]") },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &o->ca_file,
      N_("With --action=install: a PEM CA bundle for a private CA (default: the system's)"),
      N_("PATH") },
    { "engine", 0, 0, G_OPTION_ARG_STRING, &o->engine,
      N_("With --action=install: ddr (default) or dnsdist (writes /etc/dnsdist/dnsdist.conf "
         "and runs dnsdist 1.7 or newer instead)"), N_("ENGINE") },
    { "resolved", 0, 0, G_OPTION_ARG_STRING, &o->resolved,
      N_("With --action=install, when systemd-resolved's stub holds port 53: stub-off "
         "(default: a drop-in with DNSStubListener=no) or disable (the vendor's way)"),
      N_("HOW") },
    { "llmnr", 0, 0, G_OPTION_ARG_STRING, &o->llmnr,
      N_("With --action=install, where systemd-resolved is installed: off (default: a "
         "drop-in with LLMNR=no) or keep (for networks that rely on LLMNR)"),
      N_("HOW") },
    { "yes", 0, 0, G_OPTION_ARG_NONE, &o->yes,
      N_("Answer yes to every question (automated deployment); without a terminal and "
         "without --yes the answer is no"), NULL },
    { NULL }
  };

  memcpy (entries, e, sizeof e);
  return entries;
}

gboolean
ddr_admin_install_options_check (DdrInstallOptions *o, const char *action)
{
  gboolean install = g_str_equal (action, "install");
  gboolean uninstall = g_str_equal (action, "uninstall");
  const char *flag = NULL;
  g_autofree char *root = NULL;

  if (!install)
    flag = o->listen ? "--listen" : o->url ? "--url" : o->acl ? "--acl"
           : o->check_domain ? "--check-domain" : o->bootstrap ? "--bootstrap"
           : o->ca_file ? "--ca-file" : o->engine ? "--engine" : o->resolved ? "--resolved"
           : o->llmnr ? "--llmnr" : NULL;
  if (!flag && !install && !uninstall && !g_str_equal (action, "restore-dns"))
    flag = o->root ? "--root" : o->yes ? "--yes" : NULL;
  if (flag)
    {
      g_printerr (_("threatstop-ddr-admin: %s does not go with --action=%s\n"), flag, action);
      return FALSE;
    }
  if (!o->root)
    return TRUE;
  if (!g_file_test (o->root, G_FILE_TEST_IS_DIR))
    {
      g_printerr (_("threatstop-ddr-admin: invalid --root=%s: expected an existing "
                    "directory\n"), o->root);
      return FALSE;
    }
  root = g_canonicalize_filename (o->root, NULL);
  g_free (o->root);
  o->root = g_steal_pointer (&root);
  return TRUE;
}

void
ddr_admin_install_options_clear (DdrInstallOptions *o)
{
  g_clear_pointer (&o->listen, g_strfreev);
  g_clear_pointer (&o->url, g_free);
  g_clear_pointer (&o->acl, g_strfreev);
  g_clear_pointer (&o->check_domain, g_free);
  g_clear_pointer (&o->bootstrap, g_free);
  g_clear_pointer (&o->ca_file, g_free);
  g_clear_pointer (&o->engine, g_free);
  g_clear_pointer (&o->resolved, g_free);
  g_clear_pointer (&o->llmnr, g_free);
  g_clear_pointer (&o->root, g_free);
}
