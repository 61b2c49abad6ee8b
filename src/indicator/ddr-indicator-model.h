/* The indicator's pure core: daemon properties in, icon, words, menu and notices out. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One look (icon) per state the person must tell apart. */
typedef enum {
  DDR_LOOK_PROTECTED,
  DDR_LOOK_PORTAL,
  DDR_LOOK_UNPROTECTED,   /* unreachable, offline, probing, starting, unknown states */
  DDR_LOOK_PAUSED,
  DDR_LOOK_TRUSTED,
  DDR_LOOK_FORWARDING,
  DDR_LOOK_STOPPED,       /* the daemon is not on the system bus */
} DdrLook;

/* What the indicator knows: the daemon's properties (strings as received, hostile
 * where they came from a network) plus the clock. */
typedef struct {
  gboolean    running;            /* com.threatstop.DDR1 has an owner */
  const char *state;
  gboolean    protected_;
  const char *network;
  const char *portal_url;
  const char *reason;
  guint64     paused_until;
  guint64     unprotected_since;  /* unix seconds, 0 = protected (or not known) */
  guint64     now;                /* unix seconds */
  guint       attention_after_s;  /* NeedsAttention once unprotected this long */
  gboolean    may_pause;          /* polkit would allow (or ask for) Pause/Resume */
} DdrIndicatorInput;

typedef struct {
  DdrLook     look;
  const char *icon_name;          /* static */
  const char *sni_status;         /* "Active" | "NeedsAttention" (static) */
  char       *state_words;        /* "Protected on HotelWiFi" */
  char       *tooltip;            /* state, network and reason, one line each */
  char       *network;            /* display-safe network name, "" if none */
  char       *login_url;          /* a usable PortalUrl, else NULL */
  char       *login_label;        /* "Log in to <network>…", NULL without login_url */
  gboolean    show_pause;         /* the two pause items */
  gboolean    show_resume;
  gboolean    pause_enabled;      /* sensitivity of pause and resume */
  gboolean    reprobe_enabled;
  gboolean    unprotected;        /* a state the person should be told about */
  gboolean    transient;          /* probing or starting: passes by itself */
  gint64      attention_in_s;     /* seconds until NeedsAttention, -1 = no timer */
} DdrIndicatorModel;

/* Notifications; at most one is on screen, each replacing the one before. */
typedef enum {
  DDR_NOTICE_NONE,
  DDR_NOTICE_PORTAL,              /* "Log in to <network>" */
  DDR_NOTICE_OFF,                 /* "Protection is off" */
  DDR_NOTICE_BACK,                /* "Protected again" */
} DdrNotice;

/* The longest network name shown; NM connection names come from the network. */
#define DDR_INDICATOR_NETWORK_MAX 64

void      ddr_indicator_model_compute (const DdrIndicatorInput *in,
                                       DdrIndicatorModel       *out);
void      ddr_indicator_model_clear   (DdrIndicatorModel       *model);

/* The notice to show now, given the last one shown (and whether it offered the
 * login); DDR_NOTICE_NONE = nothing new. A portal notice is shown again once the
 * portal's address is known. *forget is set when the last notice no longer applies
 * (paused, trusted, ...) so the caller resets its memory without notifying. */
DdrNotice ddr_indicator_notice_next   (DdrNotice                last,
                                       gboolean                 last_offered_login,
                                       const DdrIndicatorModel *model,
                                       gboolean                *forget);

/* PortalUrl is hostile data: TRUE only for http/https with a host, valid UTF-8,
 * no control characters, at most 2048 bytes. */
gboolean  ddr_indicator_url_usable    (const char *url);

/* A string from the bus made safe to show: valid UTF-8, control characters replaced,
 * at most max_chars characters (an ellipsis marks a cut). */
char     *ddr_indicator_display_text  (const char *text,
                                       gsize       max_chars);

G_END_DECLS
