/* threatstop-ddr-admin --action=restore-dns: undo DNS steering without the daemon. */
#pragma once

/* root: "" or the directory every file path is put under; state_dir: NULL = the
 * default (under root). Returns the exit code: 0 all undone, 1 something was not,
 * 2 bad usage. */
int ddr_admin_restore_dns (const char *root, const char *state_dir);
