/* ddr.conf: every key, its default, how it is validated and how errors name it. */
#define G_LOG_DOMAIN "ddr-config"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "ddr-config.h"
#include "ddr-acl.h"
#include "ddr-listen-address.h"

G_DEFINE_QUARK (ddr-config-error-quark, ddr_config_error)

typedef gboolean (*KeyParser) (DdrConfig *config, GKeyFile *kf, const char *group,
                               const char *key, GError **error);

typedef struct {
  const char *group;
  const char *key;
  KeyParser   parse;
} KeySpec;

/* "FILE: [group] key=VALUE: why" — one line that says where and what. */
static gboolean
invalid (GError **error, GKeyFile *kf, const char *group, const char *key,
         const char *why)
{
  g_autofree char *value = g_key_file_get_value (kf, group, key, NULL);
  g_set_error (error, DDR_CONFIG_ERROR, DDR_CONFIG_ERROR_INVALID,
               "[%s] %s=%s: %s", group, key, value ? value : "", why);
  return FALSE;
}

static char *
get_trimmed (GKeyFile *kf, const char *group, const char *key)
{
  g_autofree char *value = g_key_file_get_string (kf, group, key, NULL);

  return value ? g_strdup (g_strstrip (value)) : g_strdup ("");
}

/* A ';'-separated list, entries trimmed, empty entries dropped. */
static char **
get_list (GKeyFile *kf, const char *group, const char *key)
{
  g_auto(GStrv) raw = g_key_file_get_string_list (kf, group, key, NULL, NULL);
  g_autoptr(GStrvBuilder) out = g_strv_builder_new ();

  for (guint i = 0; raw && raw[i]; i++)
    {
      g_strstrip (raw[i]);
      if (raw[i][0])
        g_strv_builder_add (out, raw[i]);
    }
  return g_strv_builder_end (out);
}

static gboolean
get_uint (GKeyFile *kf, const char *group, const char *key, guint64 min, guint64 max,
          guint64 *out, GError **error)
{
  g_autofree char *value = get_trimmed (kf, group, key);
  g_autofree char *why = NULL;

  if (g_ascii_string_to_unsigned (value, 10, min, max, out, NULL))
    return TRUE;
  why = g_strdup_printf ("expected a whole number from %" G_GUINT64_FORMAT
                         " to %" G_GUINT64_FORMAT, min, max);
  return invalid (error, kf, group, key, why);
}

static gboolean
get_bool (GKeyFile *kf, const char *group, const char *key, gboolean *out, GError **error)
{
  g_autofree char *value = get_trimmed (kf, group, key);

  if (g_str_equal (value, "true") || g_str_equal (value, "yes") || g_str_equal (value, "1"))
    *out = TRUE;
  else if (g_str_equal (value, "false") || g_str_equal (value, "no") || g_str_equal (value, "0"))
    *out = FALSE;
  else
    return invalid (error, kf, group, key, "expected true or false");
  return TRUE;
}

static gboolean
get_choice (GKeyFile *kf, const char *group, const char *key, const char * const *choices,
            char **out, GError **error)
{
  g_autofree char *value = get_trimmed (kf, group, key);
  g_autofree char *list = NULL;
  g_autofree char *why = NULL;

  if (g_strv_contains (choices, value))
    {
      g_free (*out);
      *out = g_steal_pointer (&value);
      return TRUE;
    }
  list = g_strjoinv (", ", (char **) choices);
  why = g_strdup_printf ("expected one of: %s", list);
  return invalid (error, kf, group, key, why);
}

/* An https URL with a host, as RFC 8484 requires of a DoH URI template. */
static gboolean
check_https_url (const char *text, char **why)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GUri) uri = g_uri_parse (text, G_URI_FLAGS_NONE, &error);

  if (strchr (text, '{'))
    *why = g_strdup_printf ("\"%s\" is a URI template; give the plain URL, such as "
                            "https://host/dns-query (the {?dns} form is understood)", text);
  else if (!uri)
    *why = g_strdup_printf ("\"%s\" is not a valid URL (%s); expected https://host[:port]/path",
                            text, error->message);
  else if (g_strcmp0 (g_uri_get_scheme (uri), "https") != 0)
    *why = g_strdup_printf ("\"%s\" is not an https URL; expected https://host[:port]/path", text);
  else if (!g_uri_get_host (uri) || !*g_uri_get_host (uri))
    *why = g_strdup_printf ("\"%s\" has no host; expected https://host[:port]/path", text);
  else if (g_uri_get_userinfo (uri))
    *why = g_strdup_printf ("\"%s\" carries credentials; put no user:password in the URL", text);
  else
    return TRUE;
  return FALSE;
}

