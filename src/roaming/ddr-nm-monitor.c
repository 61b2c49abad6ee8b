/* Follows NetworkManager through libnm and condenses what roaming needs into a DdrNetSnapshot. */
#define G_LOG_DOMAIN "ddr-nm-monitor"

#include "ddr-nm-monitor.h"
#include "steering/ddr-steer.h"

#include <NetworkManager.h>
#include <sys/socket.h>

struct _DdrNmMonitor
{
  GObject       parent_instance;

  GCancellable *cancellable;
  NMClient     *client;         /* NULL until loaded, or when there is no system bus */
  gboolean      ready;
  guint         idle_id;        /* pending coalesced "changed" */
  GPtrArray    *watched;        /* Watch*: per-object handlers, rebuilt on every change */
  char         *last;           /* the last emitted snapshot, as a comparable string */
};

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (DdrNmMonitor, ddr_nm_monitor, G_TYPE_OBJECT)

/* A signal handler on an object that may be replaced at any time (the primary device,
 * its IP configs, VPN connections). */
typedef struct
{
  GObject *object;
  gulong   handler;
} Watch;

static void
watch_free (Watch *w)
{
  g_clear_signal_handler (&w->handler, w->object);
  g_object_unref (w->object);
  g_free (w);
}

/* ------------------------------------------------------------------------ */
/* The snapshot                                                             */

static void
net_connection_clear (DdrNetConnection *c)
{
  g_clear_pointer (&c->id, g_free);
  g_clear_pointer (&c->uuid, g_free);
  g_clear_pointer (&c->servers, g_strfreev);
  g_clear_pointer (&c->domains, g_strfreev);
}

static void
net_connection_free (DdrNetConnection *c)
{
  net_connection_clear (c);
  g_free (c);
}

void
ddr_net_snapshot_free (DdrNetSnapshot *snapshot)
{
  if (snapshot == NULL)
    return;
  net_connection_clear (&snapshot->primary);
  g_free (snapshot->primary_type);
  g_free (snapshot->primary_iface);
  g_free (snapshot->check_host);
  g_clear_pointer (&snapshot->vpns, g_ptr_array_unref);
  g_free (snapshot);
}

static DdrNetSnapshot *
snapshot_new (void)
{
  DdrNetSnapshot *s = g_new0 (DdrNetSnapshot, 1);

  s->connectivity = DDR_CONNECTIVITY_UNKNOWN;
  s->vpns = g_ptr_array_new_with_free_func ((GDestroyNotify) net_connection_free);
  return s;
}

static void
strv_add_unique (GPtrArray *out, const char *value)
{
  for (guint i = 0; i < out->len; i++)
    if (g_strcmp0 (out->pdata[i], value) == 0)
      return;
  g_ptr_array_add (out, g_strdup (value));
}

static char **
ptr_array_to_strv (GPtrArray *array)
{
  g_ptr_array_add (array, NULL);
  return (char **) g_ptr_array_free (array, FALSE);
}

/* Servers of the IPv4 config, then of the IPv6 config. */
static char **
config_servers (NMIPConfig *ip4, NMIPConfig *ip6)
{
  GPtrArray *out = g_ptr_array_new ();
  NMIPConfig *configs[] = { ip4, ip6 };

  for (guint i = 0; i < G_N_ELEMENTS (configs); i++)
    {
      const char *const *servers = configs[i] ? nm_ip_config_get_nameservers (configs[i]) : NULL;

      for (guint j = 0; servers != NULL && servers[j] != NULL; j++)
        if (*servers[j] != '\0')
          strv_add_unique (out, servers[j]);
    }
  return ptr_array_to_strv (out);
}

/* Search and routing domains of both configs. "~corp.example" (routing only) becomes
 * "corp.example"; "~." stays as "." so a consumer can see that a connection wants every
 * name. */
