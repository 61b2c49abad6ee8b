/* Judges a captive-portal probe's HTTP/1.x response: status, Location, body length. Pure code. */
#define G_LOG_DOMAIN "ddr-portal-probe"

#include "ddr-portal-response.h"
#include "ddr-portal-url.h"

#include <string.h>

typedef struct
{
  DdrPortalResult result;
  char           *portal_url;
  char           *detail;
} Judgement;

/* The blank line that ends the headers (CRLF, or bare LF from sloppy servers). */
static gboolean
find_header_end (const char *buf, gsize len, gsize *body_at)
{
  for (gsize i = 0; i + 1 < len; i++)
    {
      if (buf[i] == '\n' && buf[i + 1] == '\n')
        {
          *body_at = i + 2;
          return TRUE;
        }
      if (i + 3 < len && memcmp (buf + i, "\r\n\r\n", 4) == 0)
        {
          *body_at = i + 4;
          return TRUE;
        }
    }
  return FALSE;
}

/* "HTTP/1.x NNN ..." -> NNN, or 0. */
static guint
parse_status_line (const char *line)
{
  if (!g_str_has_prefix (line, "HTTP/1.") || !g_ascii_isdigit (line[7]) || line[8] != ' ')
    return 0;
  for (int i = 9; i < 12; i++)
    if (!g_ascii_isdigit (line[i]))
      return 0;
  if (line[12] != '\0' && line[12] != ' ' && line[12] != '\r')
    return 0;
  return (guint) ((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
}

typedef struct
{
  guint    status;
  char    *location;
  gint64   content_length;  /* -1: none */
  gboolean chunked;
} Head;

/* FALSE when the header block is not HTTP. */
static gboolean
parse_head (const char *block, Head *head)
{
  g_auto(GStrv) lines = g_strsplit (block, "\n", -1);

  head->content_length = -1;
  g_strchomp (lines[0]);
  head->status = parse_status_line (lines[0]);
  if (head->status < 100)
    return FALSE;
  for (guint i = 1; lines[i] != NULL; i++)
    {
      char *colon = strchr (lines[i], ':');
      char *value;

      if (colon == NULL)
        continue;
      *colon = '\0';
      value = g_strstrip (colon + 1);
      g_strstrip (lines[i]);
      if (g_ascii_strcasecmp (lines[i], "Location") == 0 && head->location == NULL)
        head->location = g_strdup (value);
      else if (g_ascii_strcasecmp (lines[i], "Content-Length") == 0)
        {
          guint64 n;

          if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT64, &n, NULL))
            return FALSE;
          head->content_length = (gint64) n;
        }
      else if (g_ascii_strcasecmp (lines[i], "Transfer-Encoding") == 0)
        head->chunked = g_ascii_strcasecmp (value, "chunked") == 0;
    }
  return TRUE;
}

static void
verdict (Judgement *j, DdrPortalResult result, char *portal_url, char *detail)
{
  j->result = result;
  j->portal_url = portal_url;
  j->detail = detail;
}

static void
verdict_redirect (Judgement *j, const char *url, const Head *head)
{
  const char *why = NULL;
  char *target;

  if (head->location == NULL || *head->location == '\0')
    {
      verdict (j, DDR_PORTAL_DETECTED, NULL,
               g_strdup_printf ("HTTP %u without a Location header", head->status));
      return;
    }
  target = ddr_portal_url_check (url, head->location, strlen (head->location), &why);
  if (target == NULL)
    {
      /* "" = the portal named an address that must not be published */
      verdict (j, DDR_PORTAL_DETECTED, g_strdup (""),
               g_strdup_printf ("HTTP %u to an unusable Location (%s)", head->status, why));
      return;
    }
  verdict (j, DDR_PORTAL_DETECTED, target, g_strdup_printf ("redirected to %s", target));
}

