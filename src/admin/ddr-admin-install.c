/* --action=install: validate everything, write the configuration, put the service in place, check it. */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <stdio.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib/gi18n.h>

#include "ddr-admin-check.h"
#include "ddr-admin-conf.h"
#include "ddr-admin-confirm.h"
#include "ddr-admin-dnsdist.h"
#include "ddr-admin-files.h"
#include "ddr-admin-port.h"
#include "ddr-admin-install.h"
#include "ddr-admin-probe.h"
#include "ddr-admin-llmnr.h"
#include "ddr-admin-resolved.h"
#include "ddr-admin-state.h"
#include "ddr-admin-system.h"

#define DDR_CONF         DDR_SYSCONFDIR "/ddr.conf"
#define DNSDIST_UNIT     "dnsdist.service"
/* Where --ca-file is copied: the unit's ProtectHome=yes (and a private /tmp) hide the
 * user's own path from the daemon, whose error then says only "Permission denied". */
#define DDR_CA_COPY      DDR_SYSCONFDIR "/ca.pem"

char *
ddr_admin_path (const char *root, const char *path)
{
  return root ? g_build_filename (root, path, NULL) : g_strdup (path);
}

gboolean
ddr_admin_ask (gboolean yes, const char *question)
{
  char line[64];

  g_print ("%s ", question);
  if (yes)
    {
      g_print ("%s\n", _("yes (--yes)"));
      return TRUE;
    }
  if (!isatty (STDIN_FILENO))
    {
      g_print ("%s\n", _("no (no terminal to ask on; add --yes to answer yes)"));
      return FALSE;
    }
  g_print ("%s ", _("[y/N]"));
  fflush (stdout);
  if (!fgets (line, sizeof line, stdin))
    return FALSE;
  g_strstrip (line);
  /* TRANSLATORS: the short and long answers that mean "yes" at a [y/N] prompt. */
  return g_ascii_strcasecmp (line, "y") == 0 || g_ascii_strcasecmp (line, "yes") == 0
         || g_ascii_strcasecmp (line, _("y")) == 0 || g_ascii_strcasecmp (line, _("yes")) == 0;
}

static int
fail (int code, const GError *error)
{
  g_printerr ("threatstop-ddr-admin: %s\n", error->message);
  return code;
}

/* dnsdist needs addresses for its backends: bootstrap, an IP literal URL, or the
 * host resolved now (not under --root: no network there). */
static char **
dnsdist_addresses (const char *root, const DdrInstallConfig *c, GError **error)
{
  g_autoptr(GUri) uri = g_uri_parse (c->url, G_URI_FLAGS_NONE, NULL);
  g_autoptr(GInetAddress) literal = NULL;
  g_autoptr(GResolver) resolver = NULL;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  GList *addrs;
  const char *host = uri ? g_uri_get_host (uri) : NULL;

  if (c->bootstrap)
    return g_strdupv (c->bootstrap);
  if (host && (literal = g_inet_address_new_from_string (host)))
    {
      g_strv_builder_add (b, host);
      return g_strv_builder_end (b);
    }
  if (root || !host)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("--engine=dnsdist under --root needs --bootstrap=IP[,IP]: the addresses "
                     "of %s are not looked up there"), host ? host : c->url);
      return NULL;
    }
  resolver = g_resolver_get_default ();
  addrs = g_resolver_lookup_by_name (resolver, host, NULL, error);
  if (!addrs)
    return NULL;
  for (GList *l = addrs; l; l = l->next)
    {
      g_autofree char *text = g_inet_address_to_string (l->data);

      g_strv_builder_add (b, text);
    }
  g_resolver_free_addresses (addrs);
  return g_strv_builder_end (b);
}

/* --ca-file read now (as the user who runs install can) and renamed to the copy that
 * install writes; *source keeps the path as given, for the checks and the endpoint
 * test (the copy is not there yet). A re-install that names the copy copies nothing. */
static gboolean
ca_prepare (const char *root, DdrInstallConfig *c, char **source, GBytes **data,
            GError **error)
{
  g_autofree char *contents = NULL;
  g_autofree char *copy = ddr_admin_path (root, DDR_CA_COPY);
  gsize len = 0;

  if (!c->ca_file)
    return TRUE;
  if (!g_str_equal (c->ca_file, copy))
    {
      if (!g_file_get_contents (c->ca_file, &contents, &len, error))
        return FALSE;
      *data = g_bytes_new_take (g_steal_pointer (&contents), len);
    }
  *source = c->ca_file;
  c->ca_file = g_strdup (DDR_CA_COPY);
  return TRUE;
}

