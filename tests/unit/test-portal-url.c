/* Unit tests for the portal address gate (ddr-portal-url.c): the nastiest inputs first. */
#include "ddr-portal-url.h"

#include <string.h>

#define PROBE_URL "http://portal.test/generate_204"

/* Refused, with a reason, whatever the length says. */
static void
assert_refused_len (const char *raw, gsize len)
{
  const char *why = NULL;
  g_autofree char *out = ddr_portal_url_check (PROBE_URL, raw, len, &why);

  if (out != NULL)
    g_error ("accepted %s", out);
  g_assert_nonnull (why);
}

static void
assert_refused (const char *raw)
{
  assert_refused_len (raw, strlen (raw));
}

static void
assert_accepted (const char *raw, const char *expected)
{
  const char *why = NULL;
  g_autofree char *out = ddr_portal_url_check (PROBE_URL, raw, strlen (raw), &why);

  if (out == NULL)
    g_error ("refused %s: %s", raw, why);
  g_assert_null (why);
  g_assert_cmpstr (out, ==, expected);
  g_assert_true (g_utf8_validate (out, -1, NULL));
}

static void
test_script_schemes (void)
{
  assert_refused ("javascript:alert(document.cookie)");
  assert_refused ("JavaScript:alert(1)//http://login.example/");
  assert_refused ("javascript://login.example/%0aalert(1)");
  assert_refused ("data:text/html,<script>alert(1)</script>");
  assert_refused ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==");
  assert_refused ("vbscript:msgbox(1)");
}

static void
test_huge (void)
{
  g_autoptr(GString) url = g_string_new ("http://login.example/");
  const char *why = NULL;
  char *out;

  while (url->len < 60 * 1024)
    g_string_append_c (url, 'a');
  assert_refused_len (url->str, url->len);

  /* the limit is on bytes, exactly */
  g_string_truncate (url, DDR_PORTAL_URL_MAX + 1);
  assert_refused_len (url->str, url->len);
  g_string_truncate (url, DDR_PORTAL_URL_MAX);
  out = ddr_portal_url_check (PROBE_URL, url->str, url->len, &why);
  g_assert_nonnull (out);
  g_assert_cmpuint (strlen (out), ==, DDR_PORTAL_URL_MAX);
  g_free (out);
}

static void
test_other_schemes (void)
{
  assert_refused ("file:///etc/shadow");
  assert_refused ("file://login.example/etc/passwd");
  assert_refused ("smb://evil.example/share");
  assert_refused ("ftp://login.example/");
  assert_refused ("ssh://login.example/");
  assert_refused ("steam://run/1");
  assert_refused ("ms-settings:network");
  assert_refused ("x-custom-handler://login.example/");
  assert_refused ("httpx://login.example/");
  assert_refused ("ws://login.example/");
}

static void
test_invalid_utf8 (void)
{
  assert_refused ("http://login.example/\xff\xfe");
  assert_refused ("http://login.\xc3.example/");
  assert_refused ("http://login.example/\xc0\xaf");         /* overlong '/' */
  assert_refused ("http://login.example/\xed\xa0\x80");     /* a UTF-16 surrogate */
  assert_refused ("http://login.example/\xf4\x90\x80\x80"); /* beyond U+10FFFF */
}

static void
test_control_characters (void)
{
  assert_refused ("http://login.example/\x1b[2J\x1b[31mPWNED");
  assert_refused ("http://login.example/\r\nSet-Cookie: a=b");
  assert_refused ("http://login.example/\n");
  assert_refused ("http://login.example/\t");
  assert_refused ("http://login.example/\x7f");
  assert_refused ("http://login.example/\xc2\x9b" "2J");    /* C1 CSI */
  /* bidi override: shows "http://login.example/gpj.exe" reversed */
  assert_refused ("http://evil.example/\xe2\x80\xae" "exe.jpg");
  assert_refused ("http://evil\xe2\x80\x8b.example/");      /* zero-width space */
  assert_refused ("http://login.example/\xe2\x80\xa8");     /* line separator */
}

