/* Follows NetworkManager through libnm: the primary connection, its device's
 * connectivity, its own DNS servers and domains, VPNs, NM coming and going. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* NMConnectivityState values, without making every user include libnm. */
typedef enum {
  DDR_CONNECTIVITY_UNKNOWN = 0,
  DDR_CONNECTIVITY_NONE    = 1,
  DDR_CONNECTIVITY_PORTAL  = 2,
  DDR_CONNECTIVITY_LIMITED = 3,
  DDR_CONNECTIVITY_FULL    = 4,
} DdrConnectivity;

typedef struct {
  char  *id;              /* connection id */
  char  *uuid;
  char **servers;         /* its own DNS servers (IP literals, v4 then v6) */
  char **domains;         /* its search + routing domains, without a leading "~" */
} DdrNetConnection;

typedef struct {
  gboolean          nm_running;
  gboolean          have_primary;    /* a primary connection exists */
  DdrNetConnection  primary;         /* valid when have_primary */
  char             *primary_type;    /* "802-11-wireless", "802-3-ethernet", "vpn", ... */
  char             *primary_iface;   /* its device's IP interface */
  /* The primary device's connectivity (best of IPv4 and IPv6); NM's global
   * connectivity when there is no primary device. */
  DdrConnectivity   connectivity;
  gboolean          check_available; /* NM has a connectivity-check URI */
  char             *check_host;      /* that URI's host, or NULL */
  GPtrArray        *vpns;            /* DdrNetConnection*: active VPNs (plugins, WireGuard, tun, ip-tunnel) */
} DdrNetSnapshot;

void ddr_net_snapshot_free (DdrNetSnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrNetSnapshot, ddr_net_snapshot_free)

#define DDR_TYPE_NM_MONITOR (ddr_nm_monitor_get_type ())
G_DECLARE_FINAL_TYPE (DdrNmMonitor, ddr_nm_monitor, DDR, NM_MONITOR, GObject)

/* Starts nm_client_new_async on the system bus (DBUS_SYSTEM_BUS_ADDRESS is
 * honoured by libnm). Emits "changed" (no arguments) after the first load and
 * whenever anything in the snapshot may have changed (coalesced in an idle).
 * The owned steering profile (DDR_STEER_NM_UUID, interface ddr0) is never
 * reported: not as primary, not as a VPN, not in any server list. */
DdrNmMonitor   *ddr_nm_monitor_new          (void);
/* TRUE once the first load finished (NM present or not). */
gboolean        ddr_nm_monitor_is_ready     (DdrNmMonitor *self);
/* A fresh copy of what is known now. */
DdrNetSnapshot *ddr_nm_monitor_snapshot     (DdrNmMonitor *self);
/* Ask NM to re-run its connectivity check now (after a portal login);
 * failures (no polkit rights, NM gone) are logged at debug level only. */
void            ddr_nm_monitor_recheck      (DdrNmMonitor *self);

G_END_DECLS
