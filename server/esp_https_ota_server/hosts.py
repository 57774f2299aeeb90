"""The names a board may use to reach this PC: what the server certificate must cover.

Found without sending a packet: the host name from gethostname(), and the LAN IPv4 addresses
as the source address the kernel picks for a UDP socket connect()ed to a private address (a UDP
connect() only consults the routing table). No DNS lookup is made: getaddrinfo(gethostname())
could ask a resolver on the network when the name is not in /etc/hosts.
"""

import ipaddress
import socket

# One address in each private range, none a broadcast address (connect() to one fails with
# EACCES without SO_BROADCAST). A PC with Wi-Fi and a wired or VPN link may answer differently.
_PROBES = ("10.254.254.254", "172.31.254.254", "192.168.254.254")
_DISCARD_PORT = 9


def lan_ipv4():
    """Sorted LAN IPv4 addresses of this PC as strings (no loopback, no link-local); may be []."""
    found = set()
    for target in _PROBES:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect((target, _DISCARD_PORT))
            addr = ipaddress.ip_address(s.getsockname()[0])
        except (OSError, ValueError):  # no route to that range (or no network at all)
            continue
        finally:
            s.close()
        if not (addr.is_loopback or addr.is_link_local or addr.is_unspecified):
            found.add(addr)
    return [str(a) for a in sorted(found)]


def host_names():
    """This PC's host name, lower case, and its mDNS form `<name>.local` when it has no dot."""
    name = socket.gethostname().strip().lower()
    if not name or not name.isascii():
        return []
    return [name] if "." in name else [name, name + ".local"]


def is_ip(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def cert_names(bind="0.0.0.0", extra=()):
    """(dns_names, ip_addresses): sorted, de-duplicated strings for the certificate's SANs.

    Always localhost and 127.0.0.1, the host name and the LAN IPv4 addresses; plus the bind
    address when it is a specific one, and `extra` (names or IP addresses, e.g. from --hosts)."""
    dns = {"localhost"} | set(host_names())
    ips = {ipaddress.ip_address("127.0.0.1")}
    ips.update(ipaddress.ip_address(a) for a in lan_ipv4())
    wanted = list(extra)
    if bind and is_ip(bind) and not ipaddress.ip_address(bind).is_unspecified:
        wanted.append(bind)
    for item in wanted:
        item = item.strip().strip("[]").lower()
        if not item:
            continue
        if is_ip(item):
            ips.add(ipaddress.ip_address(item))
        else:
            dns.add(item.rstrip("."))
    return sorted(dns), [str(a) for a in sorted(ips, key=lambda a: (a.version, a))]