/* c as the user gave it: the CA where it is now. */
static DdrInstallConfig
as_given (const DdrInstallConfig *c, const char *ca_source)
{
  DdrInstallConfig given = *c;

  if (ca_source)
    given.ca_file = (char *) ca_source;
  return given;
}

/* The checked ddr.conf text with ca-file pointing at the copy. */
static char *
with_ca_copy (char *text)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autofree char *owned = text;

  if (!g_key_file_load_from_data (kf, text, -1, G_KEY_FILE_KEEP_COMMENTS, NULL))
    return g_steal_pointer (&owned);
  g_key_file_set_string (kf, "service", "ca-file", DDR_CA_COPY);
  return g_key_file_to_data (kf, NULL, NULL);
}

/* The new configuration file's text and where it goes. */
static int
render (const DdrInstallOptions *o, const DdrInstallConfig *c, const char *ca_source,
        gboolean dnsdist, char **path, char **text)
{
  g_autoptr(GError) error = NULL;
  DdrInstallConfig given = as_given (c, ca_source);

  if (dnsdist)
    {
      g_auto(GStrv) addresses = NULL;

      if (!ddr_admin_dnsdist_check_version (&error))
        return fail (1, error);
      addresses = dnsdist_addresses (o->root, c, &error);
      if (!addresses)
        return fail (2, error);
      /* checked as given, written with the copy */
      *text = ddr_admin_dnsdist_render (&given, addresses, &error);
      if (!*text || !ddr_admin_dnsdist_check_config (*text, &error))
        return fail (2, error);
      g_free (*text);
      *text = ddr_admin_dnsdist_render (c, addresses, &error);
      if (!*text)
        return fail (2, error);
      *path = g_strdup (DDR_DNSDIST_CONF);
    }
  else
    {
      g_autofree char *full = ddr_admin_path (o->root, DDR_CONF);
      g_autofree char *existing = NULL;

      g_file_get_contents (full, &existing, NULL, NULL);
      *text = ddr_admin_conf_render (&given, existing, &error);
      if (!*text)
        return fail (2, error);
      if (ca_source)
        *text = with_ca_copy (*text);
      *path = g_strdup (DDR_CONF);
    }
  return 0;
}

static int
probe_endpoint (const DdrInstallConfig *c)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;

  if (!c->check_domain)
    {
      g_print (_("No --check-domain given: the endpoint test and the final check are "
                 "skipped.\n"));
      return 0;
    }
  g_print (_("Testing the endpoint: a DoH query for %s to %s…\n"), c->check_domain, c->url);
  if (!ddr_admin_doh_probe (c, c->check_domain, &address, &error))
    {
      g_printerr (_("The endpoint test failed: %s.\nCheck the URL (it is in your ThreatSTOP "
                    "portal), that this machine may reach it over HTTPS, and --ca-file for a "
                    "private CA. Nothing was changed.\n"), error->message);
      return 1;
    }
  g_print (_("The endpoint answered: %s is %s.\n"), c->check_domain, address);
  return 0;
}

static int
start_service (const DdrInstallOptions *o, gboolean dnsdist, gboolean unit_copied,
               DdrInstallState *run, DdrInstallState *known)
{
  const char *unit = dnsdist ? DNSDIST_UNIT : DDR_UNIT_NAME;
  g_autoptr(GError) error = NULL;
  gint64 since;

  if (o->root)
    {
      g_print (_("Not enabling or starting %s (--root).\n"), unit);
      return 0;
    }
  /* What dnsdist was doing before, so uninstall can leave it that way. */
  if (dnsdist && !ddr_install_state_get (known, "dnsdist-was-enabled"))
    {
      ddr_install_state_set (run, "dnsdist-was-enabled",
                             ddr_admin_unit_is (NULL, "is-enabled", unit) ? "true" : "false");
      ddr_install_state_set (run, "dnsdist-was-active",
                             ddr_admin_unit_is (NULL, "is-active", unit) ? "true" : "false");
    }
  if (!ddr_admin_unit_is (NULL, "is-enabled", unit))
    ddr_install_state_add (run, "enabled", unit);
  g_print (_("Starting %s…\n"), unit);
  since = g_get_real_time ();
  if ((unit_copied && !ddr_admin_systemctl (NULL, "daemon-reload", NULL, &error))
      || !ddr_admin_systemctl (NULL, "enable", unit, &error)
      || !ddr_admin_systemctl (NULL, "restart", unit, &error))
    {
      g_autofree char *said = ddr_admin_journal_last (unit, dnsdist ? "dnsdist"
                                                                      : "threatstop-ddrd", since);

      g_printerr ("threatstop-ddr-admin: %s\n", error->message);
      if (said)
        /* TRANSLATORS: %s is the service's own last log line (in English). */
        g_printerr (_("The service said: %s\n"), said);
      g_printerr (_("See journalctl -u %s; what this install changed is put back.\n"), unit);
      return 1;
    }
  return 0;
}

