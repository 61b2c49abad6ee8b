/* The roaming state machine as a pure function: facts in, state and steering out. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  DDR_ROAM_STARTING,
  DDR_ROAM_FORWARDING,
  DDR_ROAM_OFFLINE,
  DDR_ROAM_PROBING,
  DDR_ROAM_PORTAL,
  DDR_ROAM_PROTECTED,
  DDR_ROAM_UNREACHABLE,
  DDR_ROAM_TRUSTED,
  DDR_ROAM_PAUSED,
} DdrRoamState;

/* The outcome of one check; UNKNOWN = not run yet for this network, or running. */
typedef enum {
  DDR_CHECK_UNKNOWN,
  DDR_CHECK_OK,
  DDR_CHECK_FAILED,
} DdrCheck;

/* Why the network looks the way it does; what the state is decided from. */
typedef struct {
  gboolean roaming;          /* FALSE: forwarder (roaming off, or NM absent with enabled=auto) */
  gboolean ready;            /* the first look at the network is done */
  gboolean paused;
  gboolean nm_lost;          /* NetworkManager went away (a restart): wait for it */
  gboolean have_network;     /* a primary connection (or no NM to ask and enabled=true) */
  guint    connectivity;     /* DdrConnectivity of the primary device */
  gboolean portal_checked;   /* our own probe has answered for this network (or there is none) */
  gboolean portal_seen;      /* our own probe was redirected or answered wrongly */
  gboolean portal_no_address;/* ... to an address that failed the checks of "Hostile input" */
  gboolean trusted_network;  /* its UUID or id is in trusted-networks */
  gboolean trust_protected;  /* trust-protected-networks=true */
  DdrCheck network_protected;/* the network's own DNS answers check-domain like the service */
  DdrCheck service;          /* the DoH probe for check-domain */
  DdrCheck canary;           /* the system resolver reached the relay after steering */
  gboolean steering_lost;    /* someone else undid the steering; not steered and proved again yet */
  gboolean steer_refused;    /* the steering backend refused the last steering (LastError
                              * says why): there was nothing for the canary to prove */
  gboolean block;            /* on-service-unreachable=block */
} DdrRoamFacts;

typedef struct {
  DdrRoamState state;
  gboolean     steer;        /* system DNS should point at the relay */
} DdrRoamDecision;

DdrRoamDecision ddr_roam_decide          (const DdrRoamFacts *facts);
const char     *ddr_roam_state_to_string (DdrRoamState state);
/* One human sentence: why this state (network = connection id, may be NULL or ""). */
char           *ddr_roam_reason          (const DdrRoamFacts *facts, DdrRoamState state,
                                          const char *network);

G_END_DECLS
