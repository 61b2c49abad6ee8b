/* ddr.conf: load, validate and describe the daemon's configuration. */
#pragma once

#include <glib.h>
#include "ddr-relay.h"

G_BEGIN_DECLS

#define DDR_CONFIG_ERROR (ddr_config_error_quark ())
GQuark ddr_config_error_quark (void);

typedef enum {
  DDR_CONFIG_ERROR_NOT_FOUND,
  DDR_CONFIG_ERROR_PARSE,
  DDR_CONFIG_ERROR_INVALID,
} DdrConfigError;

typedef struct {
  char           *path;
  DdrRelayConfig  relay;

  /* [roaming]: read and validated here, used by the roaming controller. */
  char           *roaming_enabled;          /* auto | true | false */
  char           *dns_backend;              /* auto | networkmanager | resolved | resolv.conf | none */
  char           *portal_probe_url;
  char          **trusted_networks;
  gboolean        trust_protected_networks;
  char          **local_domains;
  char           *on_service_unreachable;   /* fallback | block */
} DdrConfig;

/* Reads and validates path. Unknown groups and keys are warned about.
 * Errors name the file, group, key and value, and the accepted form. */
DdrConfig *ddr_config_load (const char *path, const char *state_dir, GError **error);
void       ddr_config_free (DdrConfig *config);

/* Whether the relay listens on 127.0.0.1 port 53 (or 0.0.0.0:53), where roaming points
 * the system's DNS: NetworkManager and resolv.conf carry no port. */
gboolean   ddr_config_roaming_listener (const DdrConfig *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrConfig, ddr_config_free)

G_END_DECLS
