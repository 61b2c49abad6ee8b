/* The StatusNotifierItem on the session bus: icon, status and tooltip for the panel,
 * registered with every StatusNotifierWatcher that comes along. */
#define G_LOG_DOMAIN "ddr-indicator"

#include "config.h"

#include <unistd.h>

#include <glib/gi18n.h>

#include "ddr-indicator-sni.h"

#define SNI_IFACE     "org.kde.StatusNotifierItem"
#define WATCHER_NAME  "org.kde.StatusNotifierWatcher"
#define WATCHER_PATH  "/StatusNotifierWatcher"
#define WATCHER_IFACE "org.kde.StatusNotifierWatcher"
#define CALL_TIMEOUT_MS 5000

static const char sni_xml[] =
  "<node>"
  " <interface name='org.kde.StatusNotifierItem'>"
  "  <property name='Category' type='s' access='read'/>"
  "  <property name='Id' type='s' access='read'/>"
  "  <property name='Title' type='s' access='read'/>"
  "  <property name='Status' type='s' access='read'/>"
  "  <property name='WindowId' type='i' access='read'/>"
  "  <property name='IconName' type='s' access='read'/>"
  "  <property name='IconPixmap' type='a(iiay)' access='read'/>"
  "  <property name='OverlayIconName' type='s' access='read'/>"
  "  <property name='OverlayIconPixmap' type='a(iiay)' access='read'/>"
  "  <property name='AttentionIconName' type='s' access='read'/>"
  "  <property name='AttentionIconPixmap' type='a(iiay)' access='read'/>"
  "  <property name='AttentionMovieName' type='s' access='read'/>"
  "  <property name='IconThemePath' type='s' access='read'/>"
  "  <property name='ToolTip' type='(sa(iiay)ss)' access='read'/>"
  "  <property name='ItemIsMenu' type='b' access='read'/>"
  "  <property name='Menu' type='o' access='read'/>"
  "  <method name='ContextMenu'><arg type='i' direction='in'/><arg type='i' direction='in'/></method>"
  "  <method name='Activate'><arg type='i' direction='in'/><arg type='i' direction='in'/></method>"
  "  <method name='SecondaryActivate'><arg type='i' direction='in'/><arg type='i' direction='in'/></method>"
  "  <method name='Scroll'><arg type='i' direction='in'/><arg type='s' direction='in'/></method>"
  "  <signal name='NewTitle'/>"
  "  <signal name='NewIcon'/>"
  "  <signal name='NewAttentionIcon'/>"
  "  <signal name='NewOverlayIcon'/>"
  "  <signal name='NewToolTip'/>"
  "  <signal name='NewStatus'><arg type='s'/></signal>"
  " </interface>"
  "</node>";

struct _DdrIndicatorSni {
  GDBusConnection        *bus;
  GCancellable           *cancellable;
  guint                   object_id;
  guint                   own_id;
  guint                   watch_id;
  char                   *bus_name;
  char                   *icon_theme_path;
  char                   *icon_name;
  char                   *status;
  char                   *tooltip_title;
  char                   *tooltip_text;
  gboolean                told_no_watcher;
  DdrIndicatorSniActivate activate;
  gpointer                user_data;
};

static GVariant *
tooltip_variant (DdrIndicatorSni *self)
{
  return g_variant_new ("(s@a(iiay)ss)", self->icon_name ? self->icon_name : "",
                        g_variant_new_array (G_VARIANT_TYPE ("(iiay)"), NULL, 0),
                        self->tooltip_title ? self->tooltip_title : "",
                        self->tooltip_text ? self->tooltip_text : "");
}

static GVariant *
get_property (GDBusConnection *connection, const char *sender, const char *object_path,
              const char *interface_name, const char *property_name, GError **error,
              gpointer user_data)
{
  DdrIndicatorSni *self = user_data;
  const char *p = property_name;

  if (g_str_equal (p, "Category"))
    return g_variant_new_string ("SystemServices");
  if (g_str_equal (p, "Id"))
    return g_variant_new_string ("threatstop-ddr");
  if (g_str_equal (p, "Title"))
    return g_variant_new_string (_("ThreatSTOP DNS Defense"));
  if (g_str_equal (p, "Status"))
    return g_variant_new_string (self->status ? self->status : "Active");
  if (g_str_equal (p, "WindowId"))
    return g_variant_new_int32 (0);
  if (g_str_equal (p, "IconName") || g_str_equal (p, "AttentionIconName"))
    return g_variant_new_string (self->icon_name ? self->icon_name : "");
  if (g_str_equal (p, "IconPixmap") || g_str_equal (p, "OverlayIconPixmap")
      || g_str_equal (p, "AttentionIconPixmap"))
    return g_variant_new_array (G_VARIANT_TYPE ("(iiay)"), NULL, 0);
  if (g_str_equal (p, "OverlayIconName") || g_str_equal (p, "AttentionMovieName"))
    return g_variant_new_string ("");
  if (g_str_equal (p, "IconThemePath"))
    return g_variant_new_string (self->icon_theme_path ? self->icon_theme_path : "");
  if (g_str_equal (p, "ToolTip"))
    return tooltip_variant (self);
  if (g_str_equal (p, "ItemIsMenu"))
    return g_variant_new_boolean (TRUE);
  if (g_str_equal (p, "Menu"))
    return g_variant_new_object_path (DDR_INDICATOR_MENU_PATH);
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "No property %s", p);
  return NULL;
}

