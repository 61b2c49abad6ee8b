/* Install flags checked the daemon's way, and the ddr.conf they make. */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <unistd.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ddr-admin-conf.h"
#include "ddr-admin-files.h"
#include "ddr-acl.h"
#include "ddr-config.h"
#include "ddr-dns-wire.h"
#include "ddr-doh-url.h"
#include "ddr-listen-address.h"

/* A LAN forwarder must never be an open resolver (DESIGN.md, issue 6). */
static const char *const default_acl[] = {
  "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", NULL
};
static const char *const loopback_acl[] = { "127.0.0.0/8", "::1/128", NULL };

static gboolean
bad (GError **error, const char *flag, const char *value, const char *expected)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("invalid %s=%s: %s"), flag, value, expected);
  return FALSE;
}

static gboolean
missing (GError **error, const char *flag, const char *expected)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("%s is missing: %s"), flag,
               expected);
  return FALSE;
}

static gboolean
validate_listen (const DdrInstallOptions *o, DdrInstallConfig *out, gboolean *beyond_loopback,
                 GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *text = NULL;

  for (guint i = 0; o->listen[i]; i++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GInetSocketAddress) sa = ddr_parse_listen_address (o->listen[i], &local_error);
      g_autofree char *ip = NULL;
      GInetAddress *addr;
      guint16 port;

      if (!sa)
        return bad (error, "--listen", o->listen[i],
                    _("expected IP[:PORT] such as 127.0.0.1, 192.168.1.2:53, 0.0.0.0:53 or "
                      "[::1]:53 (IPv6 in brackets, port 1-65535)"));
      addr = g_inet_socket_address_get_address (sa);
      port = g_inet_socket_address_get_port (sa);
      ip = g_inet_address_to_string (addr);
      if (!g_inet_address_get_is_loopback (addr))
        *beyond_loopback = TRUE;
      if (port == 53 && g_inet_address_get_is_any (addr))
        out->wildcard_53 = TRUE;
      g_free (text);
      text = g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV6
             ? g_strdup_printf ("[%s]:%u", ip, port) : g_strdup_printf ("%s:%u", ip, port);
      g_strv_builder_add (b, text);
    }
  out->listen = g_strv_builder_end (b);
  out->lan_only = !g_strv_contains ((const char *const *) out->listen, "127.0.0.1:53") &&
                  !g_strv_contains ((const char *const *) out->listen, "0.0.0.0:53");
  return TRUE;
}

static gboolean
validate_acl (const DdrInstallOptions *o, DdrInstallConfig *out, gboolean beyond_loopback,
              GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  if (!o->acl || !o->acl[0])
    {
      out->default_acl = beyond_loopback;
      out->acl = g_strdupv ((char **) (beyond_loopback ? default_acl : loopback_acl));
      return TRUE;
    }
  for (guint i = 0; o->acl[i]; i++)
    {
      /* "--acl=a,b" as well as "--acl=a --acl=b". */
      g_auto(GStrv) parts = g_strsplit (o->acl[i], ",", -1);

      for (guint j = 0; parts[j]; j++)
        {
          const char *one[] = { g_strstrip (parts[j]), NULL };
          g_autoptr(DdrAcl) acl = ddr_acl_new_from_strv (one, NULL);

          if (!acl)
            return bad (error, "--acl", parts[j],
                        _("expected an address or CIDR subnet such as 192.168.1.0/24, "
                          "10.0.0.5 or fd00::/8"));
          g_strv_builder_add (b, parts[j]);
        }
    }
  out->acl = g_strv_builder_end (b);
  return TRUE;
}

static gboolean
validate_bootstrap (const DdrInstallOptions *o, DdrInstallConfig *out, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) parts = NULL;

  if (!o->bootstrap)
    return TRUE;
  parts = g_strsplit (o->bootstrap, ",", -1);
  for (guint i = 0; parts[i]; i++)
    {
      g_autoptr(GInetAddress) addr = g_inet_address_new_from_string (g_strstrip (parts[i]));

      if (!addr)
        return bad (error, "--bootstrap", o->bootstrap,
                    _("expected IP addresses of the DoH host separated by commas, such as "
                      "198.51.100.10,2001:db8::10"));
      g_strv_builder_add (b, parts[i]);
    }
  out->bootstrap = g_strv_builder_end (b);
  return TRUE;
}