static char **
config_domains (NMIPConfig *ip4, NMIPConfig *ip6)
{
  GPtrArray *out = g_ptr_array_new ();
  NMIPConfig *configs[] = { ip4, ip6 };

  for (guint i = 0; i < G_N_ELEMENTS (configs); i++)
    {
      const char *const *lists[2] = { NULL, NULL };

      if (configs[i] == NULL)
        continue;
      lists[0] = nm_ip_config_get_searches (configs[i]);
      lists[1] = nm_ip_config_get_domains (configs[i]);
      for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
        for (guint j = 0; lists[l] != NULL && lists[l][j] != NULL; j++)
          {
            const char *d = lists[l][j];

            if (*d == '~')
              d++;
            if (*d != '\0')
              strv_add_unique (out, d);
          }
    }
  return ptr_array_to_strv (out);
}

static NMDevice *
active_device (NMActiveConnection *ac)
{
  const GPtrArray *devices = nm_active_connection_get_devices (ac);

  return devices != NULL && devices->len > 0 ? devices->pdata[0] : NULL;
}

/* The steering profile is ours: reporting it would make the controller steer into
 * itself (its server is the relay). */
static gboolean
is_owned (NMActiveConnection *ac)
{
  const GPtrArray *devices = nm_active_connection_get_devices (ac);

  if (g_strcmp0 (nm_active_connection_get_uuid (ac), DDR_STEER_NM_UUID) == 0
      || g_strcmp0 (nm_active_connection_get_id (ac), DDR_STEER_NM_ID) == 0)
    return TRUE;
  for (guint i = 0; devices != NULL && i < devices->len; i++)
    if (g_strcmp0 (nm_device_get_iface (devices->pdata[i]), DDR_STEER_IFACE) == 0)
      return TRUE;
  return FALSE;
}

/* A VPN's own config sits on the active connection; a device's on the device (the same
 * object for a plain connection, but the device is what NM updates first). */
static void
connection_configs (NMActiveConnection *ac, NMIPConfig **ip4, NMIPConfig **ip6)
{
  NMDevice *device = nm_active_connection_get_vpn (ac) ? NULL : active_device (ac);

  *ip4 = device ? nm_device_get_ip4_config (device) : NULL;
  *ip6 = device ? nm_device_get_ip6_config (device) : NULL;
  if (*ip4 == NULL)
    *ip4 = nm_active_connection_get_ip4_config (ac);
  if (*ip6 == NULL)
    *ip6 = nm_active_connection_get_ip6_config (ac);
}

static void
fill_connection (DdrNetConnection *c, NMActiveConnection *ac)
{
  NMIPConfig *ip4, *ip6;

  connection_configs (ac, &ip4, &ip6);
  c->id = g_strdup (nm_active_connection_get_id (ac));
  c->uuid = g_strdup (nm_active_connection_get_uuid (ac));
  c->servers = config_servers (ip4, ip6);
  c->domains = config_domains (ip4, ip6);
}

/* NM's own order (nm_connectivity_state_cmp): a portal is better than no Internet. */
static int
connectivity_rank (NMConnectivityState s)
{
  switch (s)
    {
    case NM_CONNECTIVITY_NONE:    return 1;
    case NM_CONNECTIVITY_LIMITED: return 2;
    case NM_CONNECTIVITY_PORTAL:  return 3;
    case NM_CONNECTIVITY_FULL:    return 4;
    case NM_CONNECTIVITY_UNKNOWN:
    default:                      return 0;
    }
}

static DdrConnectivity
device_connectivity (NMDevice *device)
{
  NMConnectivityState c4 = nm_device_get_connectivity (device, AF_INET);
  NMConnectivityState c6 = nm_device_get_connectivity (device, AF_INET6);

  return (DdrConnectivity) (connectivity_rank (c6) > connectivity_rank (c4) ? c6 : c4);
}