static gboolean
parse_url (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  g_auto(GStrv) urls = get_list (kf, group, key);

  for (guint i = 0; urls[i]; i++)
    {
      g_autofree char *why = NULL;

      /* RFC 8484 publishes endpoints as URI templates: accept the usual one. */
      if (g_str_has_suffix (urls[i], "{?dns}"))
        urls[i][strlen (urls[i]) - strlen ("{?dns}")] = '\0';
      if (!check_https_url (urls[i], &why))
        return invalid (error, kf, group, key, why);
    }
  g_strfreev (c->relay.upstream.urls);
  c->relay.upstream.urls = g_steal_pointer (&urls);
  return TRUE;
}

static gboolean
parse_bootstrap (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  g_auto(GStrv) addrs = get_list (kf, group, key);

  for (guint i = 0; addrs[i]; i++)
    {
      g_autoptr(GInetAddress) ip = g_inet_address_new_from_string (addrs[i]);
      if (!ip)
        {
          g_autofree char *why = g_strdup_printf (
            "\"%s\" is not an IP address; expected addresses such as 198.51.100.10;2001:db8::10",
            addrs[i]);
          return invalid (error, kf, group, key, why);
        }
    }
  g_strfreev (c->relay.upstream.bootstrap);
  c->relay.upstream.bootstrap = g_steal_pointer (&addrs);
  return TRUE;
}

static gboolean
parse_check_domain (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  g_autofree char *value = get_trimmed (kf, group, key);

  if (*value && (strlen (value) > 253 || strchr (value, ' ') || strstr (value, "..")))
    return invalid (error, kf, group, key, "expected a domain name such as check.example.com");
  g_free (c->relay.check_domain);
  c->relay.check_domain = *value ? g_steal_pointer (&value) : NULL;
  return TRUE;
}

static gboolean
parse_ca_file (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  g_autofree char *value = get_trimmed (kf, group, key);

  if (*value && g_access (value, R_OK) != 0)
    {
      g_autofree char *why = g_strdup_printf ("cannot read \"%s\": %s; expected a PEM CA bundle",
                                              value, g_strerror (errno));
      return invalid (error, kf, group, key, why);
    }
  g_free (c->relay.upstream.ca_file);
  c->relay.upstream.ca_file = *value ? g_steal_pointer (&value) : NULL;
  return TRUE;
}

static gboolean
parse_timeout (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  guint64 v;

  if (!get_uint (kf, group, key, 100, 60000, &v, error))
    return FALSE;
  c->relay.upstream.timeout_ms = (guint) v;
  return TRUE;
}

static gboolean
parse_method (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  g_autofree char *value = get_trimmed (kf, group, key);

  if (g_ascii_strcasecmp (value, "post") == 0)
    c->relay.upstream.method = DDR_DOH_METHOD_POST;
  else if (g_ascii_strcasecmp (value, "get") == 0 || !*value)
    c->relay.upstream.method = DDR_DOH_METHOD_GET;
  else
    return invalid (error, kf, group, key, "expected get or post");
  return TRUE;
}

static gboolean
parse_listen (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  g_auto(GStrv) addrs = get_list (kf, group, key);

  if (!addrs[0])
    return invalid (error, kf, group, key,
                    "expected at least one address such as 127.0.0.1:53;[::1]:53");
  for (guint i = 0; addrs[i]; i++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GInetSocketAddress) a = ddr_parse_listen_address (addrs[i], &local_error);
      if (!a)
        return invalid (error, kf, group, key, local_error->message);
    }
  g_strfreev (c->relay.listen);
  c->relay.listen = g_steal_pointer (&addrs);
  return TRUE;
}

