/* A tiny DNS message builder for the unit tests: messages are written by hand so
 * each test says exactly which bytes it feeds the code under test. */
#pragma once

#include <glib.h>
#include <string.h>

#include "ddr-dns-wire.h"

/* The ID put_header writes; a test whose expectations hold another defines its own
 * before including this. */
#ifndef DNS_BUILDER_ID
#define DNS_BUILDER_ID 0x1234
#endif

typedef struct {
  guint8 buf[8192];
  gsize  len;
} Msg;

static inline void
put8 (Msg *m, guint8 v)
{
  g_assert_cmpuint (m->len, <, sizeof m->buf);
  m->buf[m->len++] = v;
}

static inline void
put16 (Msg *m, guint16 v)
{
  put8 (m, (guint8) (v >> 8));
  put8 (m, (guint8) v);
}

static inline void
put32 (Msg *m, guint32 v)
{
  put16 (m, (guint16) (v >> 16));
  put16 (m, (guint16) v);
}

/* Plain dotted labels, no escapes; empty labels are skipped. */
static inline void
put_labels (Msg *m, const char *text)
{
  g_auto (GStrv) labels = g_strsplit (text, ".", -1);

  for (guint i = 0; labels[i] != NULL; i++)
    {
      gsize l = strlen (labels[i]);

      if (l == 0)
        continue;
      put8 (m, (guint8) l);
      for (gsize j = 0; j < l; j++)
        put8 (m, (guint8) labels[i][j]);
    }
}

/* A whole name; "" or "." is the root. Returns its offset. */
static inline gsize
put_name (Msg *m, const char *text)
{
  gsize at = m->len;

  put_labels (m, text);
  put8 (m, 0);
  return at;
}

/* Labels then a pointer: "www" + -> target. Returns its offset. */
static inline gsize
put_name_ptr (Msg *m, const char *prefix, gsize target)
{
  gsize at = m->len;

  put_labels (m, prefix);
  put16 (m, (guint16) (0xc000 | target));
  return at;
}

/* Starts the message over. */
static inline void
put_header (Msg *m, guint16 flags, guint16 qd, guint16 an, guint16 ns, guint16 ar)
{
  m->len = 0;
  put16 (m, DNS_BUILDER_ID);
  put16 (m, flags);
  put16 (m, qd);
  put16 (m, an);
  put16 (m, ns);
  put16 (m, ar);
}

/* An RR's fixed part after its owner name, class IN. */
static inline void
put_rr (Msg *m, guint16 type, guint32 ttl, guint16 rdlen)
{
  put16 (m, type);
  put16 (m, DDR_DNS_CLASS_IN);
  put32 (m, ttl);
  put16 (m, rdlen);
}

/* A question for name, class IN. Returns the name's offset. */
static inline gsize
put_question (Msg *m, const char *name, guint16 type)
{
  gsize at = put_name (m, name);

  put16 (m, type);
  put16 (m, DDR_DNS_CLASS_IN);
  return at;
}

/* An A record whose owner is a pointer to owner. */
static inline void
put_a (Msg *m, gsize owner, guint32 ttl, guint32 addr)
{
  put_name_ptr (m, "", owner);
  put_rr (m, DDR_DNS_TYPE_A, ttl, 4);
  put32 (m, addr);
}

/* An OPT RR, root owner included; ttl holds extended rcode, version and flags. */
static inline void
put_opt (Msg *m, guint16 udp, guint32 ttl, guint16 rdlen)
{
  put8 (m, 0);
  put16 (m, DDR_DNS_TYPE_OPT);
  put16 (m, udp);
  put32 (m, ttl);
  put16 (m, rdlen);
}