/* A VPN for split DNS: an NM VPN plugin connection, or a device connection NM
 * makes for a tunnel of its own (native WireGuard, tun, ip-tunnel), which NM does
 * not flag as a VPN although it is one to the user (issue 10.9). */
static gboolean
is_vpn (NMActiveConnection *ac)
{
  static const char *const device_vpns[] = { "wireguard", "tun", "ip-tunnel", NULL };
  const char *type = nm_active_connection_get_connection_type (ac);

  return nm_active_connection_get_vpn (ac) ||
         (type != NULL && g_strv_contains (device_vpns, type));
}

/* The primary connection, unless it is ours; then the first other one with a default
 * route stands in. */
static NMActiveConnection *
primary_connection (NMClient *client)
{
  NMActiveConnection *primary = nm_client_get_primary_connection (client);
  const GPtrArray *all;

  if (primary == NULL || !is_owned (primary))
    return primary;
  all = nm_client_get_active_connections (client);
  for (guint i = 0; all != NULL && i < all->len; i++)
    {
      NMActiveConnection *ac = all->pdata[i];

      if (!is_owned (ac) && (nm_active_connection_get_default (ac)
                             || nm_active_connection_get_default6 (ac)))
        return ac;
    }
  return NULL;
}

static DdrNetSnapshot *
build_snapshot (DdrNmMonitor *self)
{
  DdrNetSnapshot *s = snapshot_new ();
  NMClient *client = self->client;
  NMActiveConnection *primary;
  NMDevice *device = NULL;
  const GPtrArray *all;
  const char *uri;

  if (client == NULL || !nm_client_get_nm_running (client))
    return s;
  s->nm_running = TRUE;

  primary = primary_connection (client);
  if (primary != NULL)
    {
      s->have_primary = TRUE;
      fill_connection (&s->primary, primary);
      s->primary_type = g_strdup (nm_active_connection_get_connection_type (primary));
      device = active_device (primary);
      if (device != NULL)
        {
          const char *iface = nm_device_get_ip_iface (device);

          if (iface == NULL || *iface == '\0')
            iface = nm_device_get_iface (device);
          s->primary_iface = g_strdup (iface);
        }
    }
  s->connectivity = device ? device_connectivity (device)
                           : (DdrConnectivity) nm_client_get_connectivity (client);

  s->check_available = nm_client_connectivity_check_get_available (client);
  uri = nm_client_connectivity_check_get_uri (client);
  if (uri != NULL && *uri != '\0')
    {
      g_autoptr(GUri) parsed = g_uri_parse (uri, G_URI_FLAGS_NONE, NULL);

      if (parsed != NULL && g_uri_get_host (parsed) != NULL)
        s->check_host = g_strdup (g_uri_get_host (parsed));
    }

  all = nm_client_get_active_connections (client);
  for (guint i = 0; all != NULL && i < all->len; i++)
    {
      NMActiveConnection *ac = all->pdata[i];
      DdrNetConnection *vpn;

      if (!is_vpn (ac) || is_owned (ac))
        continue;
      vpn = g_new0 (DdrNetConnection, 1);
      fill_connection (vpn, ac);
      g_ptr_array_add (s->vpns, vpn);
    }
  return s;
}

/* ------------------------------------------------------------------------ */
/* Following changes                                                        */

static void schedule_changed (DdrNmMonitor *self);

static void
on_notify (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  schedule_changed (DDR_NM_MONITOR (user_data));
}

static void
watch (DdrNmMonitor *self, gpointer object, const char *const *props)
{
  if (object == NULL)
    return;
  for (guint i = 0; props[i] != NULL; i++)
    {
      Watch *w = g_new0 (Watch, 1);
      g_autofree char *detailed = g_strconcat ("notify::", props[i], NULL);

      w->object = g_object_ref (object);
      w->handler = g_signal_connect (object, detailed, G_CALLBACK (on_notify), self);
      g_ptr_array_add (self->watched, w);
    }
}

