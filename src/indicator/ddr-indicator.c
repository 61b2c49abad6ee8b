/* The indicator: the daemon's properties through the pure model onto the item, its
 * menu and the notifications; menu clicks back to the daemon. */
#define G_LOG_DOMAIN "ddr-indicator"

#include "config.h"

#include <glib/gi18n.h>

#include "ddr-indicator.h"
#include "ddr-indicator-daemon.h"
#include "ddr-indicator-menu.h"
#include "ddr-indicator-model.h"
#include "ddr-indicator-notify.h"
#include "ddr-indicator-sni.h"

struct _DdrIndicator {
  DdrIndicatorOptions  options;
  char                *icon_theme_path;
  DdrIndicatorDaemon  *daemon;
  DdrIndicatorSni     *sni;
  DdrIndicatorMenu    *menu;
  DdrIndicatorNotify  *notify;
  DdrIndicatorModel    model;
  DdrNotice            last_notice;
  guint64              local_unprotected_since;  /* when the daemon cannot say */
  guint                attention_timer;
  char                *portal_notice_url;        /* the URL the portal notice offered */
};

static void refresh (DdrIndicator *self);

static gboolean
on_attention_due (gpointer user_data)
{
  DdrIndicator *self = user_data;

  self->attention_timer = 0;
  refresh (self);
  return G_SOURCE_REMOVE;
}

static char *
format_time (guint64 unix_s)
{
  g_autoptr(GDateTime) t = NULL;

  if (unix_s == 0 || unix_s > (guint64) G_MAXINT64)
    return NULL;
  t = g_date_time_new_from_unix_local ((gint64) unix_s);
  return t ? g_date_time_format (t, "%Y-%m-%d %H:%M:%S") : NULL;
}

static void
show_notice (DdrIndicator *self, DdrNotice notice)
{
  const DdrIndicatorModel *m = &self->model;
  g_autofree char *summary = NULL;
  g_autofree char *reason = NULL;

  switch (notice)
    {
    case DDR_NOTICE_PORTAL:
      summary = *m->network
        /* TRANSLATORS: a notification's title; %s is the name of a network connection */
        ? g_strdup_printf (_("Log in to %s"), m->network)
        : g_strdup (_("Log in to the network"));
      g_free (self->portal_notice_url);
      self->portal_notice_url = g_strdup (m->login_url);
      ddr_indicator_notify_show (self->notify, m->icon_name, summary,
                                 m->login_url
                                   ? _("This network wants a login before it lets you on the internet. DNS protection is off until then.")
                                   : _("This network wants a login before it lets you on the internet: open any web page. DNS protection is off until then."),
                                 m->login_url ? _("Log in") : NULL);
      break;
    case DDR_NOTICE_OFF:
      reason = ddr_indicator_display_text (ddr_indicator_daemon_string (self->daemon, "Reason"), 200);
      ddr_indicator_notify_show (self->notify, m->icon_name, _("Protection is off"),
                                 *reason && m->look != DDR_LOOK_STOPPED ? reason : m->state_words,
                                 NULL);
      break;
    case DDR_NOTICE_BACK:
      ddr_indicator_notify_show (self->notify, m->icon_name, _("Protected again"),
                                 m->state_words, NULL);
      break;
    case DDR_NOTICE_NONE:
    default:
      break;
    }
}

static void
refresh (DdrIndicator *self)
{
  DdrIndicatorInput in = { 0 };
  DdrNotice notice;
  gboolean forget;

  ddr_indicator_daemon_fill (self->daemon, &in);
  in.now = (guint64) (g_get_real_time () / G_USEC_PER_SEC);
  in.attention_after_s = self->options.attention_after_s;
  if (!in.running || in.unprotected_since == 0)
    in.unprotected_since = self->local_unprotected_since;

  ddr_indicator_model_clear (&self->model);
  ddr_indicator_model_compute (&in, &self->model);
  if (!self->model.unprotected)
    self->local_unprotected_since = 0;
  else if (self->local_unprotected_since == 0)
    self->local_unprotected_since = in.now;

  g_debug ("state %s: %s", in.running ? in.state : "(daemon stopped)", self->model.icon_name);
  ddr_indicator_sni_update (self->sni, &self->model);
  ddr_indicator_menu_update (self->menu, &self->model);

  notice = ddr_indicator_notice_next (self->last_notice, self->portal_notice_url != NULL,
                                      &self->model, &forget);
  if (forget)
    self->last_notice = DDR_NOTICE_NONE;
  if (notice != DDR_NOTICE_PORTAL && self->model.look != DDR_LOOK_PORTAL)
    g_clear_pointer (&self->portal_notice_url, g_free);
  if (notice != DDR_NOTICE_NONE)
    {
      self->last_notice = notice;
      show_notice (self, notice);
    }

  g_clear_handle_id (&self->attention_timer, g_source_remove);
  if (self->model.attention_in_s >= 0)
    self->attention_timer = g_timeout_add_seconds ((guint) self->model.attention_in_s + 1,
                                                   on_attention_due, self);
}

static void
on_daemon_changed (gpointer user_data)
{
  refresh (user_data);
}

static void
on_call_done (const char *sentence, gpointer user_data)
{
  DdrIndicator *self = user_data;

  /* success shows as the daemon's new state; a refusal in one sentence */
  if (sentence != NULL)
    ddr_indicator_notify_show (self->notify, "dialog-warning-symbolic", sentence, "", NULL);
}

