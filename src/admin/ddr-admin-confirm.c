/* install's last step: the check-domain through the relay, then the daemon's own word that it protects. */
#define G_LOG_DOMAIN "ddr-admin"

#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "ddr-admin-check.h"
#include "ddr-admin-client.h"
#include "ddr-admin-confirm.h"

#define RELAY_TRIES      10
#define STATE_WAIT_S     20
#define STATE_POLL_MS    100

/* The vendor's last step, done for the user: the check-domain through the relay. */
static gboolean
relay_answers (const DdrInstallConfig *c)
{
  g_autofree char *host = NULL;
  g_autofree char *why = NULL;
  guint16 port = 0;

  if (!c->check_domain || !ddr_admin_check_target (c->listen[0], &host, &port))
    return TRUE;
  g_print (_("Checking that %s resolves through the relay at %s port %u…\n"), c->check_domain,
           host, port);
  /* dnsdist marks its backend up only after its first health checks. */
  for (guint i = 0; i < RELAY_TRIES; i++)
    {
      g_clear_pointer (&why, g_free);
      if (ddr_admin_check_query_relay (host, port, c->check_domain, &why))
        {
          g_print (_("Confirmed: %s resolves through the relay.\n"), c->check_domain);
          return TRUE;
        }
      g_usleep (G_USEC_PER_SEC / 2);
    }
  g_printerr (_("The relay is running but %s did not resolve through it: %s.\n"),
              c->check_domain, why);
  return FALSE;
}

/* States in which the install did what it should: the system resolver uses the relay
 * (protected), a LAN relay or roaming off (forwarding), or the daemon stands down on
 * purpose (trusted). */
static gboolean
settled (const char *state)
{
  return g_str_equal (state, "protected") || g_str_equal (state, "forwarding")
         || g_str_equal (state, "trusted");
}

/* A relay that answers is not yet a protected laptop: steering the system resolver can
 * still fail (a kernel without the dummy link type). Wait for the daemon's State and
 * report its own Reason and LastError otherwise. */
static gboolean
daemon_protects (void)
{
  g_autoptr(DdrAdminClient) client = ddr_admin_client_new ();
  g_autoptr(GVariant) props = NULL;
  gint64 end = g_get_monotonic_time () + STATE_WAIT_S * G_USEC_PER_SEC;
  const char *state = "";

  if (!client)
    return FALSE;
  g_print (_("Waiting for the daemon to protect this system…\n"));
  while (TRUE)
    {
      g_clear_pointer (&props, g_variant_unref);
      props = ddr_admin_client_get_properties (client);
      if (!props)
        return FALSE;
      state = ddr_admin_lookup_string (props, "State");
      if (settled (state) || g_get_monotonic_time () >= end)
        break;
      g_usleep (STATE_POLL_MS * 1000);
    }
  if (settled (state))
    {
      g_print (_("The daemon says: %s (%s).\n"), state, ddr_admin_lookup_string (props, "Reason"));
      return TRUE;
    }
  g_printerr (_("The relay answers, but after %u s this system is not protected: the state is "
                "%s.\n"), STATE_WAIT_S, state);
  g_printerr (_("Reason: %s\n"), ddr_admin_lookup_string (props, "Reason"));
  if (*ddr_admin_lookup_string (props, "LastError"))
    g_printerr (_("Last error: %s\n"), ddr_admin_lookup_string (props, "LastError"));
  g_printerr (_("The service stays installed and keeps trying; see threatstop-ddr-admin "
                "--action=status and journalctl -u threatstop-ddr.\n"));
  return FALSE;
}

int
ddr_admin_confirm (const DdrInstallConfig *c, gboolean dnsdist)
{
  if (!relay_answers (c))
    return 1;
  /* dnsdist has no State; it forwards and nothing else */
  if (!dnsdist && !daemon_protects ())
    return 1;
  return 0;
}