static const char *const connection_props[] = {
  NM_ACTIVE_CONNECTION_DEVICES, NM_ACTIVE_CONNECTION_IP4_CONFIG,
  NM_ACTIVE_CONNECTION_IP6_CONFIG, NM_ACTIVE_CONNECTION_ID, NULL,
};
static const char *const device_props[] = {
  NM_DEVICE_IP4_CONNECTIVITY, NM_DEVICE_IP6_CONNECTIVITY, NM_DEVICE_IP4_CONFIG,
  NM_DEVICE_IP6_CONFIG, NM_DEVICE_IP_INTERFACE, NULL,
};
static const char *const config_props[] = {
  NM_IP_CONFIG_NAMESERVERS, NM_IP_CONFIG_DOMAINS, NM_IP_CONFIG_SEARCHES, NULL,
};

static void
watch_connection (DdrNmMonitor *self, NMActiveConnection *ac)
{
  NMDevice *device = active_device (ac);

  watch (self, ac, connection_props);
  watch (self, nm_active_connection_get_ip4_config (ac), config_props);
  watch (self, nm_active_connection_get_ip6_config (ac), config_props);
  if (device != NULL)
    {
      watch (self, device, device_props);
      watch (self, nm_device_get_ip4_config (device), config_props);
      watch (self, nm_device_get_ip6_config (device), config_props);
    }
}

/* The objects behind the snapshot change identity (a new device, a new IP config), so
 * the per-object handlers are rebuilt on every change rather than patched. The active
 * connections are few; following all of them also catches a VPN or the owned profile
 * becoming relevant. */
static void
rewatch (DdrNmMonitor *self)
{
  const GPtrArray *all;

  g_ptr_array_set_size (self->watched, 0);
  if (self->client == NULL || !nm_client_get_nm_running (self->client))
    return;
  all = nm_client_get_active_connections (self->client);
  for (guint i = 0; all != NULL && i < all->len; i++)
    watch_connection (self, all->pdata[i]);
}

static void
key_append_connection (GString *k, const DdrNetConnection *c)
{
  g_autofree char *servers = c->servers ? g_strjoinv (",", c->servers) : NULL;
  g_autofree char *domains = c->domains ? g_strjoinv (",", c->domains) : NULL;

  g_string_append_printf (k, "[%s|%s|%s|%s]", c->id ?: "", c->uuid ?: "", servers ?: "",
                          domains ?: "");
}

static char *
snapshot_key (const DdrNetSnapshot *s)
{
  GString *k = g_string_new (NULL);

  g_string_append_printf (k, "%d|%d|%d|%d|%s|%s|%s|", s->nm_running, s->have_primary,
                          s->connectivity, s->check_available, s->check_host ?: "",
                          s->primary_type ?: "", s->primary_iface ?: "");
  key_append_connection (k, &s->primary);
  for (guint i = 0; i < s->vpns->len; i++)
    key_append_connection (k, s->vpns->pdata[i]);
  return g_string_free (k, FALSE);
}

static gboolean
emit_changed_idle (gpointer user_data)
{
  DdrNmMonitor *self = user_data;
  g_autoptr(DdrNetSnapshot) s = NULL;
  g_autofree char *key = NULL;

  self->idle_id = 0;
  rewatch (self);
  s = build_snapshot (self);
  key = snapshot_key (s);
  /* libnm notifies for every property it touches; only real changes go out. */
  if (self->ready && g_strcmp0 (key, self->last) == 0)
    return G_SOURCE_REMOVE;
  g_free (self->last);
  self->last = g_steal_pointer (&key);
  if (!self->ready)
    g_info ("NetworkManager monitor ready (NetworkManager %s)",
            s->nm_running ? "running" : "not running");
  self->ready = TRUE;
  g_debug ("network: nm-running=%d primary=%s iface=%s connectivity=%d vpns=%u",
           s->nm_running, s->primary.id ?: "-", s->primary_iface ?: "-",
           s->connectivity, s->vpns->len);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return G_SOURCE_REMOVE;
}

