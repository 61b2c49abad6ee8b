/* The indicator's pure core: daemon properties in, icon, words, menu and notices out. */
#define G_LOG_DOMAIN "ddr-indicator"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ddr-indicator-model.h"

#define URL_MAX_BYTES 2048

gboolean
ddr_indicator_url_usable (const char *url)
{
  g_autofree char *scheme = NULL;
  g_autofree char *host = NULL;
  gsize len;

  if (url == NULL || *url == '\0')
    return FALSE;
  /* cheap bounds first: nothing deeper sees a 60 KiB or non-UTF-8 value */
  len = strnlen (url, URL_MAX_BYTES + 1);
  if (len > URL_MAX_BYTES || !g_utf8_validate (url, len, NULL))
    return FALSE;
  for (const char *p = url; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (c < 0x20 || (c >= 0x7f && c < 0xa0))
        return FALSE;
    }
  if (!g_uri_split_network (url, G_URI_FLAGS_NONE, &scheme, &host, NULL, NULL))
    return FALSE;
  if (scheme == NULL
      || (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0))
    return FALSE;
  return host != NULL && *host != '\0';
}

char *
ddr_indicator_display_text (const char *text, gsize max_chars)
{
  g_autofree char *valid = g_utf8_make_valid (text ? text : "", -1);
  GString *out = g_string_new (NULL);
  gsize n = 0;

  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (n == max_chars)
        {
          g_string_append (out, "…");
          break;
        }
      /* control and bidi/format characters could break or disguise a label */
      if (g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT)
        c = ' ';
      g_string_append_unichar (out, c);
      n++;
    }
  return g_string_free (out, FALSE);
}

static DdrLook
look_of (const DdrIndicatorInput *in)
{
  const char *s = in->state ? in->state : "";

  if (!in->running)
    return DDR_LOOK_STOPPED;
  if (g_str_equal (s, "protected"))
    return DDR_LOOK_PROTECTED;
  if (g_str_equal (s, "portal"))
    return DDR_LOOK_PORTAL;
  if (g_str_equal (s, "paused"))
    return DDR_LOOK_PAUSED;
  if (g_str_equal (s, "trusted"))
    return DDR_LOOK_TRUSTED;
  if (g_str_equal (s, "forwarding"))
    return DDR_LOOK_FORWARDING;
  /* unreachable, offline, probing, starting, and states added later (the XML says:
   * treat unknown ones as "not protected") */
  return DDR_LOOK_UNPROTECTED;
}

static const char *
icon_of (DdrLook look)
{
  switch (look)
    {
    case DDR_LOOK_PROTECTED:   return "threatstop-ddr-protected-symbolic";
    case DDR_LOOK_PORTAL:      return "threatstop-ddr-portal-symbolic";
    case DDR_LOOK_PAUSED:      return "threatstop-ddr-paused-symbolic";
    case DDR_LOOK_TRUSTED:     return "threatstop-ddr-trusted-symbolic";
    case DDR_LOOK_FORWARDING:  return "threatstop-ddr-forwarding-symbolic";
    case DDR_LOOK_STOPPED:     return "threatstop-ddr-stopped-symbolic";
    case DDR_LOOK_UNPROTECTED:
    default:                   return "threatstop-ddr-unprotected-symbolic";
    }
}

static char *
paused_words (const DdrIndicatorInput *in)
{
  g_autoptr(GDateTime) until = NULL;
  g_autofree char *hm = NULL;

  if (in->paused_until == 0 || in->paused_until == G_MAXUINT64
      || in->paused_until > (guint64) G_MAXINT64)
    return g_strdup (_("Protection paused until resumed"));
  until = g_date_time_new_from_unix_local ((gint64) in->paused_until);
  if (until == NULL)
    return g_strdup (_("Protection paused until resumed"));
  hm = g_date_time_format (until, "%H:%M");
  /* TRANSLATORS: %s is a time of day, such as 14:05 */
  return g_strdup_printf (_("Protection paused until %s"), hm);
}

static char *
state_words (DdrLook look, const DdrIndicatorInput *in, const char *net)
{
  const char *s = in->state ? in->state : "";
  gboolean has_net = *net != '\0';

  switch (look)
    {
    case DDR_LOOK_STOPPED:
      return g_strdup (_("Not protected: the ThreatSTOP DDR service is not running"));
    case DDR_LOOK_PROTECTED:
      /* TRANSLATORS: %s is the name of a network connection */
      return has_net ? g_strdup_printf (_("Protected on %s"), net) : g_strdup (_("Protected"));
    case DDR_LOOK_PORTAL:
      return has_net ? g_strdup_printf (_("Not protected: %s asks you to log in"), net)
                     : g_strdup (_("Not protected: the network asks you to log in"));
    case DDR_LOOK_PAUSED:
      return paused_words (in);
    case DDR_LOOK_TRUSTED:
      return has_net ? g_strdup_printf (_("Trusted network %s: its own DNS is used"), net)
                     : g_strdup (_("Trusted network: its own DNS is used"));
    case DDR_LOOK_FORWARDING:
      return g_strdup (_("Forwarding DNS for the local network (roaming is off)"));
    case DDR_LOOK_UNPROTECTED:
    default:
      if (g_str_equal (s, "unreachable"))
        return g_strdup (_("Not protected: the ThreatSTOP service is unreachable"));
      if (g_str_equal (s, "offline"))
        return g_strdup (_("Offline"));
      if (g_str_equal (s, "probing") || g_str_equal (s, "starting"))
        return g_strdup (_("Checking the network…"));
      return g_strdup (_("Not protected"));
    }
}