/* A 200 is CLEAR only with an empty body. TRUE when decided. */
static gboolean
verdict_200 (Judgement *j, const Head *head, const char *body, gsize body_len,
             gboolean eof, gboolean full)
{
  if (head->chunked)
    {
      const char *nl = memchr (body, '\n', body_len);
      guint64 size;
      g_autofree char *line = NULL;

      if (nl == NULL)
        {
          if (!eof && !full)
            return FALSE;
          verdict (j, DDR_PORTAL_UNKNOWN, NULL,
                   g_strdup ("HTTP 200 with a truncated chunked body"));
          return TRUE;
        }
      line = g_strndup (body, nl - body);
      g_strstrip (line);
      if (strchr (line, ';') != NULL)
        *strchr (line, ';') = '\0';
      if (!g_ascii_string_to_unsigned (line, 16, 0, G_MAXUINT32, &size, NULL))
        verdict (j, DDR_PORTAL_UNKNOWN, NULL,
                 g_strdup ("HTTP 200 with a malformed chunked body"));
      else if (size == 0)
        verdict (j, DDR_PORTAL_CLEAR, NULL, g_strdup ("HTTP 200 with an empty body"));
      else
        verdict (j, DDR_PORTAL_DETECTED, NULL, g_strdup ("HTTP 200 with a non-empty chunked body"));
      return TRUE;
    }
  if (head->content_length == 0 || (head->content_length < 0 && eof && body_len == 0))
    verdict (j, DDR_PORTAL_CLEAR, NULL, g_strdup ("HTTP 200 with an empty body"));
  else if (head->content_length > 0)
    verdict (j, DDR_PORTAL_DETECTED, NULL,
             g_strdup_printf ("HTTP 200 with a %" G_GINT64_FORMAT "-byte body",
                              head->content_length));
  else if (eof)
    verdict (j, DDR_PORTAL_DETECTED, NULL,
             g_strdup_printf ("HTTP 200 with a %" G_GSIZE_FORMAT "-byte body", body_len));
  else if (full)
    verdict (j, DDR_PORTAL_DETECTED, NULL,
             g_strdup_printf ("HTTP 200 with a body of more than %" G_GSIZE_FORMAT " bytes",
                              body_len));
  else
    return FALSE;
  return TRUE;
}

gboolean
ddr_portal_judge_response (const char       *url,
                           const guint8     *data,
                           gsize             len,
                           gboolean          eof,
                           DdrPortalResult  *result,
                           char            **portal_url,
                           char            **detail)
{
  const char *buf = (const char *) data;
  gsize body_at = 0;
  gboolean full = len >= DDR_PORTAL_MAX_RESPONSE;
  g_autofree char *block = NULL;
  Head head = { 0 };
  Judgement j = { DDR_PORTAL_UNKNOWN, NULL, NULL };
  gboolean decided = TRUE;

  if (len >= 5 && memcmp (buf, "HTTP/", 5) != 0)
    verdict (&j, DDR_PORTAL_UNKNOWN, NULL, g_strdup ("the answer is not an HTTP response"));
  else if (!find_header_end (buf, len, &body_at))
    {
      if (full)
        verdict (&j, DDR_PORTAL_UNKNOWN, NULL,
                 g_strdup_printf ("response headers longer than %d bytes",
                                  DDR_PORTAL_MAX_RESPONSE));
      else if (eof)
        verdict (&j, DDR_PORTAL_UNKNOWN, NULL,
                 g_strdup (len == 0 ? "the server closed the connection without an answer"
                                    : "the server closed the connection in the middle of "
                                      "the response headers"));
      else
        decided = FALSE;
    }
  else if (strnlen (buf, body_at) != body_at                /* a NUL in the headers */
           || !parse_head ((block = g_strndup (buf, body_at)), &head))
    verdict (&j, DDR_PORTAL_UNKNOWN, NULL, g_strdup ("malformed HTTP response headers"));
  else if (head.status >= 300 && head.status < 400)
    verdict_redirect (&j, url, &head);
  else if (head.status == 204)
    verdict (&j, DDR_PORTAL_CLEAR, NULL, g_strdup ("HTTP 204"));
  else if (head.status == 200)
    decided = verdict_200 (&j, &head, buf + body_at, len - body_at, eof, full);
  else
    verdict (&j, DDR_PORTAL_DETECTED, NULL,
             g_strdup_printf ("HTTP %u instead of 204", head.status));
  g_free (head.location);
  if (!decided)
    return FALSE;
  *result = j.result;
  *portal_url = j.portal_url;
  *detail = j.detail;
  return TRUE;
}