static void
schedule_changed (DdrNmMonitor *self)
{
  if (self->idle_id == 0)
    self->idle_id = g_idle_add (emit_changed_idle, self);
}

static void
on_client_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  NMClient *client = nm_client_new_finish (res, &error);
  DdrNmMonitor *self;
  static const char *const client_props[] = {
    NM_CLIENT_NM_RUNNING, NM_CLIENT_PRIMARY_CONNECTION, NM_CLIENT_CONNECTIVITY,
    NM_CLIENT_ACTIVE_CONNECTIONS, NM_CLIENT_CONNECTIVITY_CHECK_AVAILABLE,
    NM_CLIENT_CONNECTIVITY_CHECK_URI, NULL,
  };

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = DDR_NM_MONITOR (user_data);
  if (client == NULL)
    {
      /* No system bus at all: nothing will ever tell us NM appeared. */
      g_info ("cannot connect to NetworkManager: %s", error->message);
      schedule_changed (self);
      return;
    }
  self->client = client;
  for (guint i = 0; client_props[i] != NULL; i++)
    {
      g_autofree char *detailed = g_strconcat ("notify::", client_props[i], NULL);

      g_signal_connect_object (client, detailed, G_CALLBACK (on_notify), self, 0);
    }
  schedule_changed (self);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

DdrNmMonitor *
ddr_nm_monitor_new (void)
{
  DdrNmMonitor *self = g_object_new (DDR_TYPE_NM_MONITOR, NULL);

  nm_client_new_async (self->cancellable, on_client_ready, self);
  return self;
}

gboolean
ddr_nm_monitor_is_ready (DdrNmMonitor *self)
{
  g_return_val_if_fail (DDR_IS_NM_MONITOR (self), FALSE);
  return self->ready;
}

DdrNetSnapshot *
ddr_nm_monitor_snapshot (DdrNmMonitor *self)
{
  g_return_val_if_fail (DDR_IS_NM_MONITOR (self), NULL);
  return build_snapshot (self);
}

static void
on_recheck_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  NMConnectivityState state;

  state = nm_client_check_connectivity_finish (NM_CLIENT (source), res, &error);
  if (error != NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("connectivity re-check failed: %s", error->message);
      return;
    }
  g_debug ("connectivity re-check: %d", (int) state);
}

void
ddr_nm_monitor_recheck (DdrNmMonitor *self)
{
  g_return_if_fail (DDR_IS_NM_MONITOR (self));
  if (self->client == NULL || !nm_client_get_nm_running (self->client))
    {
      g_debug ("connectivity re-check skipped: NetworkManager is not running");
      return;
    }
  nm_client_check_connectivity_async (self->client, self->cancellable, on_recheck_done, NULL);
}

static void
ddr_nm_monitor_dispose (GObject *object)
{
  DdrNmMonitor *self = DDR_NM_MONITOR (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->idle_id, g_source_remove);
  if (self->watched != NULL)
    g_ptr_array_set_size (self->watched, 0);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (ddr_nm_monitor_parent_class)->dispose (object);
}

static void
ddr_nm_monitor_finalize (GObject *object)
{
  DdrNmMonitor *self = DDR_NM_MONITOR (object);

  g_clear_pointer (&self->watched, g_ptr_array_unref);
  g_clear_object (&self->cancellable);
  g_free (self->last);
  G_OBJECT_CLASS (ddr_nm_monitor_parent_class)->finalize (object);
}

static void
ddr_nm_monitor_init (DdrNmMonitor *self)
{
  self->cancellable = g_cancellable_new ();
  self->watched = g_ptr_array_new_with_free_func ((GDestroyNotify) watch_free);
}

static void
ddr_nm_monitor_class_init (DdrNmMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ddr_nm_monitor_dispose;
  object_class->finalize = ddr_nm_monitor_finalize;

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 0);
}
