/* Unit tests for the client ACL: parsing, canonical text, matching. */
#include "ddr-acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static DdrAcl *
acl_new (const char * const *entries)
{
  g_autoptr(GError) error = NULL;
  DdrAcl *acl = ddr_acl_new_from_strv (entries, &error);

  g_assert_no_error (error);
  g_assert_nonnull (acl);
  return acl;
}

/* Does the ACL allow this textual client address (v4 as AF_INET, v6 as AF_INET6)? */
static gboolean
allows (const DdrAcl *acl, const char *client)
{
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (53) };
  struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons (53) };

  if (inet_pton (AF_INET, client, &sin.sin_addr) == 1)
    return ddr_acl_allows (acl, (struct sockaddr *) &sin, sizeof sin);
  g_assert_cmpint (inet_pton (AF_INET6, client, &sin6.sin6_addr), ==, 1);
  return ddr_acl_allows (acl, (struct sockaddr *) &sin6, sizeof sin6);
}

static void
assert_entry (const DdrAcl *acl, guint i, const char *expected)
{
  g_autofree char *text = ddr_acl_entry_to_string (acl, i);

  g_assert_cmpstr (text, ==, expected);
}

static void
test_acl_ipv4 (void)
{
  const char * const entries[] = { "127.0.0.0/8", "192.168.1.0/24", "10.9.8.7", NULL };
  g_autoptr(DdrAcl) acl = acl_new (entries);

  g_assert_cmpuint (ddr_acl_n_entries (acl), ==, 3);
  assert_entry (acl, 0, "127.0.0.0/8");
  assert_entry (acl, 1, "192.168.1.0/24");
  assert_entry (acl, 2, "10.9.8.7/32");
  g_assert_null (ddr_acl_entry_to_string (acl, 3));

  g_assert_true (allows (acl, "127.0.0.1"));
  g_assert_true (allows (acl, "127.255.255.255"));
  g_assert_false (allows (acl, "128.0.0.1"));
  g_assert_true (allows (acl, "192.168.1.0"));
  g_assert_true (allows (acl, "192.168.1.255"));
  g_assert_false (allows (acl, "192.168.2.1"));
  g_assert_false (allows (acl, "192.168.0.255"));
  g_assert_true (allows (acl, "10.9.8.7"));
  g_assert_false (allows (acl, "10.9.8.6"));
  g_assert_false (allows (acl, "10.9.8.8"));
  /* IPv4 entries say nothing about native IPv6 clients. */
  g_assert_false (allows (acl, "::1"));
  g_assert_false (allows (acl, "::7f00:1"));
}