static void
on_launched (GObject *source, GAsyncResult *res, gpointer user_data)
{
  DdrIndicator *self = user_data;
  g_autoptr(GError) error = NULL;

  if (g_app_info_launch_default_for_uri_finish (res, &error))
    return;
  g_warning ("Cannot open the login page: %s", error->message);
  ddr_indicator_notify_show (self->notify, "dialog-warning-symbolic",
                             _("No web browser could open the login page."), "", NULL);
}

static void
open_login (DdrIndicator *self, const char *url)
{
  /* checked again right here: nothing but http/https reaches the launcher */
  if (!ddr_indicator_url_usable (url))
    return;
  g_info ("opening the portal's login page");
  g_app_info_launch_default_for_uri_async (url, NULL, NULL, on_launched, self);
}

static void
show_details (DdrIndicator *self)
{
  DdrIndicatorDaemon *d = self->daemon;
  GString *body = g_string_new (NULL);
  g_autofree char *reason = ddr_indicator_display_text (ddr_indicator_daemon_string (d, "Reason"), 200);
  g_autofree char *service = ddr_indicator_display_text (ddr_indicator_daemon_string (d, "ServiceUrl"), 200);
  g_autofree char *backend = ddr_indicator_display_text (ddr_indicator_daemon_string (d, "DnsBackend"), 40);
  g_autofree char *since = format_time (ddr_indicator_daemon_uint64 (d, "UnprotectedSince"));
  const char *none = _("(none)");

  g_string_append_printf (body, "%s %s", _("State:"), self->model.state_words);
  if (self->model.look != DDR_LOOK_STOPPED)
    {
      if (*reason)
        g_string_append_printf (body, "\n%s %s", _("Reason:"), reason);
      g_string_append_printf (body, "\n%s %s", _("Network:"),
                              *self->model.network ? self->model.network : none);
      g_string_append_printf (body, "\n%s %s", _("Service:"), *service ? service : none);
      g_string_append_printf (body, "\n%s %s", _("DNS backend:"), *backend ? backend : none);
      if (since)
        g_string_append_printf (body, "\n%s %s", _("Unprotected since:"), since);
    }
  ddr_indicator_notify_show (self->notify, self->model.icon_name, _("ThreatSTOP DNS Defense"),
                             body->str, NULL);
  g_string_free (body, TRUE);
}

static void
on_menu_clicked (DdrMenuId id, gpointer user_data)
{
  DdrIndicator *self = user_data;

  switch (id)
    {
    case DDR_MENU_LOGIN:
      open_login (self, self->model.login_url);
      break;
    case DDR_MENU_PAUSE_15:
      ddr_indicator_daemon_call (self->daemon, "Pause", g_variant_new ("(u)", 15u), on_call_done, self);
      break;
    case DDR_MENU_PAUSE_60:
      ddr_indicator_daemon_call (self->daemon, "Pause", g_variant_new ("(u)", 60u), on_call_done, self);
      break;
    case DDR_MENU_RESUME:
      ddr_indicator_daemon_call (self->daemon, "Resume", g_variant_new ("()"), on_call_done, self);
      break;
    case DDR_MENU_REPROBE:
      ddr_indicator_daemon_call (self->daemon, "Reprobe", g_variant_new ("()"), on_call_done, self);
      break;
    case DDR_MENU_DETAILS:
      show_details (self);
      break;
    case DDR_MENU_ROOT:
    case DDR_MENU_STATUS:
    case DDR_MENU_SEP1:
    case DDR_MENU_SEP2:
    case DDR_MENU_N_ITEMS:
    default:
      break;
    }
}

static void
on_menu_opening (gpointer user_data)
{
  DdrIndicator *self = user_data;

  ddr_indicator_daemon_recheck (self->daemon);
}

static void
on_activate (gpointer user_data)
{
  show_details (user_data);
}

static void
on_notice_action (gpointer user_data)
{
  DdrIndicator *self = user_data;

  open_login (self, self->model.login_url ? self->model.login_url : self->portal_notice_url);
}

DdrIndicator *
ddr_indicator_new (GDBusConnection *session, const DdrIndicatorOptions *options, GError **error)
{
  g_autoptr(DdrIndicator) self = g_new0 (DdrIndicator, 1);

  self->options = *options;
  self->icon_theme_path = g_strdup (options->icon_theme_path);
  self->options.icon_theme_path = self->icon_theme_path;
  self->menu = ddr_indicator_menu_new (session, DDR_INDICATOR_MENU_PATH, on_menu_clicked,
                                       on_menu_opening, self, error);
  if (self->menu == NULL)
    return NULL;
  self->sni = ddr_indicator_sni_new (session, self->icon_theme_path, on_activate, self, error);
  if (self->sni == NULL)
    return NULL;
  self->notify = ddr_indicator_notify_new (session, on_notice_action, self);
  self->daemon = ddr_indicator_daemon_new (on_daemon_changed, self);
  refresh (self);
  return g_steal_pointer (&self);
}

void
ddr_indicator_free (DdrIndicator *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->attention_timer, g_source_remove);
  g_clear_pointer (&self->daemon, ddr_indicator_daemon_free);
  g_clear_pointer (&self->notify, ddr_indicator_notify_free);
  g_clear_pointer (&self->sni, ddr_indicator_sni_free);
  g_clear_pointer (&self->menu, ddr_indicator_menu_free);
  ddr_indicator_model_clear (&self->model);
  g_free (self->portal_notice_url);
  g_free (self->icon_theme_path);
  g_free (self);
}
