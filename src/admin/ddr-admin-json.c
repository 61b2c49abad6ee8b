/* GVariant to JSON for --json output (booleans, numbers, strings, arrays, a{sv}). Pure code. */
#include <math.h>

#include "ddr-admin-json.h"

static void
append_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) s; *p; p++)
    {
      switch (*p)
        {
        case '"':  g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (*p < 0x20 || *p == 0x7f)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_c (out, (char) *p);   /* UTF-8 passes through */
        }
    }
  g_string_append_c (out, '"');
}

static gboolean
is_object (GVariant *v)
{
  const GVariantType *t = g_variant_get_type (v);

  return g_variant_type_is_array (t)
         && g_variant_type_is_dict_entry (g_variant_type_element (t))
         && g_variant_type_equal (g_variant_type_key (g_variant_type_element (t)),
                                  G_VARIANT_TYPE_STRING);
}

void
ddr_admin_json_append (GString *out, GVariant *v)
{
  GVariantIter iter;
  GVariant *child;
  gboolean first = TRUE;

  switch (g_variant_classify (v))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      g_string_append (out, g_variant_get_boolean (v) ? "true" : "false");
      return;
    case G_VARIANT_CLASS_BYTE:
      g_string_append_printf (out, "%u", g_variant_get_byte (v));
      return;
    case G_VARIANT_CLASS_INT16:
      g_string_append_printf (out, "%d", g_variant_get_int16 (v));
      return;
    case G_VARIANT_CLASS_UINT16:
      g_string_append_printf (out, "%u", g_variant_get_uint16 (v));
      return;
    case G_VARIANT_CLASS_INT32:
      g_string_append_printf (out, "%d", g_variant_get_int32 (v));
      return;
    case G_VARIANT_CLASS_UINT32:
      g_string_append_printf (out, "%u", g_variant_get_uint32 (v));
      return;
    case G_VARIANT_CLASS_INT64:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, g_variant_get_int64 (v));
      return;
    case G_VARIANT_CLASS_UINT64:
      g_string_append_printf (out, "%" G_GUINT64_FORMAT, g_variant_get_uint64 (v));
      return;
    case G_VARIANT_CLASS_DOUBLE:
      {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        double d = g_variant_get_double (v);

        /* JSON has no NaN or infinity. */
        if (isfinite (d))
          g_string_append (out, g_ascii_dtostr (buf, sizeof buf, d));
        else
          g_string_append (out, "null");
        return;
      }
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      append_string (out, g_variant_get_string (v, NULL));
      return;
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (v);

        ddr_admin_json_append (out, inner);
        return;
      }
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr(GVariant) inner = g_variant_get_maybe (v);

        if (inner)
          ddr_admin_json_append (out, inner);
        else
          g_string_append (out, "null");
        return;
      }
    case G_VARIANT_CLASS_ARRAY:
      if (is_object (v))
        {
          const char *key;
          GVariant *value;

          g_string_append_c (out, '{');
          g_variant_iter_init (&iter, v);
          while (g_variant_iter_next (&iter, "{&s@*}", &key, &value))
            {
              if (!first)
                g_string_append (out, ", ");
              first = FALSE;
              append_string (out, key);
              g_string_append (out, ": ");
              ddr_admin_json_append (out, value);
              g_variant_unref (value);
            }
          g_string_append_c (out, '}');
          return;
        }
      G_GNUC_FALLTHROUGH;
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
      g_string_append_c (out, '[');
      g_variant_iter_init (&iter, v);
      while ((child = g_variant_iter_next_value (&iter)))
        {
          if (!first)
            g_string_append (out, ", ");
          first = FALSE;
          ddr_admin_json_append (out, child);
          g_variant_unref (child);
        }
      g_string_append_c (out, ']');
      return;
    case G_VARIANT_CLASS_HANDLE:
    default:
      g_string_append (out, "null");
      return;
    }
}

char *
ddr_admin_json_string (GVariant *v)
{
  GString *out = g_string_new (NULL);

  ddr_admin_json_append (out, v);
  return g_string_free (out, FALSE);
}