static void
method_call (GDBusConnection *connection, const char *sender, const char *object_path,
             const char *interface_name, const char *method_name, GVariant *parameters,
             GDBusMethodInvocation *invocation, gpointer user_data)
{
  DdrIndicatorSni *self = user_data;

  g_debug ("%s from %s", method_name, sender);
  /* ItemIsMenu: hosts open the menu themselves; a host that activates instead
   * gets the details, the one thing a click should show */
  if (g_str_equal (method_name, "Activate"))
    self->activate (self->user_data);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable sni_vtable = { method_call, get_property, NULL, { 0 } };

static void
on_registered (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);

  if (reply == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("The StatusNotifierWatcher refused the item: %s", error->message);
  else if (reply != NULL)
    g_info ("registered with the StatusNotifierWatcher");
}

static void
on_watcher_appeared (GDBusConnection *bus, const char *name, const char *owner, gpointer user_data)
{
  DdrIndicatorSni *self = user_data;

  /* a watcher that restarts forgets every item: register each time one appears */
  g_dbus_connection_call (bus, WATCHER_NAME, WATCHER_PATH, WATCHER_IFACE,
                          "RegisterStatusNotifierItem", g_variant_new ("(s)", self->bus_name),
                          NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS,
                          self->cancellable, on_registered, self);
}

static void
on_watcher_vanished (GDBusConnection *bus, const char *name, gpointer user_data)
{
  DdrIndicatorSni *self = user_data;

  if (!self->told_no_watcher)
    g_message ("No StatusNotifierWatcher on the session bus: showing notifications only "
               "until a panel with a tray starts");
  self->told_no_watcher = TRUE;
}

DdrIndicatorSni *
ddr_indicator_sni_new (GDBusConnection        *session,
                       const char             *icon_theme_path,
                       DdrIndicatorSniActivate activate,
                       gpointer                user_data,
                       GError                **error)
{
  g_autoptr(DdrIndicatorSni) self = g_new0 (DdrIndicatorSni, 1);
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (sni_xml, error);

  if (info == NULL)
    return NULL;
  self->bus = g_object_ref (session);
  self->cancellable = g_cancellable_new ();
  self->icon_theme_path = g_strdup (icon_theme_path);
  self->activate = activate;
  self->user_data = user_data;
  self->tooltip_title = g_strdup (_("ThreatSTOP DNS Defense"));
  self->object_id = g_dbus_connection_register_object (session, DDR_INDICATOR_SNI_PATH,
                                                       info->interfaces[0], &sni_vtable,
                                                       self, NULL, error);
  if (self->object_id == 0)
    return NULL;
  /* the name the specification asks for; registration names it to the watcher */
  self->bus_name = g_strdup_printf ("org.kde.StatusNotifierItem-%d-1", (int) getpid ());
  self->own_id = g_bus_own_name_on_connection (session, self->bus_name,
                                               G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                               NULL, NULL, NULL, NULL);
  self->watch_id = g_bus_watch_name_on_connection (session, WATCHER_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   on_watcher_appeared, on_watcher_vanished,
                                                   self, NULL);
  return g_steal_pointer (&self);
}

void
ddr_indicator_sni_free (DdrIndicatorSni *self)
{
  if (self == NULL)
    return;
  g_cancellable_cancel (self->cancellable);
  if (self->watch_id)
    g_bus_unwatch_name (self->watch_id);
  if (self->own_id)
    g_bus_unown_name (self->own_id);
  if (self->object_id)
    g_dbus_connection_unregister_object (self->bus, self->object_id);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->bus);
  g_free (self->bus_name);
  g_free (self->icon_theme_path);
  g_free (self->icon_name);
  g_free (self->status);
  g_free (self->tooltip_title);
  g_free (self->tooltip_text);
  g_free (self);
}

static void
emit (DdrIndicatorSni *self, const char *signal, GVariant *parameters)
{
  g_autoptr(GError) error = NULL;

  if (!g_dbus_connection_emit_signal (self->bus, NULL, DDR_INDICATOR_SNI_PATH, SNI_IFACE,
                                      signal, parameters, &error))
    g_debug ("%s not sent: %s", signal, error->message);
}

/* Hosts read the tooltip's text as markup (KDE, xfce4-sntray-plugin), and it holds a
 * network's name: the three characters that make markup are escaped, nothing else. */
static char *
escape_markup (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p; p++)
    if (*p == '<')
      g_string_append (out, "&lt;");
    else if (*p == '>')
      g_string_append (out, "&gt;");
    else if (*p == '&')
      g_string_append (out, "&amp;");
    else
      g_string_append_c (out, *p);
  return g_string_free (out, FALSE);
}

/* Replace *field with value; TRUE when it changed. */
static gboolean
set_string (char **field, const char *value)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

void
ddr_indicator_sni_update (DdrIndicatorSni *self, const DdrIndicatorModel *model)
{
  gboolean icon = set_string (&self->icon_name, model->icon_name);
  g_autofree char *text = escape_markup (model->tooltip);
  gboolean tip = set_string (&self->tooltip_text, text);

  if (icon)
    {
      g_debug ("icon %s", model->icon_name);
      emit (self, "NewIcon", NULL);
      emit (self, "NewAttentionIcon", NULL);
    }
  if (set_string (&self->status, model->sni_status))
    emit (self, "NewStatus", g_variant_new ("(s)", model->sni_status));
  if (icon || tip)
    emit (self, "NewToolTip", NULL);
}
