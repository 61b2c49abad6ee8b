/* Access control list: which client addresses the relay answers. */
#pragma once

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

typedef struct _DdrAcl DdrAcl;

#define DDR_ACL_ERROR (ddr_acl_error_quark ())
GQuark ddr_acl_error_quark (void);

/* Parse CIDR entries ("127.0.0.0/8", "::1/128", "192.0.2.1" = /32, "fc00::/7").
 * An IPv4-mapped IPv6 client (::ffff:a.b.c.d) matches IPv4 entries.
 * On error: NULL and a message that names the bad entry and the accepted form. */
DdrAcl  *ddr_acl_new_from_strv (const char * const *entries, GError **error);
void     ddr_acl_free          (DdrAcl *acl);
gboolean ddr_acl_allows        (const DdrAcl *acl, const struct sockaddr *sa, socklen_t salen);
/* Canonical text of entry i (for logs and status), NULL past the end. */
char    *ddr_acl_entry_to_string (const DdrAcl *acl, guint i);
guint    ddr_acl_n_entries     (const DdrAcl *acl);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrAcl, ddr_acl_free)

G_END_DECLS
