/* Unit tests for install's pure parts: flag validation, the dnsdist configuration, install.state. */
#include "config.h"

#include <stdio.h>
#include <glib/gstdio.h>

#include "ddr-admin-conf.h"
#include "ddr-admin-dnsdist.h"
#include "ddr-admin-state.h"

static void
test_dnsdist_version (void)
{
  guint major = 0, minor = 0;

  g_assert_true (ddr_admin_dnsdist_parse_version (
    "dnsdist 1.7.3 (Lua 5.1.4 [LuaJIT 2.1.0-beta3])\nEnabled features: ...", &major, &minor));
  g_assert_cmpuint (major, ==, 1);
  g_assert_cmpuint (minor, ==, 7);
  g_assert_true (ddr_admin_dnsdist_parse_version ("dnsdist 1.10.0", &major, &minor));
  g_assert_cmpuint (minor, ==, 10);
  g_assert_false (ddr_admin_dnsdist_parse_version ("unbound 1.17.1", &major, &minor));
  g_assert_false (ddr_admin_dnsdist_parse_version ("dnsdist", &major, &minor));
  g_assert_false (ddr_admin_dnsdist_parse_version (NULL, &major, &minor));
}

static void
test_dnsdist_version_refused (void)
{
  g_autoptr(GError) error = NULL;

  g_setenv ("THREATSTOP_DDR_DNSDIST_VERSION", "dnsdist 1.6.1 (Lua 5.1.4)", TRUE);
  g_assert_false (ddr_admin_dnsdist_check_version (&error));
  g_assert_nonnull (strstr (error->message, "1.6"));
  g_clear_error (&error);
  g_setenv ("THREATSTOP_DDR_DNSDIST_VERSION", "dnsdist 1.8.0", TRUE);
  g_assert_true (ddr_admin_dnsdist_check_version (&error));
  g_unsetenv ("THREATSTOP_DDR_DNSDIST_VERSION");
}

static void
test_validate (void)
{
  char *listen[] = { "0.0.0.0:53", "[::1]", NULL };
  DdrInstallOptions o = { .listen = listen, .url = "https://doh.example:8443/q?x=1" };
  g_auto(DdrInstallConfig) c = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_true (ddr_admin_conf_validate (&o, &c, &error));
  g_assert_cmpstr (c.listen[0], ==, "0.0.0.0:53");
  g_assert_cmpstr (c.listen[1], ==, "[::1]:53");
  g_assert_true (c.wildcard_53);
  g_assert_true (c.default_acl);
  g_assert_cmpuint (g_strv_length (c.acl), ==, 6);
  g_assert_true (g_strv_contains ((const char *const *) c.acl, "fc00::/7"));
  g_assert_false (g_strv_contains ((const char *const *) c.acl, "0.0.0.0/0"));
}

static void
test_validate_loopback_and_errors (void)
{
  char *loop[] = { "127.0.0.1", NULL };
  char *bad_acl[] = { "10.0.0.0/8,300.1.1.1", NULL };
  DdrInstallOptions o = { .listen = loop, .url = "https://doh.example/dns-query" };
  g_auto(DdrInstallConfig) c = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_true (ddr_admin_conf_validate (&o, &c, &error));
  g_assert_false (c.default_acl);
  g_assert_false (c.wildcard_53);
  g_assert_cmpuint (g_strv_length (c.acl), ==, 2);
  ddr_admin_conf_clear (&c);

  o.acl = bad_acl;
  g_assert_false (ddr_admin_conf_validate (&o, &c, &error));
  g_assert_nonnull (strstr (error->message, "300.1.1.1"));
  ddr_admin_conf_clear (&c);
  g_clear_error (&error);

  o.acl = NULL;
  o.url = "https://doh.example:99999/";
  g_assert_false (ddr_admin_conf_validate (&o, &c, &error));
  g_assert_nonnull (strstr (error->message, "99999"));
}