static void
test_nul (void)
{
  static const char with_nul[] = "http://login.example/\0javascript:alert(1)";

  assert_refused_len (with_nul, sizeof with_nul - 1);
  assert_refused_len ("\0", 1);
  assert_refused_len ("http://a\0b/", 11);
}

static void
test_no_host (void)
{
  assert_refused ("http:///x");
  assert_refused ("http://");
  assert_refused ("https:///");
  assert_refused ("https:login.example");   /* another scheme: no authority inherited */
  assert_refused ("");
  assert_refused_len (NULL, 0);
}

static void
test_userinfo_tricks (void)
{
  assert_refused ("http://bank.example@evil.example/");
  assert_refused ("http://bank.example:443@evil.example/");
  assert_refused ("https://user:pass@login.example/");
  assert_refused ("http://bank.example\\@evil.example/");
  assert_refused ("http://login.example /");
  assert_refused ("http://login.example/\"><script>");
  assert_refused ("http://login.example:99999/");
  assert_refused ("http://login.example/%zz");
}

static void
test_accepted (void)
{
  assert_accepted ("http://login.portal.test/", "http://login.portal.test/");
  assert_accepted ("https://login.example:8443/auth?next=http%3A%2F%2Fa%2F&x=1#top",
                   "https://login.example:8443/auth?next=http%3A%2F%2Fa%2F&x=1#top");
  assert_accepted ("HTTP://Login.Example/", "http://Login.Example/");
  assert_accepted ("http://192.0.2.1/login", "http://192.0.2.1/login");
  assert_accepted ("http://[2001:db8::1]:8080/", "http://[2001:db8::1]:8080/");
  assert_accepted ("http://login.example", "http://login.example");
  /* relative to the probe URL, as HTTP allows */
  assert_accepted ("/login?x=1", "http://portal.test/login?x=1");
  assert_accepted ("login", "http://portal.test/login");
  assert_accepted ("//login.example/", "http://login.example/");
  /* non-ASCII text that is neither a control nor a format character: sent percent-encoded */
  assert_accepted ("http://login.example/caf\xc3\xa9", "http://login.example/caf%C3%A9");
}

/* The probe host's answers from a hostile DNS: nothing of this machine or its link. */
static void
test_refused_addresses (void)
{
  static const struct { const char *text, *kind; } cases[] = {
    { "127.0.0.1", "loopback" }, { "127.255.0.9", "loopback" }, { "::1", "loopback" },
    { "::ffff:127.0.0.1", "loopback" }, { "0.0.0.0", "unspecified" }, { "::", "unspecified" },
    { "0.1.2.3", "unspecified" }, { "169.254.1.1", "link-local" }, { "fe80::1", "link-local" },
    { "224.0.0.251", "multicast" }, { "ff02::1", "multicast" }, { "not-an-ip", "not an address" },
    { "", "not an address" },
    { "203.0.113.3", NULL }, { "192.168.1.1", NULL }, { "2001:db8::1", NULL },
    { "::ffff:203.0.113.3", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpstr (ddr_portal_address_refused (cases[i].text), ==, cases[i].kind);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/portal-url/script-schemes", test_script_schemes);
  g_test_add_func ("/portal-url/huge", test_huge);
  g_test_add_func ("/portal-url/other-schemes", test_other_schemes);
  g_test_add_func ("/portal-url/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/portal-url/control-characters", test_control_characters);
  g_test_add_func ("/portal-url/nul", test_nul);
  g_test_add_func ("/portal-url/no-host", test_no_host);
  g_test_add_func ("/portal-url/userinfo-tricks", test_userinfo_tricks);
  g_test_add_func ("/portal-url/accepted", test_accepted);
  g_test_add_func ("/portal-url/refused-addresses", test_refused_addresses);
  return g_test_run ();
}
