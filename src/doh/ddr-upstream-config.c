/* Upstream configuration: validation, with messages that name the bad value. */
#define G_LOG_DOMAIN "ddr-upstream"

#include "config.h"

#include "ddr-upstream-pool-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TIMEOUT_MS    600000

static gboolean
check_ca_file (const char *path, GError **error)
{
  struct stat st;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  int saved;

  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "ca-file \"%s\": %s", path, g_strerror (saved));
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "ca-file \"%s\": not a regular file", path);
      return FALSE;
    }
  close (fd);
  return TRUE;
}


/* "[::1]" is accepted as well as "::1"; returns the bare literal or NULL. */
char *
ddr_upstream_parse_ip_literal (const char *text)
{
  g_autofree char *bare = NULL;
  g_autoptr(GInetAddress) addr = NULL;
  size_t n = strlen (text);

  bare = n >= 2 && text[0] == '[' && text[n - 1] == ']' ? g_strndup (text + 1, n - 2)
                                                         : g_strdup (text);
  addr = g_inet_address_new_from_string (bare);
  return addr ? g_inet_address_to_string (addr) : NULL;
}

GPtrArray *
ddr_upstream_config_check (const DdrUpstreamConfig *config, GError **error)
{
  g_autoptr(GPtrArray) ips = g_ptr_array_new_with_free_func (g_free);
  guint n_urls;

  n_urls = config->urls ? g_strv_length (config->urls) : 0;
  if (n_urls == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "url: none given: expected https://host[:port]/path");
      return NULL;
    }
  if (n_urls > MAX_UPSTREAMS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "url: %u upstreams given, at most %u are supported", n_urls, MAX_UPSTREAMS);
      return NULL;
    }
  if (config->timeout_ms == 0 || config->timeout_ms > MAX_TIMEOUT_MS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "timeout-ms %u is out of range: expected 1 to %u",
                   config->timeout_ms, MAX_TIMEOUT_MS);
      return NULL;
    }
  if (config->method != DDR_DOH_METHOD_POST && config->method != DDR_DOH_METHOD_GET)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "method %d is not valid: expected get or post", (int) config->method);
      return NULL;
    }
  for (guint i = 0; config->bootstrap && config->bootstrap[i]; i++)
    {
      char *ip = ddr_upstream_parse_ip_literal (config->bootstrap[i]);

      if (!ip)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "bootstrap \"%s\" is not an IP address", config->bootstrap[i]);
          return NULL;
        }
      g_ptr_array_add (ips, ip);
    }
  g_ptr_array_add (ips, NULL);
  if (config->ca_file && *config->ca_file && !check_ca_file (config->ca_file, error))
    return NULL;
  return g_steal_pointer (&ips);
}