void
ddr_indicator_model_compute (const DdrIndicatorInput *in, DdrIndicatorModel *out)
{
  g_autofree char *reason = NULL;
  GString *tip;
  gboolean attention = FALSE;

  memset (out, 0, sizeof *out);
  out->look = look_of (in);
  out->icon_name = icon_of (out->look);
  out->network = in->running ? ddr_indicator_display_text (in->network, DDR_INDICATOR_NETWORK_MAX)
                             : g_strdup ("");
  out->state_words = state_words (out->look, in, out->network);

  /* the login item follows PortalUrl, also while protected: a portal the service
   * outlived still wants a login for the web */
  if (in->running && ddr_indicator_url_usable (in->portal_url))
    {
      out->login_url = g_strdup (in->portal_url);
      out->login_label = *out->network
        /* TRANSLATORS: a menu item; %s is the name of a network connection */
        ? g_strdup_printf (_("Log in to %s…"), out->network)
        : g_strdup (_("Log in to the network…"));
    }

  out->show_resume = out->look == DDR_LOOK_PAUSED;
  out->show_pause = in->running && !out->show_resume && out->look != DDR_LOOK_FORWARDING;
  out->pause_enabled = in->running && in->may_pause;
  out->reprobe_enabled = in->running;
  out->transient = out->look == DDR_LOOK_UNPROTECTED
                   && (g_strcmp0 (in->state, "probing") == 0 || g_strcmp0 (in->state, "starting") == 0);
  out->unprotected = out->look == DDR_LOOK_PORTAL || out->look == DDR_LOOK_UNPROTECTED
                     || out->look == DDR_LOOK_STOPPED;

  /* NeedsAttention at once for a portal; for other unprotected states once they
   * last attention_after_s (a network change passes through probing briefly).
   * Offline resolves nothing, so there is nothing to warn about. */
  out->attention_in_s = -1;
  if (out->look == DDR_LOOK_PORTAL)
    attention = TRUE;
  else if (out->unprotected && g_strcmp0 (in->state, "offline") != 0)
    {
      guint64 since = in->unprotected_since ? in->unprotected_since : in->now;
      guint64 due = since + in->attention_after_s;
      if (in->now >= due)
        attention = TRUE;
      else
        out->attention_in_s = (gint64) (due - in->now);
    }
  out->sni_status = attention ? "NeedsAttention" : "Active";

  tip = g_string_new (out->state_words);
  reason = in->running ? ddr_indicator_display_text (in->reason, 200) : NULL;
  if (reason && *reason)
    g_string_append_printf (tip, "\n%s", reason);
  out->tooltip = g_string_free (tip, FALSE);
}

void
ddr_indicator_model_clear (DdrIndicatorModel *model)
{
  g_clear_pointer (&model->state_words, g_free);
  g_clear_pointer (&model->tooltip, g_free);
  g_clear_pointer (&model->network, g_free);
  g_clear_pointer (&model->login_url, g_free);
  g_clear_pointer (&model->login_label, g_free);
}

DdrNotice
ddr_indicator_notice_next (DdrNotice                last,
                           gboolean                 last_offered_login,
                           const DdrIndicatorModel *model,
                           gboolean                *forget)
{
  *forget = FALSE;
  switch (model->look)
    {
    case DDR_LOOK_PORTAL:
      /* NM's verdict comes before the probe has the portal's address: the notice
       * is replaced once it can offer the login */
      if (last != DDR_NOTICE_PORTAL || (model->login_url && !last_offered_login))
        return DDR_NOTICE_PORTAL;
      return DDR_NOTICE_NONE;
    case DDR_LOOK_PROTECTED:
      /* only after the person was told protection was gone */
      return last == DDR_NOTICE_PORTAL || last == DDR_NOTICE_OFF ? DDR_NOTICE_BACK
                                                                  : DDR_NOTICE_NONE;
    case DDR_LOOK_UNPROTECTED:
    case DDR_LOOK_STOPPED:
      /* the daemon re-checks a portal now and then: its login notice stays */
      if (model->transient && last == DDR_NOTICE_PORTAL)
        return DDR_NOTICE_NONE;
      if (g_str_equal (model->sni_status, "NeedsAttention") && last != DDR_NOTICE_OFF)
        return DDR_NOTICE_OFF;
      return DDR_NOTICE_NONE;
    case DDR_LOOK_PAUSED:
    case DDR_LOOK_TRUSTED:
    case DDR_LOOK_FORWARDING:
    default:
      /* chosen by an admin or the configuration: nothing to warn about, and nothing
       * to announce as "protected again" later */
      *forget = last != DDR_NOTICE_NONE;
      return DDR_NOTICE_NONE;
    }
}