/* A step failed: put back what this run changed, services included (not under --root). */
static void
roll_back (const DdrInstallOptions *o, gboolean dnsdist, gboolean existed, gboolean unit_copied,
           DdrInstallState *run, const char *known_before)
{
  const char *unit = dnsdist ? DNSDIST_UNIT : DDR_UNIT_NAME;
  g_auto(GStrv) disabled = ddr_install_state_list (run, "disabled");
  g_autoptr(GError) error = NULL;
  gboolean was_active = g_strcmp0 (ddr_install_state_get (run, "dnsdist-was-active"),
                                   "true") == 0;

  if (!ddr_install_state_rollback (run, known_before, &error))
    g_printerr ("threatstop-ddr-admin: %s\n", error->message);
  if (o->root)
    return;
  if (unit_copied)
    ddr_admin_systemctl (NULL, "daemon-reload", NULL, NULL);
  if (ddr_install_state_has (run, "enabled", unit))
    ddr_admin_systemctl (NULL, "disable", unit, NULL);
  /* A re-install goes back to the old configuration; a first one leaves nothing running. */
  ddr_admin_systemctl (NULL, existed || was_active ? "try-restart" : "stop", unit, NULL);
  if (ddr_install_state_has (run, "restart", DDR_RESOLVED_UNIT))
    ddr_admin_systemctl (NULL, "try-restart", DDR_RESOLVED_UNIT, NULL);
  for (guint i = 0; disabled[i]; i++)
    if (!ddr_admin_systemctl (NULL, "enable", disabled[i], NULL)
        || !ddr_admin_systemctl (NULL, "start", disabled[i], NULL))
      g_printerr (_("threatstop-ddr-admin: could not re-enable %s\n"), disabled[i]);
}

