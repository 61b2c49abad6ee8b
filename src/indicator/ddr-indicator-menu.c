/* The item's menu as com.canonical.dbusmenu: a fixed set of entries whose labels,
 * visibility and sensitivity follow the model. */
#define G_LOG_DOMAIN "ddr-indicator"

#include "config.h"

#include <glib/gi18n.h>

#include "ddr-indicator-menu.h"

#define MENU_IFACE "com.canonical.dbusmenu"

static const char menu_xml[] =
  "<node>"
  " <interface name='com.canonical.dbusmenu'>"
  "  <property name='Version' type='u' access='read'/>"
  "  <property name='TextDirection' type='s' access='read'/>"
  "  <property name='Status' type='s' access='read'/>"
  "  <property name='IconThemePath' type='as' access='read'/>"
  "  <method name='GetLayout'>"
  "   <arg type='i' direction='in'/><arg type='i' direction='in'/><arg type='as' direction='in'/>"
  "   <arg type='u' direction='out'/><arg type='(ia{sv}av)' direction='out'/>"
  "  </method>"
  "  <method name='GetGroupProperties'>"
  "   <arg type='ai' direction='in'/><arg type='as' direction='in'/>"
  "   <arg type='a(ia{sv})' direction='out'/>"
  "  </method>"
  "  <method name='GetProperty'>"
  "   <arg type='i' direction='in'/><arg type='s' direction='in'/><arg type='v' direction='out'/>"
  "  </method>"
  "  <method name='Event'>"
  "   <arg type='i' direction='in'/><arg type='s' direction='in'/><arg type='v' direction='in'/>"
  "   <arg type='u' direction='in'/>"
  "  </method>"
  "  <method name='EventGroup'>"
  "   <arg type='a(isvu)' direction='in'/><arg type='ai' direction='out'/>"
  "  </method>"
  "  <method name='AboutToShow'><arg type='i' direction='in'/><arg type='b' direction='out'/></method>"
  "  <method name='AboutToShowGroup'>"
  "   <arg type='ai' direction='in'/><arg type='ai' direction='out'/><arg type='ai' direction='out'/>"
  "  </method>"
  "  <signal name='ItemsPropertiesUpdated'><arg type='a(ia{sv})'/><arg type='a(ias)'/></signal>"
  "  <signal name='LayoutUpdated'><arg type='u'/><arg type='i'/></signal>"
  "  <signal name='ItemActivationRequested'><arg type='i'/><arg type='u'/></signal>"
  " </interface>"
  "</node>";

typedef struct {
  char    *label;
  gboolean enabled;
  gboolean visible;
  gboolean separator;
} Item;

struct _DdrIndicatorMenu {
  GDBusConnection        *bus;
  char                   *path;
  guint                   object_id;
  guint                   revision;
  Item                    items[DDR_MENU_N_ITEMS];
  DdrIndicatorMenuClicked clicked;
  DdrIndicatorMenuOpening opening;
  gpointer                user_data;
};

static gboolean
wanted (const char *const *names, const char *name)
{
  return names == NULL || names[0] == NULL || g_strv_contains (names, name);
}

static GVariant *
item_properties (DdrIndicatorMenu *self, int id, const char *const *names)
{
  GVariantBuilder b;
  const Item *it = &self->items[id];

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  if (id == DDR_MENU_ROOT)
    {
      if (wanted (names, "children-display"))
        g_variant_builder_add (&b, "{sv}", "children-display", g_variant_new_string ("submenu"));
      return g_variant_builder_end (&b);
    }
  if (it->separator && wanted (names, "type"))
    g_variant_builder_add (&b, "{sv}", "type", g_variant_new_string ("separator"));
  if (!it->separator && wanted (names, "label"))
    g_variant_builder_add (&b, "{sv}", "label", g_variant_new_string (it->label ? it->label : ""));
  if (wanted (names, "enabled"))
    g_variant_builder_add (&b, "{sv}", "enabled", g_variant_new_boolean (it->enabled));
  if (wanted (names, "visible"))
    g_variant_builder_add (&b, "{sv}", "visible", g_variant_new_boolean (it->visible));
  return g_variant_builder_end (&b);
}

static GVariant *
layout (DdrIndicatorMenu *self, int id, int depth, const char *const *names)
{
  GVariantBuilder children;

  g_variant_builder_init (&children, G_VARIANT_TYPE ("av"));
  if (id == DDR_MENU_ROOT && depth != 0)
    for (int i = 1; i < DDR_MENU_N_ITEMS; i++)
      g_variant_builder_add (&children, "v", layout (self, i, depth - 1, names));
  return g_variant_new ("(i@a{sv}av)", id, item_properties (self, id, names), &children);
}

static gboolean
valid_id (int id)
{
  return id >= 0 && id < DDR_MENU_N_ITEMS;
}

