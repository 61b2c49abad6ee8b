/* The CLI's side of com.threatstop.DDR1: calls without auto-start, errors as sentences. */
#include "config.h"

#include <string.h>

#include <unistd.h>
#include <glib/gi18n.h>

#include "ddr-admin-client.h"

#define DDR_BUS_NAME    "com.threatstop.DDR1"
#define DDR_OBJECT_PATH "/com/threatstop/DDR1"
#define DDR_INTERFACE   "com.threatstop.DDR1"

/* polkit may wait for the user to type a password. */
#define CALL_TIMEOUT_MS             (25 * 1000)
#define INTERACTIVE_CALL_TIMEOUT_MS (5 * 60 * 1000)

struct _DdrAdminClient {
  GDBusConnection *bus;
};

/* One clear sentence for whatever went wrong on the bus; never the raw error. */
/* Strings from the daemon are the network's words (a hotspot names its SSID, which
 * becomes the connection's name): control characters, and the format characters that
 * reorder or hide text, are shown as escapes so that they cannot drive the terminal or
 * forge a line. A backslash is doubled, so an escape is never ambiguous. */
char *
ddr_admin_printable (const char *s)
{
  GString *out = g_string_sized_new (strlen (s));

  for (const char *p = s; *p; )
    {
      gunichar c = g_utf8_get_char_validated (p, -1);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guint) (guchar) *p);
          p++;
          continue;
        }
      if (c == '\\')
        g_string_append (out, "\\\\");
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\r')
        g_string_append (out, "\\r");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else if (c < 0x80 && g_ascii_iscntrl ((char) c))
        g_string_append_printf (out, "\\x%02x", (guint) c);
      else if (g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT
               || g_unichar_type (c) == G_UNICODE_LINE_SEPARATOR
               || g_unichar_type (c) == G_UNICODE_PARAGRAPH_SEPARATOR)
        g_string_append_printf (out, "\\u%04x", (guint) c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  return g_string_free (out, FALSE);
}

static void
print_error (GError *error)
{
  g_autofree char *remote = g_dbus_error_get_remote_error (error);
  g_autofree char *why = NULL;

  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE))
    {
      g_printerr (_("The ThreatSTOP DDR daemon (threatstop-ddrd) is not running.\n"));
      return;
    }
  /* The daemon says NotAuthorized when it cannot ask polkit at all: say so,
   * "ask an administrator" would send the user the wrong way. */
  if (g_strcmp0 (remote, "com.threatstop.DDR1.Error.NotAuthorized") == 0
      && strstr (error->message, "Cannot check authorization"))
    {
      g_printerr (_("Authorization could not be checked: is polkit running?\n"));
      return;
    }
  if (g_strcmp0 (remote, "com.threatstop.DDR1.Error.NotAuthorized") == 0
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_AUTH_FAILED))
    {
      g_printerr (_("You are not authorized to do this; ask an administrator.\n"));
      return;
    }
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      g_printerr (_("The ThreatSTOP DDR daemon did not answer in time.\n"));
      return;
    }
  g_dbus_error_strip_remote_error (error);
  why = ddr_admin_printable (error->message);
  if (g_strcmp0 (remote, "com.threatstop.DDR1.Error.Failed") == 0
      || g_strcmp0 (remote, "com.threatstop.DDR1.Error.InvalidArgs") == 0)
    {
      /* TRANSLATORS: %s is the daemon's own explanation (in English). */
      g_printerr (_("The daemon could not do this: %s\n"), why);
      return;
    }
  g_printerr (_("Cannot talk to the ThreatSTOP DDR daemon: %s\n"), why);
}

DdrAdminClient *
ddr_admin_client_new (void)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *bus;
  DdrAdminClient *client;

  bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (!bus)
    {
      g_printerr (_("The ThreatSTOP DDR daemon cannot be reached: the system bus is not "
                    "available.\n"));
      return NULL;
    }
  client = g_new0 (DdrAdminClient, 1);
  client->bus = bus;
  return client;
}

void
ddr_admin_client_free (DdrAdminClient *client)
{
  if (!client)
    return;
  g_clear_object (&client->bus);
  g_free (client);
}

static GVariant *
call (DdrAdminClient *client, const char *iface, const char *method, GVariant *parameters,
      const GVariantType *reply_type, gboolean interactive)
{
  g_autoptr(GError) error = NULL;
  GDBusCallFlags flags = G_DBUS_CALL_FLAGS_NO_AUTO_START;
  GVariant *reply;

  /* Let polkit ask for a password when a person is at the terminal. */
  if (interactive)
    flags |= G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION;
  reply = g_dbus_connection_call_sync (client->bus, DDR_BUS_NAME, DDR_OBJECT_PATH, iface,
                                       method, parameters, reply_type, flags,
                                       interactive ? INTERACTIVE_CALL_TIMEOUT_MS : CALL_TIMEOUT_MS,
                                       NULL, &error);
  if (!reply)
    print_error (error);
  return reply;
}

gboolean
ddr_admin_client_daemon_running (DdrAdminClient *client)
{
  g_autoptr(GVariant) reply = NULL;
  gboolean owned = TRUE;

  /* Asked of the bus itself: an unanswered question counts as running, so the real
   * call that follows says what went wrong. */
  reply = g_dbus_connection_call_sync (client->bus, "org.freedesktop.DBus",
                                       "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "NameHasOwner", g_variant_new ("(s)", DDR_BUS_NAME),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE,
                                       CALL_TIMEOUT_MS, NULL, NULL);
  if (reply)
    g_variant_get (reply, "(b)", &owned);
  return owned;
}

GVariant *
ddr_admin_client_get_properties (DdrAdminClient *client)
{
  g_autoptr(GVariant) reply = call (client, "org.freedesktop.DBus.Properties", "GetAll",
                                    g_variant_new ("(s)", DDR_INTERFACE),
                                    G_VARIANT_TYPE ("(a{sv})"), FALSE);
  GVariant *props;

  if (!reply)
    return NULL;
  g_variant_get (reply, "(@a{sv})", &props);
  return props;
}

GVariant *
ddr_admin_client_get_statistics (DdrAdminClient *client)
{
  g_autoptr(GVariant) reply = call (client, DDR_INTERFACE, "GetStatistics", NULL,
                                    G_VARIANT_TYPE ("(a{sv})"), FALSE);
  GVariant *stats;

  if (!reply)
    return NULL;
  g_variant_get (reply, "(@a{sv})", &stats);
  return stats;
}

int
ddr_admin_client_call (DdrAdminClient *client, const char *method, GVariant *parameters)
{
  g_autoptr(GVariant) reply = NULL;

  reply = call (client, DDR_INTERFACE, method, parameters, G_VARIANT_TYPE_UNIT,
                isatty (0) ? TRUE : FALSE);
  return reply ? 0 : 1;
}

const char *
ddr_admin_lookup_string (GVariant *dict, const char *key)
{
  const char *s = NULL;

  /* "&s": the string lives as long as dict. */
  return g_variant_lookup (dict, key, "&s", &s) ? s : "";
}

gboolean
ddr_admin_lookup_bool (GVariant *dict, const char *key)
{
  gboolean b = FALSE;

  g_variant_lookup (dict, key, "b", &b);
  return b;
}

guint64
ddr_admin_lookup_uint (GVariant *dict, const char *key)
{
  g_autoptr(GVariant) v = g_variant_lookup_value (dict, key, NULL);

  if (!v)
    return 0;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64))
    return g_variant_get_uint64 (v);
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32))
    return g_variant_get_uint32 (v);
  return 0;
}