static gboolean
check_choices (const DdrInstallOptions *o, GError **error)
{
  if (o->engine && !g_str_equal (o->engine, "ddr") && !g_str_equal (o->engine, "dnsdist"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 _("invalid --engine=%s: expected ddr or dnsdist"), o->engine);
  else if (o->resolved && !g_str_equal (o->resolved, "stub-off")
           && !g_str_equal (o->resolved, "disable"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 _("invalid --resolved=%s: expected stub-off or disable"), o->resolved);
  else if (!ddr_admin_llmnr_mode_ok (o->llmnr))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 _("invalid --llmnr=%s: expected off or keep"), o->llmnr);
  return !*error;
}

int
ddr_admin_install (const DdrInstallOptions *o)
{
  g_auto(DdrInstallConfig) c = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(DdrInstallState) known = NULL;
  g_autoptr(DdrInstallState) run = ddr_install_state_new (o->root);
  g_auto(DdrInstallFiles) files = { 0 };
  g_autofree char *conf_path = NULL;
  g_autofree char *conf_text = NULL;
  g_autofree char *full = NULL;
  g_autofree char *known_before = NULL;
  g_autofree char *ca_source = NULL;
  g_autoptr(GBytes) ca = NULL;
  gboolean dnsdist = g_strcmp0 (o->engine, "dnsdist") == 0;
  const char *engine = dnsdist ? "dnsdist" : "ddr";
  const char *was;
  gboolean existed;
  int rc;

  /* 1. Everything checked; nothing written yet. */
  if (!check_choices (o, &error) || !ddr_admin_conf_validate (o, &c, &error))
    return fail (2, error);
  if (!ca_prepare (o->root, &c, &ca_source, &ca, &error))
    return fail (2, error);
  known = ddr_install_state_load (o->root, &existed, &error);
  if (!known)
    return fail (1, error);
  was = ddr_install_state_get (known, "engine");
  if (existed && was && !g_str_equal (was, engine))
    {
      g_printerr (_("threatstop-ddr-admin: installed with --engine=%s; run --action=uninstall "
                    "before installing with --engine=%s\n"), was, engine);
      return 2;
    }
  if ((rc = render (o, &c, ca_source, dnsdist, &conf_path, &conf_text)) != 0)
    return rc;
  /* A local unbound or dnsmasq on the address: named now, not as a failed start. The
   * engine itself (a re-install restarts it) and resolved's stub (dealt with below)
   * are not in the way. */
  if (!o->root)
    {
      const char *ours[] = { dnsdist ? "dnsdist (" : "threatstop-ddrd (",
                             c.wildcard_53 ? "systemd-resolve (" : NULL, NULL };

      if (!ddr_admin_port_check (c.listen, ours, &error))
        return fail (1, error);
    }
  if (!dnsdist && !ddr_admin_files_find (o->root, &files, &error))
    return fail (1, error);
  if (c.default_acl)
    g_print (_("Listening beyond loopback without --acl: only loopback, 10.0.0.0/8, "
               "172.16.0.0/12, 192.168.0.0/16 and fc00::/7 may use the relay (add --acl to "
               "change this).\n"));
  if (c.lan_only && !dnsdist)
    g_print (_("No listen address is 127.0.0.1:53, where roaming points the system's DNS: "
               "this is a forwarder, and ddr.conf gets [roaming] enabled=false.\n"));
  if (o->root)
    g_print (_("Installing under %s: no network test, no service started (--root).\n"),
             o->root);
  else
    {
      /* the endpoint test reads the CA where the user put it: the copy is not there yet */
      DdrInstallConfig probe = as_given (&c, ca_source);

      if ((rc = probe_endpoint (&probe)) != 0)
        return rc;
    }

  /* 2. The changes, each recorded in run so a failure can undo this run's part. */
  known_before = existed ? ddr_install_state_to_data (known) : NULL;
  if (c.wildcard_53 && ddr_admin_resolved_stub_active (o->root)
      && (rc = ddr_admin_resolved_fix (o->root, o->resolved, o->yes, run, known)) != 0)
    {
      roll_back (o, dnsdist, existed, FALSE, run, known_before);
      return rc;
    }
  if ((rc = ddr_admin_llmnr_off (o->root, o->llmnr, run, known)) != 0)
    {
      roll_back (o, dnsdist, existed, FALSE, run, known_before);
      return rc;
    }
  full = ddr_admin_path (o->root, conf_path);
  if (ca && ddr_install_state_write (run, known, DDR_CA_COPY, g_bytes_get_data (ca, NULL),
                                     g_bytes_get_size (ca), 0644, &error))
    {
      g_autofree char *ca_full = ddr_admin_path (o->root, DDR_CA_COPY);

      g_print (_("Copied %s to %s (the service cannot read home directories)\n"), ca_source,
               ca_full);
    }
  if (!error && ddr_install_state_write (run, known, conf_path, conf_text, -1, 0644, &error))
    {
      g_print (_("Wrote %s\n"), full);
      if (!dnsdist)
        ddr_admin_files_copy (o->root, &files, run, known, &error);
    }
  ddr_install_state_set (run, "engine", engine);
  ddr_install_state_merge (known, run);
  if (error || !ddr_install_state_save (known, &error))
    {
      g_printerr ("threatstop-ddr-admin: %s\n", error->message);
      roll_back (o, dnsdist, existed, files.unit_copied, run, known_before);
      return 1;
    }

  /* 3. The service, and the vendor's confirmation (whose failure is reported, not
   * rolled back: the service runs, and the message says what did not answer). */
  if ((rc = start_service (o, dnsdist, files.unit_copied, run, known)) != 0)
    {
      roll_back (o, dnsdist, existed, files.unit_copied, run, known_before);
      return rc;
    }
  ddr_install_state_merge (known, run);
  ddr_install_state_save (known, NULL);
  if (rc == 0 && !o->root)
    rc = ddr_admin_confirm (&c, dnsdist);
  if (rc == 0)
    g_print ("%s\n", _("threatstop-ddr is installed."));
  return rc;
}
