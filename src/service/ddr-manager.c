/* The daemon's core: configuration, the relay, the published state, reload. No bus I/O. */
#define G_LOG_DOMAIN "ddr-manager"

#include "config.h"

#include <errno.h>

#include "ddr-config.h"
#include "ddr-dbus-service.h"
#include "ddr-error.h"
#include "ddr-manager.h"
#include "ddr-relay.h"
#include "ddr-roam-controller.h"
#include "ddr-sd-notify.h"
#include "ddr-steer.h"
#include "ddr-stats-variant.h"

/* The longest pause Pause() accepts: one week. */
#define DDR_PAUSE_MAX_MINUTES (7 * 24 * 60)

#define FORWARDING_REASON \
  "Roaming is off: the relay forwards DNS queries to the ThreatSTOP service, " \
  "and the system DNS settings are left unchanged."

#define NO_LOOPBACK_REASON \
  "Roaming is off: [relay] listen has no 127.0.0.1:53, where roaming would point the " \
  "system's DNS; the relay forwards DNS queries to the ThreatSTOP service and the system " \
  "DNS settings are left unchanged."

struct _DdrManager {
  GObject        parent_instance;

  char          *config_path;
  char          *state_dir;
  DdrConfig     *config;
  DdrRelay      *relay;
  gint64         started_us;     /* monotonic */
  char          *summary;
  DdrGenService *service;        /* the published state: D-Bus properties */
  DdrRoamController *roaming;    /* NULL: roaming off (forwarder, --no-bus) */
  char          *reload_error;   /* LastError's two sources (set_last_error) */
  char          *roam_error;
};

G_DEFINE_FINAL_TYPE (DdrManager, ddr_manager, G_TYPE_OBJECT)

/* A D-Bus string must be valid UTF-8 (GDBus aborts on one that is not). The network's
 * words are checked where they enter (the portal's address in ddr-portal-url.c, NM's
 * names arrive over D-Bus); this is the last line that a mistake there cannot cross. */
static const char *
bus_text (const char *s, char **copy)
{
  if (s == NULL)
    return "";
  if (g_utf8_validate (s, -1, NULL))
    return s;
  g_warning ("a status string was not valid UTF-8; published with replacement characters");
  *copy = g_utf8_make_valid (s, -1);
  return *copy;
}

/* The one place the roaming state changes: State, Reason, Protected and
 * UnprotectedSince always move together. The generated setters emit
 * PropertiesChanged (only for values that really change) once exported. */
static void
set_state (DdrManager *self, const char *state, const char *reason, gboolean protected)
{
  DdrGenService *s = self->service;
  gboolean was_protected = ddr_gen_service_get_protected (s);
  g_autofree char *old = g_strdup (ddr_gen_service_get_state (s));
  guint64 unprotected_since = ddr_gen_service_get_unprotected_since (s);
  g_autofree char *reason_copy = NULL;

  /* Forwarding steers nothing, so nothing is "unprotected" there either. */
  if (protected || g_str_equal (state, "forwarding"))
    unprotected_since = 0;
  else if (was_protected || unprotected_since == 0)
    unprotected_since = (guint64) (g_get_real_time () / G_USEC_PER_SEC);

  g_object_freeze_notify (G_OBJECT (s));
  ddr_gen_service_set_state (s, state);
  ddr_gen_service_set_reason (s, bus_text (reason, &reason_copy));
  ddr_gen_service_set_protected (s, protected);
  ddr_gen_service_set_unprotected_since (s, unprotected_since);
  g_object_thaw_notify (G_OBJECT (s));

  /* The journal's story: each transition once, at info level (always written, see
   * main.c), old and new state and why. Reasons name networks, never queries. */
  if (old && g_strcmp0 (old, state) != 0)
    g_info ("state %s -> %s: %s", old, state, reason);
}

/* The one writer of LastError, which has two sources: a refused reload and the roaming
 * controller. The newest error wins; clearing one shows the other's, if any. A source
 * that repeats itself (the controller publishes often) changes nothing. */
static void
set_last_error (DdrManager *self, char **source, const char *message)
{
  char *other = source == &self->reload_error ? self->roam_error : self->reload_error;
  g_autofree char *copy = NULL;

  if (!message)
    message = "";
  if (*source && g_str_equal (*source, message))
    return;
  g_free (*source);
  *source = g_strdup (message);
  ddr_gen_service_set_last_error (self->service,
                                  bus_text (*message ? message : other ? other : "", &copy));
}

