/* --engine=dnsdist: the vendor's engine, configured like ours (RIG.md: dnsdist 1.7.3). */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <stdio.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ddr-admin-dnsdist.h"
#include "ddr-admin-files.h"
#include "ddr-doh-url.h"

/* Outgoing DoH arrived in 1.7 (Ubuntu 22.04's 1.6 has none). */
#define MIN_MAJOR 1
#define MIN_MINOR 7

gboolean
ddr_admin_dnsdist_parse_version (const char *text, guint *major, guint *minor)
{
  const char *p = text ? strstr (text, "dnsdist ") : NULL;
  unsigned a, b;

  if (!p || sscanf (p + strlen ("dnsdist "), "%u.%u", &a, &b) != 2)
    return FALSE;
  *major = a;
  *minor = b;
  return TRUE;
}

gboolean
ddr_admin_dnsdist_check_version (GError **error)
{
  const char *seam = g_getenv ("THREATSTOP_DDR_DNSDIST_VERSION");
  g_autofree char *out = NULL;
  g_autofree char *bin = NULL;
  g_autoptr(GError) local_error = NULL;
  guint major, minor;
  const char *argv[] = { NULL, "--version", NULL };

  if (seam)
    out = g_strdup (seam);
  else
    {
      bin = g_find_program_in_path ("dnsdist");
      if (!bin)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                       _("dnsdist is not installed; install the dnsdist package (1.7 or "
                         "newer) or use --engine=ddr"));
          return FALSE;
        }
      argv[0] = bin;
      if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                         &out, NULL, NULL, &local_error))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       _("cannot run %s --version: %s"), bin, local_error->message);
          return FALSE;
        }
    }
  if (!ddr_admin_dnsdist_parse_version (out, &major, &minor))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("cannot tell the dnsdist version from \"%s\""), g_strstrip (out));
      return FALSE;
    }
  if (major < MIN_MAJOR || (major == MIN_MAJOR && minor < MIN_MINOR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("dnsdist %u.%u is too old: --engine=dnsdist needs dnsdist 1.7 or newer "
                     "(older versions cannot forward over DNS-over-HTTPS); use --engine=ddr"),
                   major, minor);
      return FALSE;
    }
  return TRUE;
}

/* A Lua string literal. The values were validated, but quotes cost nothing. */
static void
append_lua_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (; *s; s++)
    {
      if (*s == '"' || *s == '\\')
        g_string_append_c (out, '\\');
      g_string_append_c (out, *s);
    }
  g_string_append_c (out, '"');
}

char *
ddr_admin_dnsdist_render (const DdrInstallConfig *c, char **addresses, GError **error)
{
  g_autoptr(GString) out = g_string_new (NULL);
  DdrDohUrl url = { 0 };
  g_autofree char *path = NULL;
  g_autofree char *check = NULL;

  if (!ddr_doh_url_parse (c->url, &url, error))
    return NULL;
  path = url.query ? g_strdup_printf ("%s?%s", url.path, url.query) : g_strdup (url.path);
  g_string_append (out,
                   "-- dnsdist configuration written by threatstop-ddr-admin --action=install "
                   "--engine=dnsdist.\n"
                   "-- --action=uninstall puts back what was here before.\n\n"
                   "-- No security polling: it would query the internet through "
                   "/etc/resolv.conf.\n"
                   "setSecurityPollSuffix(\"\")\n\n");
  for (guint i = 0; c->listen[i]; i++)
    {
      g_string_append (out, i == 0 ? "setLocal(" : "addLocal(");
      append_lua_string (out, c->listen[i]);
      g_string_append (out, ")\n");
    }
  g_string_append (out, "setACL({");
  for (guint i = 0; c->acl[i]; i++)
    {
      g_string_append (out, i ? ", " : "");
      append_lua_string (out, c->acl[i]);
    }
  g_string_append (out, "})\n\n"
                   "pc = newPacketCache(100000)\n"
                   "getPool(\"\"):setCache(pc)\n\n"
                   "-- The ThreatSTOP DoH endpoint. The health check asks for the check-domain\n"
                   "-- every 5 s and needs 3 failures in a row to mark the backend down and 2\n"
                   "-- successes to bring it back, so one slow answer does not flap it.\n");
  check = c->check_domain
          ? (g_str_has_suffix (c->check_domain, ".") ? g_strdup (c->check_domain)
                                                     : g_strconcat (c->check_domain, ".", NULL))
          : NULL;
  for (guint i = 0; addresses[i]; i++)
    {
      g_autofree char *addr = strchr (addresses[i], ':')
                              ? g_strdup_printf ("[%s]:%s", addresses[i], url.port)
                              : g_strdup_printf ("%s:%s", addresses[i], url.port);

      g_string_append (out, "newServer({address=");
      append_lua_string (out, addr);
      g_string_append (out, ", tls=\"openssl\", subjectName=");
      append_lua_string (out, url.bare_host);
      g_string_append (out, ", dohPath=");
      append_lua_string (out, path);
      g_string_append (out, ", validateCertificates=true");
      if (c->ca_file)
        {
          g_string_append (out, ", caStore=");
          append_lua_string (out, c->ca_file);
        }
      if (check)
        {
          g_string_append (out, ", checkName=");
          append_lua_string (out, check);
          g_string_append (out, ", mustResolve=true");
        }
      g_string_append (out, ",\n           checkInterval=5, checkTimeout=2000, "
                       "maxCheckFailures=3, rise=2})\n");
    }
  ddr_doh_url_clear (&url);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

gboolean
ddr_admin_dnsdist_check_config (const char *text, GError **error)
{
  g_autofree char *bin = g_find_program_in_path ("dnsdist");
  g_autofree char *tmp = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  gboolean ran;

  if (!bin)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("dnsdist is not installed; install the dnsdist package (1.7 or newer) "
                     "or use --engine=ddr"));
      return FALSE;
    }
  tmp = ddr_admin_files_write_tmp ("ddr-dnsdist-XXXXXX.conf", text, error);
  if (!tmp)
    return FALSE;
  {
    const char *argv[] = { bin, "--check-config", "-C", tmp, NULL };

    ran = g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                        &status, error);
  }
  g_unlink (tmp);
  if (!ran)
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("dnsdist rejects the configuration: %s"),
                   g_strstrip (*err ? err : out));
      return FALSE;
    }
  return TRUE;
}
