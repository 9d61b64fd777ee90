# SPDX-License-Identifier: Apache-2.0
# The xen-dom0 image's program, run by BusyBox's shell in a PV dom0: what Debian's
# /etc/init.d/xen and a distribution's boot would do, then either the command given as
# arguments (its exit status is the image's) or, without one, wait until asked to stop.
#
# Environment (kiln launch -e):
#   KILN_DOM0_AUTHORIZED_KEYS  SSH public keys allowed to log in as root (Dropbear on port 22)
#   KILN_DOM0_BRIDGE           the guests' bridge (default xenbr0), 10.0.3.1/24 with DHCP for guests
set -eu
/bin/busybox mkdir -p /usr/local/bin
/bin/busybox --install -s /usr/local/bin
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ln -sf /bin/busybox /bin/sh

log() { echo "kiln-dom0: $*"; }

# The file system layout Xen's tools expect (Debian's base-files would provide it).
mkdir -p /var /var/lib/xen /var/log/xen /run/xen /run/xenstored /run/lock /root /etc/dropbear
ln -sfn /run /var/run
ln -sfn /run/lock /var/lock
# Debian runs the tools through a version wrapper in /usr/sbin; here they are linked directly.
for tool in xl xenstored xenconsoled xen-init-dom0; do ln -sf /usr/lib/xen-4.17/bin/$tool /usr/sbin/$tool; done
for verb in read write exists rm list ls chmod watch; do ln -sf xenstore /usr/bin/xenstore-$verb; done

mount -t xenfs xenfs /proc/xen
grep -q control_d /proc/xen/capabilities || { log "not a Xen dom0 (/proc/xen/capabilities: $(cat /proc/xen/capabilities))"; exit 1; }

xenstored --pid-file /run/xenstore.pid
xen-init-dom0
xenconsoled --pid-file /run/xenconsoled.pid --log=none

# The guests' network: a bridge with an address in dom0 and a DHCP server, so a guest that
# asks for DHCP on eth0 (kiln's default for xen images) gets 10.0.3.100-199.
bridge=${KILN_DOM0_BRIDGE:-xenbr0}
brctl addbr "$bridge"
ip addr add 10.0.3.1/24 dev "$bridge"
ip link set "$bridge" up
cat > /run/udhcpd.conf <<CONF
interface $bridge
start 10.0.3.100
end 10.0.3.199
option subnet 255.255.255.0
option router 10.0.3.1
lease_file /run/udhcpd.leases
CONF
touch /run/udhcpd.leases
udhcpd /run/udhcpd.conf

if [ -n "${KILN_DOM0_AUTHORIZED_KEYS:-}" ]; then
  echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd
  echo "root:x:0:" > /etc/group
  mkdir -p /root/.ssh
  chmod 700 /root /root/.ssh
  printf '%s\n' "$KILN_DOM0_AUTHORIZED_KEYS" > /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
  # -R: host keys made at first use; -s: no passwords; -E: log on the console.
  dropbear -R -s -E -p 22 -P /run/dropbear.pid
fi

log "ready: $(xl info | sed -n 's/^xen_version *: //p') on $(uname -r)"
if [ $# -gt 0 ]; then
  exec "$@"
fi

# Asked to stop (kiln stop: the shim sends SIGTERM): shut the guests down, then end.
trap 'log "stopping: shutting down the guests"; xl shutdown -a -w >/dev/null 2>&1 || true; exit 0' TERM INT
while :; do sleep 3600 & wait $! || true; done