static gboolean
parse_acl (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  g_auto(GStrv) entries = get_list (kf, group, key);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(DdrAcl) acl = NULL;

  if (!entries[0])
    return invalid (error, kf, group, key,
                    "expected at least one address or CIDR such as 127.0.0.0/8;::1/128");
  acl = ddr_acl_new_from_strv ((const char * const *) entries, &local_error);
  if (!acl)
    return invalid (error, kf, group, key, local_error->message);
  for (guint i = 0; entries[i]; i++)
    if (g_str_has_suffix (entries[i], "/0"))
      g_warning ("%s: [%s] %s includes %s: every address may query this relay "
                 "(an open resolver, usable for amplification attacks)",
                 c->path, group, key, entries[i]);
  g_strfreev (c->relay.acl);
  c->relay.acl = g_steal_pointer (&entries);
  return TRUE;
}

#define UINT_PARSER(name, field, min, max)                                              \
  static gboolean                                                                       \
  name (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error) \
  {                                                                                     \
    guint64 v;                                                                          \
    if (!get_uint (kf, group, key, min, max, &v, error))                                \
      return FALSE;                                                                     \
    c->relay.field = (guint) v;                                                         \
    return TRUE;                                                                        \
  }

UINT_PARSER (parse_cache_size, cache_size, 0, 10000000)
UINT_PARSER (parse_cache_min_ttl, cache_min_ttl, 0, 86400)
UINT_PARSER (parse_cache_max_ttl, cache_max_ttl, 1, 7 * 86400)
UINT_PARSER (parse_max_inflight, max_inflight, 1, 1000000)
UINT_PARSER (parse_tcp_idle, tcp_idle_timeout_ms, 100, 3600000)
UINT_PARSER (parse_tcp_clients, tcp_max_clients, 1, 65536)

static gboolean
parse_query_log (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  return get_bool (kf, group, key, &c->relay.query_log, error);
}

static gboolean
parse_roaming_enabled (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  static const char * const choices[] = { "auto", "true", "false", NULL };
  return get_choice (kf, group, key, choices, &c->roaming_enabled, error);
}

static gboolean
parse_dns_backend (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  static const char * const choices[] = { "auto", "networkmanager", "resolved", "resolv.conf", "none", NULL };
  return get_choice (kf, group, key, choices, &c->dns_backend, error);
}

static gboolean
parse_unreachable (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  static const char * const choices[] = { "fallback", "block", NULL };
  return get_choice (kf, group, key, choices, &c->on_service_unreachable, error);
}

static gboolean
parse_portal_url (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  g_autofree char *value = get_trimmed (kf, group, key);
  g_autoptr(GUri) uri = g_uri_parse (value, G_URI_FLAGS_NONE, NULL);

  if (!uri || g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 || !g_uri_get_host (uri))
    return invalid (error, kf, group, key,
                    "expected a plain http:// URL (a connectivity check such as http://connectivity-check.ubuntu.com/)");
  g_free (c->portal_probe_url);
  c->portal_probe_url = g_steal_pointer (&value);
  return TRUE;
}

static gboolean
parse_trusted (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  g_strfreev (c->trusted_networks);
  c->trusted_networks = get_list (kf, group, key);
  return TRUE;
}

static gboolean
parse_trust_protected (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  return get_bool (kf, group, key, &c->trust_protected_networks, error);
}

static gboolean
parse_local_domains (DdrConfig *c, GKeyFile *kf, const char *group, const char *key, GError **error)
{
  g_strfreev (c->local_domains);
  c->local_domains = get_list (kf, group, key);
  return TRUE;
}

static const KeySpec key_specs[] = {
  { "service", "url", parse_url },
  { "service", "bootstrap", parse_bootstrap },
  { "service", "check-domain", parse_check_domain },
  { "service", "ca-file", parse_ca_file },
  { "service", "timeout-ms", parse_timeout },
  { "service", "method", parse_method },
  { "relay", "listen", parse_listen },
  { "relay", "acl", parse_acl },
  { "relay", "cache-size", parse_cache_size },
  { "relay", "cache-min-ttl", parse_cache_min_ttl },
  { "relay", "cache-max-ttl", parse_cache_max_ttl },
  { "relay", "max-inflight", parse_max_inflight },
  { "relay", "query-log", parse_query_log },
  { "relay", "tcp-idle-timeout-ms", parse_tcp_idle },
  { "relay", "tcp-max-clients", parse_tcp_clients },
  { "roaming", "enabled", parse_roaming_enabled },
  { "roaming", "dns-backend", parse_dns_backend },
  { "roaming", "portal-probe-url", parse_portal_url },
  { "roaming", "trusted-networks", parse_trusted },
  { "roaming", "trust-protected-networks", parse_trust_protected },
  { "roaming", "local-domains", parse_local_domains },
  { "roaming", "on-service-unreachable", parse_unreachable },
};

