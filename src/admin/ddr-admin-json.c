/* GVariant to JSON for --json output, through json-glib's JsonBuilder and JsonGenerator. */
#include <math.h>

#include <json-glib/json-glib.h>

#include "ddr-admin-json.h"

/* json_gvariant_serialize() does the same walk, but casts a guint64 to gint64: the
 * D-Bus API's G_MAXUINT64 ("paused until Resume()") would come out as -1. */

static gboolean
is_object (GVariant *v)
{
  const GVariantType *t = g_variant_get_type (v);

  return g_variant_type_is_array (t)
         && g_variant_type_is_dict_entry (g_variant_type_element (t))
         && g_variant_type_equal (g_variant_type_key (g_variant_type_element (t)),
                                  G_VARIANT_TYPE_STRING);
}

static void
add_uint64 (JsonBuilder *b, guint64 u)
{
  /* json-glib's integers are gint64. Beyond it (in practice only G_MAXUINT64, the
   * "until Resume()" of PausedUntil) G_MAXINT64 says the same: the far future, an
   * exact integer that every JSON reader with 64-bit integers parses. */
  json_builder_add_int_value (b, u > G_MAXINT64 ? G_MAXINT64 : (gint64) u);
}

static void
add_value (JsonBuilder *b, GVariant *v)
{
  GVariantIter iter;
  GVariant *child;

  switch (g_variant_classify (v))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      json_builder_add_boolean_value (b, g_variant_get_boolean (v));
      return;
    case G_VARIANT_CLASS_BYTE:
      json_builder_add_int_value (b, g_variant_get_byte (v));
      return;
    case G_VARIANT_CLASS_INT16:
      json_builder_add_int_value (b, g_variant_get_int16 (v));
      return;
    case G_VARIANT_CLASS_UINT16:
      json_builder_add_int_value (b, g_variant_get_uint16 (v));
      return;
    case G_VARIANT_CLASS_INT32:
      json_builder_add_int_value (b, g_variant_get_int32 (v));
      return;
    case G_VARIANT_CLASS_UINT32:
      json_builder_add_int_value (b, g_variant_get_uint32 (v));
      return;
    case G_VARIANT_CLASS_INT64:
      json_builder_add_int_value (b, g_variant_get_int64 (v));
      return;
    case G_VARIANT_CLASS_UINT64:
      add_uint64 (b, g_variant_get_uint64 (v));
      return;
    case G_VARIANT_CLASS_DOUBLE:
      /* JSON has no NaN or infinity. */
      if (isfinite (g_variant_get_double (v)))
        json_builder_add_double_value (b, g_variant_get_double (v));
      else
        json_builder_add_null_value (b);
      return;
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      json_builder_add_string_value (b, g_variant_get_string (v, NULL));
      return;
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (v);

        add_value (b, inner);
        return;
      }
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr(GVariant) inner = g_variant_get_maybe (v);

        if (inner)
          add_value (b, inner);
        else
          json_builder_add_null_value (b);
        return;
      }
    case G_VARIANT_CLASS_ARRAY:
      if (is_object (v))
        {
          const char *key;
          GVariant *value;

          json_builder_begin_object (b);
          g_variant_iter_init (&iter, v);
          while (g_variant_iter_next (&iter, "{&s@*}", &key, &value))
            {
              json_builder_set_member_name (b, key);
              add_value (b, value);
              g_variant_unref (value);
            }
          json_builder_end_object (b);
          return;
        }
      G_GNUC_FALLTHROUGH;
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
      json_builder_begin_array (b);
      g_variant_iter_init (&iter, v);
      while ((child = g_variant_iter_next_value (&iter)))
        {
          add_value (b, child);
          g_variant_unref (child);
        }
      json_builder_end_array (b);
      return;
    case G_VARIANT_CLASS_HANDLE:
    default:
      json_builder_add_null_value (b);
      return;
    }
}

char *
ddr_admin_json_string (GVariant *v)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) wrapper = NULL;
  g_autoptr(JsonNode) root = NULL;

  /* json-glib 1.6's builder takes values only inside a container, so a scalar is
   * built as the one element of an array and taken out of it. */
  json_builder_begin_array (b);
  add_value (b, v);
  json_builder_end_array (b);
  wrapper = json_builder_get_root (b);
  root = json_array_dup_element (json_node_get_array (wrapper), 0);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}