static void
refresh_service_reachable (DdrManager *self)
{
  g_autofree DdrUpstreamInfo *ups = NULL;
  gboolean reachable = FALSE;
  guint n = 0;

  /* While roaming, the controller's service probe says it. */
  if (self->roaming && !g_str_equal (ddr_gen_service_get_state (self->service), "forwarding"))
    return;
  ups = ddr_relay_get_upstreams (self->relay, &n);
  for (guint i = 0; i < n; i++)
    reachable = reachable || ups[i].healthy;
  ddr_gen_service_set_service_reachable (self->service, reachable);
}

/* Properties that come straight from the configuration. */
static void
publish_config (DdrManager *self)
{
  const DdrRelayConfig *rc = &self->config->relay;
  DdrGenService *s = self->service;

  g_object_freeze_notify (G_OBJECT (s));
  ddr_gen_service_set_service_url (s, rc->upstream.urls[0]);
  ddr_gen_service_set_listen_addresses (s, (const char *const *) rc->listen);
  ddr_gen_service_set_check_domain (s, rc->check_domain ? rc->check_domain : "");
  g_object_thaw_notify (G_OBJECT (s));
  refresh_service_reachable (self);

  g_free (self->summary);
  self->summary = g_strdup_printf ("relaying to %s", rc->upstream.urls[0]);
}

/* ---- roaming ---- */

/* The name the service probe asks for: check-domain, else the service's own host. */
static void
roam_config_from (DdrRoamConfig *rc, const DdrConfig *c)
{
  g_autoptr(GUri) uri = g_uri_parse (c->relay.upstream.urls[0], G_URI_FLAGS_NONE, NULL);

  rc->enabled = g_strdup (c->roaming_enabled);
  rc->dns_backend = g_strdup (c->dns_backend);
  rc->portal_probe_url = g_strdup (c->portal_probe_url);
  rc->trusted_networks = g_strdupv (c->trusted_networks);
  rc->trust_protected = c->trust_protected_networks;
  rc->local_domains = g_strdupv (c->local_domains);
  rc->block = g_strcmp0 (c->on_service_unreachable, "block") == 0;
  rc->check_name = g_strdup (c->relay.check_domain ? c->relay.check_domain
                                                   : uri ? g_uri_get_host (uri) : NULL);
}

static void
on_roaming_status (const DdrRoamStatus *status, gpointer user_data)
{
  DdrManager *self = user_data;
  DdrGenService *s = self->service;
  g_autofree char *network = NULL, *portal_url = NULL;

  g_object_freeze_notify (G_OBJECT (s));
  set_state (self, ddr_roam_state_to_string (status->state), status->reason, status->protected);
  ddr_gen_service_set_network (s, bus_text (status->network, &network));
  ddr_gen_service_set_portal_url (s, bus_text (status->portal_url, &portal_url));
  if (status->state == DDR_ROAM_FORWARDING)
    refresh_service_reachable (self);
  else
    ddr_gen_service_set_service_reachable (s, status->service_reachable);
  ddr_gen_service_set_paused_until (s, status->paused_until);
  ddr_gen_service_set_dns_backend (s, status->dns_backend);
  set_last_error (self, &self->roam_error, status->last_error);
  g_object_thaw_notify (G_OBJECT (s));
}

void
ddr_manager_start (DdrManager *self, gboolean bus)
{
  DdrRoamConfig rc = { 0 };

  g_return_if_fail (DDR_IS_MANAGER (self));
  if (self->roaming)
    return;
  if (!bus || g_str_equal (self->config->roaming_enabled, "false"))
    {
      set_state (self, "forwarding", FORWARDING_REASON, FALSE);
      return;
    }
  if (!ddr_config_roaming_listener (self->config))
    {
      /* enabled=auto: true without the listener is refused by the loader. */
      set_state (self, "forwarding", NO_LOOPBACK_REASON, FALSE);
      return;
    }
  roam_config_from (&rc, self->config);
  self->roaming = ddr_roam_controller_new (self->relay, &rc, self->state_dir, on_roaming_status,
                                           self);
  ddr_roam_config_clear (&rc);
}