/* "url, bootstrap, ..." — the keys of one group, for a warning about a typo. */
static char *
known_keys (const char *group)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (key_specs); i++)
    if (g_str_equal (key_specs[i].group, group))
      g_string_append_printf (out, "%s%s", out->len ? ", " : "", key_specs[i].key);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static const KeySpec *
find_spec (const char *group, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (key_specs); i++)
    if (g_str_equal (key_specs[i].group, group) && g_str_equal (key_specs[i].key, key))
      return &key_specs[i];
  return NULL;
}

static void
set_defaults (DdrConfig *c)
{
  static const char * const listen[] = { "127.0.0.1:53", "[::1]:53", NULL };
  static const char * const acl[] = { "127.0.0.0/8", "::1/128", NULL };

  c->relay.upstream.timeout_ms = 2500;
  c->relay.upstream.method = DDR_DOH_METHOD_GET;
  c->relay.listen = g_strdupv ((char **) listen);
  c->relay.acl = g_strdupv ((char **) acl);
  c->relay.cache_size = 10000;
  c->relay.cache_min_ttl = 0;
  c->relay.cache_max_ttl = 86400;
  c->relay.max_inflight = 10000;
  c->relay.tcp_idle_timeout_ms = 10000;
  c->relay.tcp_max_clients = 256;
  c->roaming_enabled = g_strdup ("auto");
  c->dns_backend = g_strdup ("auto");
  c->on_service_unreachable = g_strdup ("fallback");
  c->portal_probe_url = g_strdup ("http://connectivity-check.ubuntu.com/");
}

gboolean
ddr_config_roaming_listener (const DdrConfig *c)
{
  for (guint i = 0; c->relay.listen && c->relay.listen[i]; i++)
    {
      g_autoptr(GInetSocketAddress) sa = ddr_parse_listen_address (c->relay.listen[i], NULL);
      GInetAddress *ip = sa ? g_inet_socket_address_get_address (sa) : NULL;
      g_autofree char *text = ip ? g_inet_address_to_string (ip) : NULL;

      if (sa && g_inet_socket_address_get_port (sa) == 53 &&
          (g_strcmp0 (text, "127.0.0.1") == 0 || g_strcmp0 (text, "0.0.0.0") == 0))
        return TRUE;
    }
  return FALSE;
}

static gboolean
apply_keyfile (DdrConfig *c, GKeyFile *kf, GError **error)
{
  g_auto(GStrv) groups = g_key_file_get_groups (kf, NULL);

  for (guint g = 0; groups[g]; g++)
    {
      g_auto(GStrv) keys = g_key_file_get_keys (kf, groups[g], NULL, NULL);
      g_autofree char *known = known_keys (groups[g]);

      if (!*known)
        {
          g_warning ("%s: unknown group [%s] (ignored; the groups are [service], [relay] "
                     "and [roaming])", c->path, groups[g]);
          continue;
        }
      for (guint k = 0; keys && keys[k]; k++)
        {
          const KeySpec *spec = find_spec (groups[g], keys[k]);
          if (!spec)
            {
              g_warning ("%s: unknown key [%s] %s (ignored; the keys of [%s] are: %s)",
                         c->path, groups[g], keys[k], groups[g], known);
              continue;
            }
          if (!spec->parse (c, kf, groups[g], keys[k], error))
            return FALSE;
        }
    }

  if (!c->relay.upstream.urls || !c->relay.upstream.urls[0])
    {
      g_set_error (error, DDR_CONFIG_ERROR, DDR_CONFIG_ERROR_INVALID,
                   "[service] url is missing; expected url=https://host/dns-query");
      return FALSE;
    }
  /* Without a name that resolves only through the service, "the network answers
   * like the service" is true of every network (the DoH host's own name
   * answers the same everywhere). */
  if (c->trust_protected_networks && !c->relay.check_domain)
    return invalid (error, kf, "roaming", "trust-protected-networks",
                    "requires [service] check-domain (a name that resolves only through the "
                    "ThreatSTOP service)");
  if (g_str_equal (c->roaming_enabled, "true") && !ddr_config_roaming_listener (c))
    return invalid (error, kf, "roaming", "enabled",
                    "roaming points the system's DNS at 127.0.0.1 port 53, but [relay] listen "
                    "has no 127.0.0.1:53 (or 0.0.0.0:53); add 127.0.0.1:53 to listen, or set "
                    "enabled=false for a forwarder");
  if (c->relay.cache_min_ttl > c->relay.cache_max_ttl)
    {
      g_autofree char *why = g_strdup_printf ("must not exceed cache-max-ttl (%u)",
                                              c->relay.cache_max_ttl);
      return invalid (error, kf, "relay", "cache-min-ttl", why);
    }
  return TRUE;
}

