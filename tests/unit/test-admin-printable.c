/* Unit tests for ddr_admin_printable: the CLI shows the daemon's strings escaped. */
#include "ddr-admin-client.h"

static void
check (const char *in, const char *want)
{
  g_autofree char *out = ddr_admin_printable (in);

  g_assert_cmpstr (out, ==, want);
}

static void
test_controls (void)
{
  check ("Hotel\x1b[2J\x1b]0;owned\x07WiFi\r\nState: protected",
         "Hotel\\x1b[2J\\x1b]0;owned\\x07WiFi\\r\\nState: protected");
  check ("a\tb\x7f" "c\x01", "a\\tb\\x7fc\\x01");
  check ("C1 \xc2\x9b" "2J", "C1 \\u009b2J");
  check ("bidi \xe2\x80\xae" "gpj.exe", "bidi \\u202egpj.exe");
  check ("ls \xe2\x80\xa8" "x", "ls \\u2028x");
}

static void
test_invalid_utf8_and_backslash (void)
{
  check ("\xff\xfe ok", "\\xff\\xfe ok");
  check ("C:\\x1b", "C:\\\\x1b");   /* a literal backslash cannot pass for an escape */
}

static void
test_plain (void)
{
  check ("", "");
  check ("HotelWiFi", "HotelWiFi");
  check ("Caf\xc3\xa9 du Commerce", "Caf\xc3\xa9 du Commerce");
  check ("http://login.portal.test/?a=b&c=d", "http://login.portal.test/?a=b&c=d");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/admin-printable/controls", test_controls);
  g_test_add_func ("/admin-printable/invalid-utf8-and-backslash", test_invalid_utf8_and_backslash);
  g_test_add_func ("/admin-printable/plain", test_plain);
  return g_test_run ();
}