static void
test_dnsdist_render (void)
{
  char *listen[] = { "127.0.0.1:5300", "[::1]:5300", NULL };
  char *addresses[] = { "192.0.2.1", "2001:db8::1", NULL };
  DdrInstallOptions o = { .listen = listen, .url = "https://doh.example:8443/dns-query?t=1",
                          .check_domain = "check.example" };
  g_auto(DdrInstallConfig) c = { 0 };
  g_autofree char *text = NULL;

  g_assert_true (ddr_admin_conf_validate (&o, &c, NULL));
  text = ddr_admin_dnsdist_render (&c, addresses, NULL);
  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, "setSecurityPollSuffix(\"\")"));
  g_assert_nonnull (strstr (text, "setLocal(\"127.0.0.1:5300\")\naddLocal(\"[::1]:5300\")"));
  g_assert_nonnull (strstr (text, "setACL({\"127.0.0.0/8\", \"::1/128\"})"));
  g_assert_nonnull (strstr (text, "address=\"192.0.2.1:8443\""));
  g_assert_nonnull (strstr (text, "address=\"[2001:db8::1]:8443\""));
  g_assert_nonnull (strstr (text, "subjectName=\"doh.example\""));
  g_assert_nonnull (strstr (text, "dohPath=\"/dns-query?t=1\""));
  g_assert_nonnull (strstr (text, "checkName=\"check.example.\""));
  g_assert_null (strstr (text, "caStore"));
}

/* The undo reports each step with g_print, which GTest's TAP output also uses. */
static void
to_stderr (const char *text)
{
  fputs (text, stderr);
}