/* What GKeyFile does not report: a key given twice (it keeps the last one
 * silently, so a second url= line would drop the first upstream) and bytes
 * that are not UTF-8 (it turns them into "missing" values). */
static gboolean
check_text (const char *text, GError **error)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *group = g_strdup ("");

  for (guint n = 0; lines[n]; n++)
    {
      char *line = g_strstrip (lines[n]);
      const char *eq;
      g_autofree char *id = NULL;
      gpointer first;

      if (!g_utf8_validate (line, -1, NULL))
        {
          g_set_error (error, DDR_CONFIG_ERROR, DDR_CONFIG_ERROR_PARSE,
                       "line %u is not valid UTF-8", n + 1);
          return FALSE;
        }
      if (line[0] == '[' && strchr (line, ']'))
        {
          g_free (group);
          group = g_strndup (line + 1, (gsize) (strchr (line, ']') - line - 1));
          continue;
        }
      if (line[0] == '#' || !(eq = strchr (line, '=')))
        continue;
      id = g_strdup_printf ("[%s] %.*s", group, (int) (eq - line), line);
      g_strchomp (id);
      if (g_hash_table_lookup_extended (seen, id, NULL, &first))
        {
          g_set_error (error, DDR_CONFIG_ERROR, DDR_CONFIG_ERROR_INVALID,
                       "line %u: %s is set twice (first on line %u); give several values "
                       "on one line, separated by ';'", n + 1, id, GPOINTER_TO_UINT (first));
          return FALSE;
        }
      g_hash_table_insert (seen, g_steal_pointer (&id), GUINT_TO_POINTER (n + 1));
    }
  return TRUE;
}

DdrConfig *
ddr_config_load (const char *path, const char *state_dir, GError **error)
{
  g_autoptr(DdrConfig) c = g_new0 (DdrConfig, 1);
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = NULL;

  c->path = g_strdup (path);
  set_defaults (c);
  c->relay.upstream.state_dir = g_strdup (state_dir);

  if (!g_file_get_contents (path, &text, NULL, &local_error) ||
      !check_text (text, &local_error) ||
      !g_key_file_load_from_data (kf, text, -1, G_KEY_FILE_NONE, &local_error))
    {
      int code = g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                 ? DDR_CONFIG_ERROR_NOT_FOUND : DDR_CONFIG_ERROR_PARSE;
      g_set_error (error, DDR_CONFIG_ERROR, code, "%s: %s", path, local_error->message);
      return NULL;
    }
  if (!apply_keyfile (c, kf, &local_error))
    {
      g_set_error (error, DDR_CONFIG_ERROR, local_error->code, "%s: %s", path,
                   local_error->message);
      return NULL;
    }
  return g_steal_pointer (&c);
}

void
ddr_config_free (DdrConfig *c)
{
  if (!c)
    return;
  ddr_relay_config_clear (&c->relay);
  g_free (c->path);
  g_free (c->roaming_enabled);
  g_free (c->dns_backend);
  g_free (c->portal_probe_url);
  g_strfreev (c->trusted_networks);
  g_strfreev (c->local_domains);
  g_free (c->on_service_unreachable);
  g_free (c);
}
