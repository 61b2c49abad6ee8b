/* Access control list: CIDR entries parsed once, matched per packet without allocating. */
#define G_LOG_DOMAIN "ddr-acl"

#include "ddr-acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

G_DEFINE_QUARK (ddr-acl-error-quark, ddr_acl_error)

/* The network and mask are kept pre-masked, in network byte order, as the
 * widest integers the family allows, so a match is one or two AND+compare. */
typedef struct {
  int     family;        /* AF_INET or AF_INET6 */
  guint8  prefix;
  union {
    guint32 v4;          /* network byte order */
    guint64 v6[2];       /* the 16 address bytes, as two words in memory order */
  } net, mask;
} DdrAclEntry;

struct _DdrAcl {
  guint       n_entries;
  DdrAclEntry entries[];
};

static gboolean
parse_prefix (const char *text, guint max, guint *out)
{
  guint64 value = 0;

  /* Digits only: g_ascii_string_to_unsigned would accept "+8" and " 8". */
  if (*text == '\0' || strlen (text) > 3)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    {
      if (!g_ascii_isdigit (*p))
        return FALSE;
      value = value * 10 + (guint64) (*p - '0');
    }
  if (value > max)
    return FALSE;
  *out = (guint) value;
  return TRUE;
}

/* Build a byte mask with the first `prefix` bits set. */
static void
prefix_to_mask (guint prefix, guint8 *mask, gsize len)
{
  for (gsize i = 0; i < len; i++)
    {
      if (prefix >= 8)
        {
          mask[i] = 0xff;
          prefix -= 8;
        }
      else
        {
          mask[i] = (guint8) (0xff00 >> prefix);
          prefix = 0;
        }
    }
}

static gboolean
parse_entry (const char *entry, DdrAclEntry *out)
{
  g_autofree char *text = g_strstrip (g_strdup (entry));
  char *slash = strchr (text, '/');
  guint8 addr[16], mask[16];
  gsize len;
  guint prefix;

  if (slash != NULL)
    *slash = '\0';

  if (inet_pton (AF_INET, text, addr) == 1)
    {
      out->family = AF_INET;
      len = 4;
    }
  else if (inet_pton (AF_INET6, text, addr) == 1)
    {
      out->family = AF_INET6;
      len = 16;
    }
  else
    return FALSE;

  if (slash == NULL)
    prefix = (guint) len * 8;
  else if (!parse_prefix (slash + 1, (guint) len * 8, &prefix))
    return FALSE;

  /* Host bits set ("10.1.2.3/8") are accepted and dropped, as ip(8) does. */
  prefix_to_mask (prefix, mask, len);
  for (gsize i = 0; i < len; i++)
    addr[i] &= mask[i];

  out->prefix = (guint8) prefix;
  if (out->family == AF_INET)
    {
      memcpy (&out->net.v4, addr, 4);
      memcpy (&out->mask.v4, mask, 4);
    }
  else
    {
      memcpy (out->net.v6, addr, 16);
      memcpy (out->mask.v6, mask, 16);
    }
  return TRUE;
}

/* An empty (or NULL) list gives an ACL that allows nobody; the caller chooses
 * the default list, not this parser. */
DdrAcl *
ddr_acl_new_from_strv (const char * const *entries, GError **error)
{
  guint n = entries != NULL ? g_strv_length ((char **) entries) : 0;
  g_autofree DdrAcl *acl = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  acl = g_malloc0 (sizeof (DdrAcl) + n * sizeof (DdrAclEntry));
  acl->n_entries = n;

  for (guint i = 0; i < n; i++)
    {
      if (!parse_entry (entries[i], &acl->entries[i]))
        {
          g_set_error (error, DDR_ACL_ERROR, 0,
                       "invalid ACL entry \"%s\": expected an address or CIDR "
                       "such as 192.168.1.0/24 or fd00::/8", entries[i]);
          return NULL;
        }
    }

  return g_steal_pointer (&acl);
}

void
ddr_acl_free (DdrAcl *acl)
{
  g_free (acl);
}

static gboolean
match_v4 (const DdrAcl *acl, guint32 addr)
{
  for (guint i = 0; i < acl->n_entries; i++)
    {
      const DdrAclEntry *e = &acl->entries[i];

      if (e->family == AF_INET && (addr & e->mask.v4) == e->net.v4)
        return TRUE;
    }
  return FALSE;
}

static gboolean
match_v6 (const DdrAcl *acl, const guint8 bytes[16])
{
  guint64 addr[2];

  memcpy (addr, bytes, 16);
  for (guint i = 0; i < acl->n_entries; i++)
    {
      const DdrAclEntry *e = &acl->entries[i];

      if (e->family == AF_INET6 &&
          (addr[0] & e->mask.v6[0]) == e->net.v6[0] &&
          (addr[1] & e->mask.v6[1]) == e->net.v6[1])
        return TRUE;
    }
  return FALSE;
}

/* Called for every packet: no allocation, no logging. */
gboolean
ddr_acl_allows (const DdrAcl *acl, const struct sockaddr *sa, socklen_t salen)
{
  g_return_val_if_fail (acl != NULL, FALSE);

  if (sa == NULL)
    return FALSE;

  if (sa->sa_family == AF_INET && salen >= (socklen_t) sizeof (struct sockaddr_in))
    {
      const struct sockaddr_in *sin = (const struct sockaddr_in *) sa;

      return match_v4 (acl, sin->sin_addr.s_addr);
    }

  if (sa->sa_family == AF_INET6 && salen >= (socklen_t) sizeof (struct sockaddr_in6))
    {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) sa;
      const guint8 *bytes = sin6->sin6_addr.s6_addr;

      /* A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; they are
       * IPv4 clients and the IPv4 entries apply. IPv6 entries still see the
       * raw address, so "::ffff:0:0/96" also works. */
      if (IN6_IS_ADDR_V4MAPPED (&sin6->sin6_addr))
        {
          guint32 v4;

          memcpy (&v4, bytes + 12, 4);
          if (match_v4 (acl, v4))
            return TRUE;
        }
      return match_v6 (acl, bytes);
    }

  return FALSE;
}

char *
ddr_acl_entry_to_string (const DdrAcl *acl, guint i)
{
  char buf[INET6_ADDRSTRLEN];
  const DdrAclEntry *e;

  g_return_val_if_fail (acl != NULL, NULL);

  if (i >= acl->n_entries)
    return NULL;

  e = &acl->entries[i];
  if (inet_ntop (e->family, e->family == AF_INET ? (const void *) &e->net.v4
                                                 : (const void *) e->net.v6,
                 buf, sizeof buf) == NULL)
    return NULL;

  return g_strdup_printf ("%s/%u", buf, e->prefix);
}

guint
ddr_acl_n_entries (const DdrAcl *acl)
{
  g_return_val_if_fail (acl != NULL, 0);

  return acl->n_entries;
}