static void
event (DdrIndicatorMenu *self, int id, const char *kind)
{
  g_debug ("menu event %d %s", id, kind);
  /* a host may send a click the model greyed out meanwhile; the daemon decides */
  if (id > DDR_MENU_ROOT && g_str_equal (kind, "clicked") && self->items[id].visible)
    self->clicked ((DdrMenuId) id, self->user_data);
}

static void
method_call (GDBusConnection *connection, const char *sender, const char *object_path,
             const char *interface_name, const char *method, GVariant *params,
             GDBusMethodInvocation *invocation, gpointer user_data)
{
  DdrIndicatorMenu *self = user_data;

  if (g_str_equal (method, "GetLayout"))
    {
      int parent, depth;
      g_autofree const char **names = NULL;
      g_variant_get (params, "(ii^a&s)", &parent, &depth, &names);
      if (!valid_id (parent))
        {
          g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                 "No menu item %d", parent);
          return;
        }
      g_dbus_method_invocation_return_value (
        invocation, g_variant_new ("(u@(ia{sv}av))", self->revision,
                                   layout (self, parent, depth, names)));
    }
  else if (g_str_equal (method, "GetGroupProperties"))
    {
      g_autoptr(GVariantIter) ids = NULL;
      g_autofree const char **names = NULL;
      GVariantBuilder b;
      int id;
      g_variant_get (params, "(ai^a&s)", &ids, &names);
      g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ia{sv})"));
      while (g_variant_iter_next (ids, "i", &id))
        if (valid_id (id))
          g_variant_builder_add (&b, "(i@a{sv})", id, item_properties (self, id, names));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@a(ia{sv}))",
                                                                        g_variant_builder_end (&b)));
    }
  else if (g_str_equal (method, "GetProperty"))
    {
      int id;
      const char *name;
      const char *one[2] = { NULL, NULL };
      g_autoptr(GVariant) props = NULL;
      g_autoptr(GVariant) value = NULL;
      g_variant_get (params, "(i&s)", &id, &name);
      one[0] = name;
      if (valid_id (id))
        {
          props = g_variant_ref_sink (item_properties (self, id, one));
          value = g_variant_lookup_value (props, name, NULL);
        }
      if (value == NULL)
        g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                               "No property %s on item %d", name, id);
      else
        g_dbus_method_invocation_return_value (invocation, g_variant_new ("(v)", value));
    }
  else if (g_str_equal (method, "Event"))
    {
      int id;
      const char *kind;
      g_variant_get (params, "(i&svu)", &id, &kind, NULL, NULL);
      if (!valid_id (id))
        {
          g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                 "No menu item %d", id);
          return;
        }
      g_dbus_method_invocation_return_value (invocation, NULL);
      event (self, id, kind);
    }
  else if (g_str_equal (method, "EventGroup"))
    {
      g_autoptr(GVariantIter) events = NULL;
      GVariantBuilder errors;
      const char *kind;
      int id;
      g_variant_get (params, "(a(isvu))", &events);
      g_variant_builder_init (&errors, G_VARIANT_TYPE ("ai"));
      while (g_variant_iter_next (events, "(i&svu)", &id, &kind, NULL, NULL))
        if (valid_id (id))
          event (self, id, kind);
        else
          g_variant_builder_add (&errors, "i", id);
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@ai)",
                                                                        g_variant_builder_end (&errors)));
    }
  else if (g_str_equal (method, "AboutToShow"))
    {
      int id;
      g_variant_get (params, "(i)", &id);
      /* ask polkit again when the menu opens: the answer shows up as a LayoutUpdated */
      if (id == DDR_MENU_ROOT)
        self->opening (self->user_data);
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(b)", FALSE));
    }
  else if (g_str_equal (method, "AboutToShowGroup"))
    {
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@ai@ai)",
        g_variant_new_array (G_VARIANT_TYPE_INT32, NULL, 0),
        g_variant_new_array (G_VARIANT_TYPE_INT32, NULL, 0)));
    }
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                           "No method %s", method);
}

static GVariant *
get_property (GDBusConnection *connection, const char *sender, const char *object_path,
              const char *interface_name, const char *name, GError **error, gpointer user_data)
{
  if (g_str_equal (name, "Version"))
    return g_variant_new_uint32 (3);
  if (g_str_equal (name, "TextDirection"))
    /* TRANSLATORS: "rtl" for right-to-left languages, else "ltr" */
    return g_variant_new_string (g_str_equal (C_("text direction", "ltr"), "rtl") ? "rtl" : "ltr");
  if (g_str_equal (name, "Status"))
    return g_variant_new_string ("normal");
  if (g_str_equal (name, "IconThemePath"))
    return g_variant_new_strv (NULL, 0);
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "No property %s", name);
  return NULL;
}

static const GDBusInterfaceVTable menu_vtable = { method_call, get_property, NULL, { 0 } };

