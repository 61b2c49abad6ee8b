/* --json output: GVariant to JSON through json-glib. */
#include <math.h>

#include <glib.h>

#include "ddr-admin-json.h"

static void
check (GVariant *v, const char *expected)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink (v);
  g_autofree char *json = ddr_admin_json_string (owned);

  g_assert_cmpstr (json, ==, expected);
}

static void
test_scalars (void)
{
  check (g_variant_new_boolean (TRUE), "true");
  /* json-glib's integers are gint64: G_MAXUINT64 (PausedUntil "until Resume()") is
   * written as the largest one, never wrapped to -1 as json_gvariant_serialize does. */
  check (g_variant_new_uint64 (G_MAXUINT64), "9223372036854775807");
  check (g_variant_new_uint64 (G_MAXINT64), "9223372036854775807");
  check (g_variant_new_uint64 (1765000000), "1765000000");
  check (g_variant_new_uint32 (7), "7");
  check (g_variant_new_int32 (-3), "-3");
  check (g_variant_new_string ("a\"b\\c\n\x01\x7fé"), "\"a\\\"b\\\\c\\n\\u0001\\u007fé\"");
  check (g_variant_new_double (0.5), "0.5");
  check (g_variant_new_double (INFINITY), "null");
}

static void
test_containers (void)
{
  GVariantBuilder b, u;

  g_variant_builder_init (&u, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_builder_open (&u, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&u, "{sv}", "url", g_variant_new_string ("https://x/"));
  g_variant_builder_add (&u, "{sv}", "healthy", g_variant_new_boolean (FALSE));
  g_variant_builder_close (&u);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "state", g_variant_new_string ("forwarding"));
  g_variant_builder_add (&b, "{sv}", "upstreams", g_variant_builder_end (&u));
  g_variant_builder_add (&b, "{sv}", "listen", g_variant_new_strv (NULL, 0));
  check (g_variant_builder_end (&b),
         "{\"state\":\"forwarding\",\"upstreams\":[{\"url\":\"https://x/\","
         "\"healthy\":false}],\"listen\":[]}");
  check (g_variant_new_parsed ("(just 1, @mu nothing, <<true>>)"), "[1,null,true]");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/admin-json/scalars", test_scalars);
  g_test_add_func ("/admin-json/containers", test_containers);
  return g_test_run ();
}