gboolean
ddr_admin_conf_validate (const DdrInstallOptions *o, DdrInstallConfig *out, GError **error)
{
  DdrDohUrl url = { 0 };
  gboolean beyond_loopback = FALSE;
  gboolean url_ok;
  guint8 wire[DDR_DNS_MAX_NAME];
  gsize wire_len;

  if (!o->url)
    return missing (error, "--url", _("expected --url=https://host[:port]/path, the DoH URL "
                                      "of your ThreatSTOP endpoint"));
  url_ok = ddr_doh_url_parse (o->url, &url, NULL);
  ddr_doh_url_clear (&url);
  if (!url_ok)
    return bad (error, "--url", o->url,
                _("expected the https URL of your ThreatSTOP DoH endpoint, "
                  "https://host[:port]/path"));
  out->url = g_strdup (o->url);
  if (!o->listen || !o->listen[0])
    return missing (error, "--listen", _("expected --listen=IP[:PORT]: 127.0.0.1 on a laptop, "
                                         "a LAN address or 0.0.0.0:53 on a forwarder"));
  if (!validate_listen (o, out, &beyond_loopback, error)
      || !validate_acl (o, out, beyond_loopback, error)
      || !validate_bootstrap (o, out, error))
    return FALSE;
  if (o->check_domain)
    {
      if (!*o->check_domain || !ddr_dns_name_from_string (o->check_domain, wire, &wire_len))
        return bad (error, "--check-domain", o->check_domain,
                    _("expected a domain name such as check.example.com"));
      out->check_domain = g_strdup (o->check_domain);
    }
  if (o->ca_file)
    {
      if (!g_path_is_absolute (o->ca_file) || g_access (o->ca_file, R_OK) != 0
          || !g_file_test (o->ca_file, G_FILE_TEST_IS_REGULAR))
        return bad (error, "--ca-file", o->ca_file,
                    _("expected the absolute path of a readable PEM CA bundle"));
      out->ca_file = g_strdup (o->ca_file);
    }
  return TRUE;
}

void
ddr_admin_conf_clear (DdrInstallConfig *c)
{
  g_clear_pointer (&c->listen, g_strfreev);
  g_clear_pointer (&c->acl, g_strfreev);
  g_clear_pointer (&c->url, g_free);
  g_clear_pointer (&c->check_domain, g_free);
  g_clear_pointer (&c->bootstrap, g_strfreev);
  g_clear_pointer (&c->ca_file, g_free);
}

static void
set_list (GKeyFile *kf, const char *group, const char *key, char **values)
{
  g_key_file_set_string_list (kf, group, key, (const char *const *) values,
                              g_strv_length (values));
}

/* The daemon's loader is the judge, so the CLI and the daemon cannot disagree. */
static gboolean
check_with_daemon_loader (const char *text, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(DdrConfig) config = NULL;
  g_autofree char *tmp = ddr_admin_files_write_tmp ("ddr-conf-XXXXXX", text, error);

  if (!tmp)
    return FALSE;
  config = ddr_config_load (tmp, NULL, &local_error);
  g_unlink (tmp);
  if (!config)
    {
      /* Drop the temporary file's name: the message is about the values. */
      const char *msg = local_error->message;
      const char *after = g_str_has_prefix (msg, tmp) ? msg + strlen (tmp) + 2 : msg;

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("the configuration would be invalid: %s"), after);
      return FALSE;
    }
  return TRUE;
}

char *
ddr_admin_conf_render (const DdrInstallConfig *c, const char *existing, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autofree char *text = NULL;

  if (!existing || !g_key_file_load_from_data (kf, existing, -1,
                                               G_KEY_FILE_KEEP_COMMENTS, NULL))
    {
      g_clear_pointer (&kf, g_key_file_unref);
      kf = g_key_file_new ();
      g_key_file_set_comment (kf, NULL, NULL,
                              " threatstop-ddr configuration, written by threatstop-ddr-admin "
                              "--action=install.\n Re-running install updates the keys it "
                              "sets and keeps the others; see ddr.conf(5).", NULL);
    }
  g_key_file_set_string (kf, "service", "url", c->url);
  if (c->check_domain)
    g_key_file_set_string (kf, "service", "check-domain", c->check_domain);
  if (c->bootstrap)
    set_list (kf, "service", "bootstrap", c->bootstrap);
  if (c->ca_file)
    g_key_file_set_string (kf, "service", "ca-file", c->ca_file);
  set_list (kf, "relay", "listen", c->listen);
  set_list (kf, "relay", "acl", c->acl);
  /* Roaming steers the system to 127.0.0.1:53: without that listener it has nothing
   * to steer to. With it, an existing choice is kept. */
  if (c->lan_only)
    g_key_file_set_string (kf, "roaming", "enabled", "false");
  text = g_key_file_to_data (kf, NULL, NULL);
  if (!check_with_daemon_loader (text, error))
    return NULL;
  return g_steal_pointer (&text);
}