static void
test_acl_ipv6 (void)
{
  const char * const entries[] = { "::1", "fd00::/8", "2001:db8:1::/48", NULL };
  g_autoptr(DdrAcl) acl = acl_new (entries);

  assert_entry (acl, 0, "::1/128");
  assert_entry (acl, 1, "fd00::/8");
  assert_entry (acl, 2, "2001:db8:1::/48");

  g_assert_true (allows (acl, "::1"));
  g_assert_false (allows (acl, "::2"));
  g_assert_true (allows (acl, "fd12:3456::1"));
  g_assert_true (allows (acl, "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  g_assert_false (allows (acl, "fc00::1"));
  g_assert_false (allows (acl, "fe80::1"));
  g_assert_true (allows (acl, "2001:db8:1:ffff::1"));
  g_assert_false (allows (acl, "2001:db8:2::1"));
  g_assert_false (allows (acl, "127.0.0.1"));
}

static void
test_acl_mapped (void)
{
  const char * const entries[] = { "192.0.2.0/24", NULL };
  const char * const v6_entries[] = { "::ffff:0:0/96", NULL };
  g_autoptr(DdrAcl) acl = acl_new (entries);
  g_autoptr(DdrAcl) acl6 = acl_new (v6_entries);

  /* What a dual-stack socket reports for an IPv4 client. */
  g_assert_true (allows (acl, "::ffff:192.0.2.55"));
  g_assert_false (allows (acl, "::ffff:192.0.3.55"));
  /* Not mapped: the same low 32 bits elsewhere in v6 space do not count. */
  g_assert_false (allows (acl, "::192.0.2.55"));
  g_assert_false (allows (acl, "64:ff9b::192.0.2.55"));

  /* An IPv6 entry covering the mapped range sees the raw address. */
  g_assert_true (allows (acl6, "::ffff:192.0.2.55"));
  g_assert_false (allows (acl6, "192.0.2.55"));
}

static void
test_acl_zero_and_full (void)
{
  const char * const v4_all[] = { "0.0.0.0/0", NULL };
  const char * const v6_all[] = { "::/0", NULL };
  const char * const hosts[] = { "203.0.113.9/32", "2001:db8::9/128", NULL };
  g_autoptr(DdrAcl) a4 = acl_new (v4_all);
  g_autoptr(DdrAcl) a6 = acl_new (v6_all);
  g_autoptr(DdrAcl) ah = acl_new (hosts);

  assert_entry (a4, 0, "0.0.0.0/0");
  assert_entry (a6, 0, "::/0");
  g_assert_true (allows (a4, "1.2.3.4"));
  g_assert_true (allows (a4, "255.255.255.255"));
  g_assert_true (allows (a4, "::ffff:1.2.3.4"));
  g_assert_false (allows (a4, "2001:db8::1"));
  g_assert_true (allows (a6, "2001:db8::1"));
  g_assert_true (allows (a6, "::"));
  g_assert_false (allows (a6, "1.2.3.4"));

  g_assert_true (allows (ah, "203.0.113.9"));
  g_assert_false (allows (ah, "203.0.113.8"));
  g_assert_true (allows (ah, "2001:db8::9"));
  g_assert_false (allows (ah, "2001:db8::8"));
  g_assert_false (allows (ah, "2001:db8::1:9"));
}

static void
test_acl_host_bits (void)
{
  const char * const entries[] = { "10.1.2.3/8", "2001:db8::abcd/32", "172.16.255.255/12", NULL };
  g_autoptr(DdrAcl) acl = acl_new (entries);

  assert_entry (acl, 0, "10.0.0.0/8");
  assert_entry (acl, 1, "2001:db8::/32");
  assert_entry (acl, 2, "172.16.0.0/12");
  g_assert_true (allows (acl, "10.200.0.1"));
  g_assert_true (allows (acl, "2001:db8:ffff::1"));
  g_assert_true (allows (acl, "172.31.0.1"));
  g_assert_false (allows (acl, "172.32.0.1"));
}

static void
test_acl_odd_prefixes (void)
{
  const char * const entries[] = { "100.64.0.0/10", "2001:db8:8000::/33", NULL };
  g_autoptr(DdrAcl) acl = acl_new (entries);

  g_assert_true (allows (acl, "100.127.255.255"));
  g_assert_false (allows (acl, "100.128.0.0"));
  g_assert_false (allows (acl, "100.63.255.255"));
  g_assert_true (allows (acl, "2001:db8:8000::1"));
  g_assert_true (allows (acl, "2001:db8:ffff::1"));
  g_assert_false (allows (acl, "2001:db8:7fff::1"));
}

static void
test_acl_bad_entries (void)
{
  const char *bad[] = {
    "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/ 8",
    "10.0.0.0/8/8", "10.0.0.256", "10.0.0", "example.com", "", "/8",
    "fe80::1%eth0", "::1/0128", "1.2.3.4/1x", "1:2:3:4:5:6:7:8:9",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const char * const entries[] = { "127.0.0.1", bad[i], NULL };
      g_autoptr(GError) error = NULL;
      g_autoptr(DdrAcl) acl = ddr_acl_new_from_strv (entries, &error);
      g_autofree char *expected =
        g_strdup_printf ("invalid ACL entry \"%s\": expected an address or CIDR "
                         "such as 192.168.1.0/24 or fd00::/8", bad[i]);

      g_test_message ("entry %s", bad[i]);
      g_assert_null (acl);
      g_assert_error (error, DDR_ACL_ERROR, 0);
      g_assert_cmpstr (error->message, ==, expected);
    }
}

static void
test_acl_empty (void)
{
  const char * const none[] = { NULL };
  g_autoptr(DdrAcl) acl = acl_new (none);
  g_autoptr(DdrAcl) acl_null = acl_new (NULL);

  g_assert_cmpuint (ddr_acl_n_entries (acl), ==, 0);
  g_assert_cmpuint (ddr_acl_n_entries (acl_null), ==, 0);
  g_assert_false (allows (acl, "127.0.0.1"));
  g_assert_false (allows (acl_null, "::1"));
}

static void
test_acl_sockaddr_checks (void)
{
  const char * const entries[] = { "0.0.0.0/0", "::/0", NULL };
  g_autoptr(DdrAcl) acl = acl_new (entries);
  struct sockaddr_in sin = { .sin_family = AF_INET };
  struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
  struct sockaddr sun = { .sa_family = AF_UNIX };

  g_assert_true (ddr_acl_allows (acl, (struct sockaddr *) &sin, sizeof sin));
  g_assert_true (ddr_acl_allows (acl, (struct sockaddr *) &sin6, sizeof sin6));
  /* A short address or another family is never allowed. */
  g_assert_false (ddr_acl_allows (acl, (struct sockaddr *) &sin, sizeof sin - 1));
  g_assert_false (ddr_acl_allows (acl, (struct sockaddr *) &sin6, sizeof sin));
  g_assert_false (ddr_acl_allows (acl, &sun, sizeof sun));
  g_assert_false (ddr_acl_allows (acl, NULL, 0));
}

static void
test_acl_whitespace (void)
{
  const char * const entries[] = { " 192.0.2.0/24 ", "\tfd00::/8", NULL };
  g_autoptr(DdrAcl) acl = acl_new (entries);

  assert_entry (acl, 0, "192.0.2.0/24");
  assert_entry (acl, 1, "fd00::/8");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/acl/ipv4", test_acl_ipv4);
  g_test_add_func ("/acl/ipv6", test_acl_ipv6);
  g_test_add_func ("/acl/mapped", test_acl_mapped);
  g_test_add_func ("/acl/zero-and-full", test_acl_zero_and_full);
  g_test_add_func ("/acl/host-bits", test_acl_host_bits);
  g_test_add_func ("/acl/odd-prefixes", test_acl_odd_prefixes);
  g_test_add_func ("/acl/bad-entries", test_acl_bad_entries);
  g_test_add_func ("/acl/empty", test_acl_empty);
  g_test_add_func ("/acl/sockaddr-checks", test_acl_sockaddr_checks);
  g_test_add_func ("/acl/whitespace", test_acl_whitespace);

  return g_test_run ();
}
