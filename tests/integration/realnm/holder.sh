#!/bin/sh
# Builds the private world NetworkManager runs in, then holds it open: run as
#   ip netns exec NS unshare --mount --uts --propagation private sh holder.sh DIR
# Every mount below lives only in this new mount namespace (private propagation),
# so the host's /run, /etc (resolv.conf), /sys and /var/lib are never written.
# The test enters it with nsenter -t <this pid> -m -n -u; killing this process
# (and everything started inside) releases it.
set -eu
D="$1"

# /run: a private tmpfs (NM's state, the bus socket nm-dispatcher's scripts call).
mount -t tmpfs -o mode=0755,size=16m rig-run /run
mkdir -p /run/dbus /run/etc-upper /run/etc-work /run/NetworkManager

# /etc: an overlay, because NM (rc-manager=file) replaces /etc/resolv.conf with
# rename(), which a bind-mounted file refuses (EBUSY). The host's /etc is the
# read-only lower layer; every write lands in /run/etc-upper.
mount -t overlay rig-etc -o lowerdir=/etc,upperdir=/run/etc-upper,workdir=/run/etc-work /etc
rm -f /etc/resolv.conf
printf '# threatstop-ddr real-NM rig: not written by NetworkManager yet\n' >/etc/resolv.conf

# Only the test's dispatcher scripts run (the host's, e.g. 01-ifupdown, must not).
mount --bind "$D/dispatcher.d" /etc/NetworkManager/dispatcher.d
mount --bind "$D/empty" /usr/lib/NetworkManager/dispatcher.d
mount --bind "$D/varlib" /var/lib/NetworkManager

# Read-only /sys: NM then treats the system as having no udev and manages the
# veth at once instead of waiting for udev forever.
mount -o remount,ro /sys

hostname ddr-realnm-rig
echo ready >"$D/holder.ready"
exec sleep 2147483647