static void
test_state_write_and_undo (void)
{
  g_autofree char *root = g_dir_make_tmp ("ddr-state-XXXXXX", NULL);
  g_autofree char *own = g_build_filename (root, "etc", "own.conf", NULL);
  g_autofree char *etc = g_build_filename (root, "etc", NULL);
  g_autofree char *text = NULL;
  g_autoptr(DdrInstallState) known = ddr_install_state_new (root);
  g_autoptr(DdrInstallState) run = ddr_install_state_new (root);
  g_autoptr(GError) error = NULL;
  GPrintFunc tap_print = g_set_print_handler (to_stderr);

  g_assert_cmpint (g_mkdir (etc, 0755), ==, 0);
  g_assert_true (g_file_set_contents (own, "before\n", -1, NULL));
  g_assert_true (ddr_install_state_write (run, known, "/etc/own.conf", "ours\n", -1, 0644,
                                          &error));
  g_assert_true (ddr_install_state_write (run, known, "/etc/new/dir/x.conf", "x", -1, 0600,
                                          &error));
  g_assert_true (ddr_install_state_has (run, "replaced", "/etc/own.conf"));
  g_assert_true (ddr_install_state_has (run, "created", "/etc/new/dir/x.conf"));
  g_assert_true (ddr_install_state_has (run, "dirs", "/etc/new/dir"));
  /* A second write of a file this install owns keeps it "created", not "replaced". */
  ddr_install_state_merge (known, run);
  g_assert_true (ddr_install_state_write (run, known, "/etc/new/dir/x.conf", "y", -1, 0600,
                                          &error));
  g_assert_false (ddr_install_state_has (known, "replaced", "/etc/new/dir/x.conf"));
  g_assert_true (ddr_install_state_undo_files (known, &error));
  g_assert_true (g_file_get_contents (own, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "before\n");
  g_assert_true (g_file_test (etc, G_FILE_TEST_IS_DIR));
  {
    g_autofree char *newdir = g_build_filename (root, "etc", "new", NULL);
    g_assert_false (g_file_test (newdir, G_FILE_TEST_EXISTS));
  }
  g_assert_true (ddr_install_state_remove_file (known, &error));
  g_unlink (own);
  g_rmdir (etc);
  {
    /* Only the sysconfdir's backup tree could be left; it is removed when empty. */
    g_autoptr(GDir) d = g_dir_open (root, 0, NULL);
    g_assert_null (g_dir_read_name (d));
  }
  g_rmdir (root);
  g_set_print_handler (tap_print);
}

/* A failed re-install puts back the files it rewrote with their mode: the
 * dispatcher script must keep its run bit (it used to come back 0644). */
static void
test_state_rollback_keeps_mode (void)
{
  g_autofree char *root = g_dir_make_tmp ("ddr-state-XXXXXX", NULL);
  g_autofree char *script = g_build_filename (root, "etc", "NetworkManager", "dispatcher.d",
                                              "90-threatstop-ddr", NULL);
  g_autoptr(DdrInstallState) known = ddr_install_state_new (root);
  g_autoptr(DdrInstallState) run = ddr_install_state_new (root);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  GPrintFunc tap_print = g_set_print_handler (to_stderr);
  const char *path = "/etc/NetworkManager/dispatcher.d/90-threatstop-ddr";
  GStatBuf st;

  g_assert_true (ddr_install_state_write (known, NULL, path, "#!/bin/sh\nold\n", -1, 0755,
                                          &error));
  g_assert_true (ddr_install_state_write (run, known, path, "#!/bin/sh\nnew\n", -1, 0755,
                                          &error));
  g_assert_true (ddr_install_state_rollback (run, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (script, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "#!/bin/sh\nold\n");
  g_assert_cmpint (g_stat (script, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0755);
  g_assert_true (ddr_install_state_undo_files (known, &error));
  g_set_print_handler (tap_print);
  g_assert_no_error (error);
}

static void
write_state (const char *root, const char *text)
{
  g_autofree char *path = g_build_filename (root, DDR_SYSCONFDIR, "install.state", NULL);
  g_autofree char *dir = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

/* install.state is trusted by uninstall to remove and restore files: only the paths
 * and units install writes are accepted, never "..", never another file. */
static void
test_state_load_refuses_foreign_entries (void)
{
  static const char *const bad[] = {
    "[install]\ncreated=/etc/passwd;\n",
    "[install]\ncreated=" DDR_SYSCONFDIR "/../../../etc/shadow;\n",
    "[install]\nreplaced=/etc/systemd/system/../../passwd;\n",
    "[install]\ncreated=etc/threatstop-ddr/ddr.conf;\n",
    "[install]\ndirs=/var/lib;\n",
    "[install]\ndirs=/etc/./x;\n",
    "[install]\nenabled=ssh.service;\n",
    "[install]\nrestart=../../x.service;\n",
    "[install]\ncreated=/etc/NetworkManager/dispatcher.d/99-evil;\n",
    "[install]\ncreated=/etc/systemd/resolved.conf.d/other.conf;\n",
    "[install]\nreplaced=/etc/systemd/resolved.conf.d/threatstop-ddr-llmnr.conf.d;\n",
  };
  g_autofree char *root = g_dir_make_tmp ("ddr-state-XXXXXX", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(DdrInstallState) state = NULL;
      gboolean existed = FALSE;

      write_state (root, bad[i]);
      state = ddr_install_state_load (root, &existed, &error);
      g_assert_null (state);
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, "install.state"));
    }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(DdrInstallState) state = NULL;
    gboolean existed = FALSE;

    write_state (root, "[install]\ncreated=" DDR_SYSCONFDIR "/ddr.conf;"
                 "/etc/systemd/system/threatstop-ddr.service;"
                 "/etc/NetworkManager/dispatcher.d/90-threatstop-ddr;\n"
                 "replaced=/etc/systemd/resolved.conf.d/threatstop-ddr.conf;"
                 "/etc/systemd/resolved.conf.d/threatstop-ddr-llmnr.conf;"
                 "/etc/dnsdist/dnsdist.conf;\n"
                 "dirs=/etc/systemd/resolved.conf.d;" DDR_SYSCONFDIR ";"
                 DDR_SYSCONFDIR "/backup;\n"
                 "enabled=threatstop-ddr.service;dnsdist.service;\n"
                 "restart=systemd-resolved.service;\nengine=ddr\n");
    state = ddr_install_state_load (root, &existed, &error);
    g_assert_no_error (error);
    g_assert_true (existed);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/admin-install/dnsdist-version", test_dnsdist_version);
  g_test_add_func ("/admin-install/dnsdist-version-refused", test_dnsdist_version_refused);
  g_test_add_func ("/admin-install/validate", test_validate);
  g_test_add_func ("/admin-install/validate-loopback-and-errors",
                   test_validate_loopback_and_errors);
  g_test_add_func ("/admin-install/dnsdist-render", test_dnsdist_render);
  g_test_add_func ("/admin-install/state-write-and-undo", test_state_write_and_undo);
  g_test_add_func ("/admin-install/state-rollback-keeps-mode", test_state_rollback_keeps_mode);
  g_test_add_func ("/admin-install/state-load-refuses-foreign-entries",
                   test_state_load_refuses_foreign_entries);
  return g_test_run ();
}
