/* The roaming controller: follows the network, runs the checks, steers system DNS. */
#pragma once

#include <gio/gio.h>
#include "ddr-relay.h"
#include "ddr-roam-state.h"

G_BEGIN_DECLS

typedef struct {
  char    *enabled;             /* auto | true | false */
  char    *dns_backend;         /* auto | networkmanager | resolved | resolv.conf | none */
  char    *portal_probe_url;    /* http://; NULL or "" = no probe of our own */
  char   **trusted_networks;    /* connection UUIDs or ids */
  gboolean trust_protected;
  char   **local_domains;
  gboolean block;               /* on-service-unreachable=block */
  char    *check_name;          /* the name the service probe asks for */
} DdrRoamConfig;

void ddr_roam_config_clear (DdrRoamConfig *config);

/* What the controller publishes (the D-Bus properties it owns). */
typedef struct {
  DdrRoamState state;
  const char  *reason;
  gboolean     protected;
  const char  *network;          /* connection id or "" */
  const char  *portal_url;       /* "" unless in a portal */
  gboolean     service_reachable;
  guint64      paused_until;     /* unix seconds; 0 = not paused; G_MAXUINT64 = until Resume() */
  const char  *dns_backend;
  const char  *last_error;       /* "" = none */
} DdrRoamStatus;

typedef void (*DdrRoamPublish) (const DdrRoamStatus *status, gpointer user_data);

typedef struct _DdrRoamController DdrRoamController;

/* Undoes stale steering from a crash, then follows NetworkManager on the system
 * bus. relay must outlive the controller. Publishes at once (state starting). */
DdrRoamController *ddr_roam_controller_new    (DdrRelay            *relay,
                                               const DdrRoamConfig *config,
                                               const char          *state_dir,
                                               DdrRoamPublish       publish,
                                               gpointer             user_data);
/* Restores the system DNS (synchronously) and frees. */
void     ddr_roam_controller_free            (DdrRoamController *self);
/* A reloaded configuration (enabled and dns-backend take effect at restart). */
void     ddr_roam_controller_reconfigure     (DdrRoamController *self, const DdrRoamConfig *config);
/* The dispatcher's event, Reprobe(): look again now, back-off reset. */
void     ddr_roam_controller_network_event   (DdrRoamController *self, const char *action);
void     ddr_roam_controller_reprobe         (DdrRoamController *self);
gboolean ddr_roam_controller_pause           (DdrRoamController *self, guint minutes, GError **error);
gboolean ddr_roam_controller_resume          (DdrRoamController *self, GError **error);

G_END_DECLS