static void
ddr_manager_finalize (GObject *object)
{
  DdrManager *self = DDR_MANAGER (object);

  /* First: it restores the system DNS while the relay still answers. */
  g_clear_pointer (&self->roaming, ddr_roam_controller_free);
  g_clear_object (&self->service);
  g_clear_pointer (&self->relay, ddr_relay_free);
  g_clear_pointer (&self->config, ddr_config_free);
  g_free (self->config_path);
  g_free (self->state_dir);
  g_free (self->summary);
  g_free (self->reload_error);
  g_free (self->roam_error);
  G_OBJECT_CLASS (ddr_manager_parent_class)->finalize (object);
}

static void
ddr_manager_class_init (DdrManagerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ddr_manager_finalize;
}

static void
ddr_manager_init (DdrManager *self)
{
  self->started_us = g_get_monotonic_time ();
}

DdrManager *
ddr_manager_new (const char *config_path, const char *state_dir, gboolean *bad_config,
                 GError **error)
{
  g_autoptr(DdrManager) self = g_object_new (DDR_TYPE_MANAGER, NULL);
  g_autoptr(GError) local_error = NULL;
  DdrGenService *s;

  *bad_config = TRUE;
  self->config_path = g_strdup (config_path);
  self->state_dir = g_strdup (state_dir);
  self->config = ddr_config_load (config_path, state_dir, error);
  if (!self->config)
    return NULL;
  if (g_mkdir_with_parents (state_dir, 0755) != 0)
    g_warning ("cannot create state directory %s: %s", state_dir, g_strerror (errno));

  self->relay = ddr_relay_new (&self->config->relay, &local_error);
  if (!self->relay)
    {
      *bad_config = g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  *bad_config = FALSE;

  self->service = DDR_GEN_SERVICE (ddr_dbus_service_new (self));
  s = self->service;
  ddr_gen_service_set_version (s, PACKAGE_VERSION);
  ddr_gen_service_set_portal_url (s, "");
  ddr_gen_service_set_network (s, "");
  set_last_error (self, &self->reload_error, NULL);
  ddr_gen_service_set_paused_until (s, 0);
  /* Roaming arrives with its own issue; until then the daemon is a forwarder that
   * steers nothing. */
  ddr_gen_service_set_dns_backend (s, "none");
  set_state (self, "starting", "The daemon is starting.", FALSE);
  publish_config (self);

  return g_steal_pointer (&self);
}

DdrGenService *
ddr_manager_get_service (DdrManager *self)
{
  g_return_val_if_fail (DDR_IS_MANAGER (self), NULL);
  return self->service;
}

const char *
ddr_manager_get_summary (DdrManager *self)
{
  g_return_val_if_fail (DDR_IS_MANAGER (self), NULL);
  return self->summary;
}

gboolean
ddr_manager_reload (DdrManager *self, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(DdrConfig) config = NULL;
  g_autofree char *status = NULL;
  g_autofree char *message = NULL;

  g_return_val_if_fail (DDR_IS_MANAGER (self), FALSE);

  ddr_sd_notify ("RELOADING=1");
  config = ddr_config_load (self->config_path, self->state_dir, &local_error);
  if (config && self->roaming && !ddr_config_roaming_listener (config))
    g_set_error_literal (&local_error, DDR_ERROR, DDR_ERROR_FAILED,
                         "[relay] listen has no 127.0.0.1:53, which roaming steers the system "
                         "to; restart the daemon to run it as a forwarder");
  if (local_error || !ddr_relay_reconfigure (self->relay, &config->relay, &local_error))
    {
      message = g_strdup_printf ("Configuration reload refused, the running configuration "
                                 "stays: %s", local_error->message);
      g_warning ("%s", message);
      set_last_error (self, &self->reload_error, message);
      ddr_sd_notify ("READY=1");
      g_set_error_literal (error, DDR_ERROR, DDR_ERROR_FAILED, message);
      return FALSE;
    }

  ddr_config_free (self->config);
  self->config = g_steal_pointer (&config);
  publish_config (self);
  if (self->roaming)
    {
      DdrRoamConfig rc = { 0 };

      roam_config_from (&rc, self->config);
      ddr_roam_controller_reconfigure (self->roaming, &rc);
      ddr_roam_config_clear (&rc);
    }
  set_last_error (self, &self->reload_error, NULL);
  g_message ("configuration reloaded from %s", self->config_path);
  status = g_strdup_printf ("READY=1\nSTATUS=%s", self->summary);
  ddr_sd_notify (status);
  return TRUE;
}

GVariant *
ddr_manager_get_statistics (DdrManager *self)
{
  g_autofree DdrUpstreamInfo *ups = NULL;
  guint n = 0;
  guint64 uptime_s;

  g_return_val_if_fail (DDR_IS_MANAGER (self), NULL);

  refresh_service_reachable (self);
  ups = ddr_relay_get_upstreams (self->relay, &n);
  uptime_s = (guint64) (g_get_monotonic_time () - self->started_us) / G_USEC_PER_SEC;
  return ddr_stats_to_variant (ddr_relay_get_stats (self->relay),
                               ddr_relay_get_inflight (self->relay), ups, n, uptime_s);
}

void
ddr_manager_log_statistics (DdrManager *self)
{
  g_return_if_fail (DDR_IS_MANAGER (self));
  ddr_relay_log_statistics (self->relay);
}

void
ddr_manager_network_event (DdrManager *self, const char *action, const char *iface,
                           guint n_env)
{
  g_return_if_fail (DDR_IS_MANAGER (self));

  /* Our own steering link coming and going is no news about the network. */
  if (iface && g_str_has_prefix (iface, DDR_STEER_IFACE))
    {
      g_debug ("network event %s on our own %s: ignored", action, iface);
      return;
    }
  g_info ("network event %s on %s (%u variables)", action,
          iface && *iface ? iface : "(no interface)", n_env);
  /* Counts network_events, flushes the cache, drops upstream connections (they may
   * have died with the old network). A DHCP renewal is the same network (same
   * connection, same device): counted only. The roaming controller re-probes here. */
  if (g_strcmp0 (action, "dhcp4-change") == 0 || g_strcmp0 (action, "dhcp6-change") == 0)
    ddr_relay_network_renewed (self->relay);
  else
    ddr_relay_network_changed (self->relay);
  refresh_service_reachable (self);
  if (self->roaming)
    ddr_roam_controller_network_event (self->roaming, action);
}

void
ddr_manager_reprobe (DdrManager *self)
{
  g_return_if_fail (DDR_IS_MANAGER (self));
  g_debug ("reprobe requested");
  refresh_service_reachable (self);
  if (self->roaming)
    ddr_roam_controller_reprobe (self->roaming);
}

gboolean
ddr_manager_pause (DdrManager *self, guint minutes, GError **error)
{
  g_return_val_if_fail (DDR_IS_MANAGER (self), FALSE);

  if (minutes > DDR_PAUSE_MAX_MINUTES)
    {
      g_set_error (error, DDR_ERROR, DDR_ERROR_INVALID_ARGS,
                   "Cannot pause for %u minutes: at most %u (one week); 0 = until Resume()",
                   minutes, DDR_PAUSE_MAX_MINUTES);
      return FALSE;
    }
  if (g_str_equal (ddr_gen_service_get_state (self->service), "forwarding"))
    {
      g_set_error_literal (error, DDR_ERROR, DDR_ERROR_FAILED,
                           "Nothing to pause: roaming is off, the system DNS is not steered.");
      return FALSE;
    }
  if (!self->roaming)
    {
      g_set_error_literal (error, DDR_ERROR, DDR_ERROR_FAILED, "Pausing needs the roaming controller.");
      return FALSE;
    }
  return ddr_roam_controller_pause (self->roaming, minutes, error);
}

gboolean
ddr_manager_resume (DdrManager *self, GError **error)
{
  g_return_val_if_fail (DDR_IS_MANAGER (self), FALSE);

  if (g_str_equal (ddr_gen_service_get_state (self->service), "forwarding"))
    {
      g_set_error_literal (error, DDR_ERROR, DDR_ERROR_FAILED,
                           "Nothing to resume: roaming is off, the system DNS is not steered.");
      return FALSE;
    }
  /* Not paused: resuming is a no-op. */
  return self->roaming ? ddr_roam_controller_resume (self->roaming, error) : TRUE;
}
