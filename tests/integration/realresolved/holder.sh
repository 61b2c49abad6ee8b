#!/bin/sh
# Builds the private world systemd-resolved runs in, then holds it open: run as
#   unshare --net --mount --propagation private sh holder.sh DIR
# Every mount lives only in this new mount namespace and every link in this new
# network namespace: the host's /run, /etc and links are never touched. The test
# enters it with nsenter -t <this pid> -n -m; killing this process releases both.
set -eu
D="$1"

mount -t tmpfs -o mode=0755,size=16m rig-run /run
mkdir -p /run/dbus /run/systemd/resolve /run/systemd/resolved.conf.d
# resolved drops to the systemd-resolve user: give it one (private copies).
cp /etc/passwd "$D/passwd"; echo 'systemd-resolve:x:991:991::/:/usr/sbin/nologin' >>"$D/passwd"
cp /etc/group "$D/group"; echo 'systemd-resolve:x:991:' >>"$D/group"
mount --bind "$D/passwd" /etc/passwd
mount --bind "$D/group" /etc/group
chown 991:991 /run/systemd/resolve
# resolved reads a foreign resolv.conf; this one names only its own stub.
echo 'nameserver 127.0.0.53' >"$D/resolv.conf"
mount --bind "$D/resolv.conf" /etc/resolv.conf
# No global servers: every answer must come through a link.
printf '[Resolve]\nDNS=\nFallbackDNS=\nDomains=\nLLMNR=no\nMulticastDNS=no\nDNSSEC=no\nDNSOverTLS=no\nCache=no\nDNSStubListener=yes\n' \
  >/run/systemd/resolved.conf.d/50-ddr-test.conf

ip link set lo up
# a "physical" link that is up with an address (with only lo resolved says "Network is down")
ip link add phys0 type veth peer name phys0p
ip addr add 198.18.0.2/24 dev phys0
ip link set phys0 up
ip link set phys0p up

echo ready >"$D/holder.ready"
exec sleep 2147483647