DdrIndicatorMenu *
ddr_indicator_menu_new (GDBusConnection         *session,
                        const char              *path,
                        DdrIndicatorMenuClicked  clicked,
                        DdrIndicatorMenuOpening  opening,
                        gpointer                 user_data,
                        GError                 **error)
{
  g_autoptr(DdrIndicatorMenu) self = g_new0 (DdrIndicatorMenu, 1);
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (menu_xml, error);

  if (info == NULL)
    return NULL;
  self->bus = g_object_ref (session);
  self->path = g_strdup (path);
  self->revision = 1;
  self->clicked = clicked;
  self->opening = opening;
  self->user_data = user_data;
  self->items[DDR_MENU_SEP1].separator = self->items[DDR_MENU_SEP2].separator = TRUE;
  self->object_id = g_dbus_connection_register_object (session, path, info->interfaces[0],
                                                       &menu_vtable, self, NULL, error);
  if (self->object_id == 0)
    return NULL;
  return g_steal_pointer (&self);
}

void
ddr_indicator_menu_free (DdrIndicatorMenu *self)
{
  if (self == NULL)
    return;
  if (self->object_id)
    g_dbus_connection_unregister_object (self->bus, self->object_id);
  for (int i = 0; i < DDR_MENU_N_ITEMS; i++)
    g_free (self->items[i].label);
  g_clear_object (&self->bus);
  g_free (self->path);
  g_free (self);
}

/* dbusmenu labels take '_' as a mnemonic marker; a network's name must show as is. */
static char *
label_text (const char *text)
{
  g_auto(GStrv) parts = g_strsplit (text ? text : "", "_", -1);
  return g_strjoinv ("__", parts);
}

static gboolean
set_item (Item *it, const char *label, gboolean enabled, gboolean visible)
{
  g_autofree char *l = label_text (label);
  gboolean changed = g_strcmp0 (it->label, l) != 0 || it->enabled != enabled
                     || it->visible != visible;

  g_free (it->label);
  it->label = g_steal_pointer (&l);
  it->enabled = enabled;
  it->visible = visible;
  return changed;
}

void
ddr_indicator_menu_update (DdrIndicatorMenu *self, const DdrIndicatorModel *m)
{
  gboolean changed[DDR_MENU_N_ITEMS] = { FALSE };
  gboolean any = FALSE;
  GVariantBuilder updated;
  Item *it = self->items;

  changed[DDR_MENU_STATUS] = set_item (&it[DDR_MENU_STATUS], m->state_words, FALSE, TRUE);
  changed[DDR_MENU_LOGIN] = set_item (&it[DDR_MENU_LOGIN], m->login_label, m->login_url != NULL,
                                      m->login_url != NULL);
  changed[DDR_MENU_SEP1] = set_item (&it[DDR_MENU_SEP1], NULL, TRUE, TRUE);
  changed[DDR_MENU_PAUSE_15] = set_item (&it[DDR_MENU_PAUSE_15], _("Pause for 15 minutes"),
                                         m->pause_enabled, m->show_pause);
  changed[DDR_MENU_PAUSE_60] = set_item (&it[DDR_MENU_PAUSE_60], _("Pause for 1 hour"),
                                         m->pause_enabled, m->show_pause);
  changed[DDR_MENU_RESUME] = set_item (&it[DDR_MENU_RESUME], _("Resume"), m->pause_enabled,
                                       m->show_resume);
  /* no two separators in a row while the pause group is hidden */
  changed[DDR_MENU_SEP2] = set_item (&it[DDR_MENU_SEP2], NULL, TRUE,
                                     m->show_pause || m->show_resume);
  changed[DDR_MENU_REPROBE] = set_item (&it[DDR_MENU_REPROBE], _("Check again"),
                                        m->reprobe_enabled, TRUE);
  changed[DDR_MENU_DETAILS] = set_item (&it[DDR_MENU_DETAILS], _("Details…"), TRUE, TRUE);

  /* hosts that keep their menu (xfce4-sntray-plugin) update entries from
   * ItemsPropertiesUpdated; LayoutUpdated alone left them showing the old labels */
  g_variant_builder_init (&updated, G_VARIANT_TYPE ("a(ia{sv})"));
  for (int i = 1; i < DDR_MENU_N_ITEMS; i++)
    if (changed[i])
      {
        any = TRUE;
        g_variant_builder_add (&updated, "(i@a{sv})", i, item_properties (self, i, NULL));
      }
  if (!any)
    {
      g_variant_builder_clear (&updated);
      return;
    }
  self->revision++;
  g_dbus_connection_emit_signal (self->bus, NULL, self->path, MENU_IFACE, "ItemsPropertiesUpdated",
                                 g_variant_new ("(@a(ia{sv})@a(ias))", g_variant_builder_end (&updated),
                                                g_variant_new_array (G_VARIANT_TYPE ("(ias)"), NULL, 0)),
                                 NULL);
  g_dbus_connection_emit_signal (self->bus, NULL, self->path, MENU_IFACE, "LayoutUpdated",
                                 g_variant_new ("(ui)", self->revision, 0), NULL);
}
