package webhook

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// entry is one item of WEBHOOK_ALLOWED_HOSTS: a host name, an IP address or a
// CIDR prefix, with an optional port (0: any port).
type entry struct {
	name   string       // lower-case host name, without a trailing dot
	addr   netip.Addr   // valid for an IP entry
	prefix netip.Prefix // valid for a CIDR entry
	port   int
}

// allowList is the parsed WEBHOOK_ALLOWED_HOSTS.
type allowList []entry

// parseAllowList reads a comma-separated list of host, host:port, IP, IP:port,
// [IPv6]:port or CIDR entries. Anything else (a scheme, a path, credentials, a
// wildcard) is an error: a typo must not widen the list.
func parseAllowList(s string) (allowList, error) {
	var out allowList
	for _, raw := range strings.Split(s, ",") {
		item := strings.TrimSpace(raw)
		if item == "" {
			continue
		}
		e, err := parseEntry(item)
		if err != nil {
			return nil, fmt.Errorf("WEBHOOK_ALLOWED_HOSTS entry %q: %w", item, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func parseEntry(item string) (entry, error) {
	if strings.ContainsAny(item, "/@*?#") {
		if p, err := netip.ParsePrefix(item); err == nil {
			return entry{prefix: p.Masked()}, nil
		}
		return entry{}, fmt.Errorf("want host, host:port or an IP prefix (no scheme, path, credentials or wildcard)")
	}
	host, port := item, 0
	if h, p, err := net.SplitHostPort(item); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return entry{}, fmt.Errorf("bad port %q", p)
		}
		host, port = h, n
	} else if strings.Count(item, ":") == 1 {
		return entry{}, fmt.Errorf("bad host:port")
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return entry{addr: a.Unmap(), port: port}, nil
	}
	if host == "" || strings.ContainsAny(host, ":[] ") {
		return entry{}, fmt.Errorf("bad host")
	}
	return entry{name: strings.ToLower(host), port: port}, nil
}

func (e entry) portOK(port int) bool { return e.port == 0 || e.port == port }

// hostAllowed reports whether the URL's host (and port) is listed: by name, by IP
// or inside a listed prefix.
func (l allowList) hostAllowed(u *url.URL) bool {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := urlPort(u)
	addr, err := netip.ParseAddr(host)
	isIP := err == nil
	addr = addr.Unmap()
	for _, e := range l {
		switch {
		case e.name != "" && !isIP && e.name == host && e.portOK(port):
			return true
		case isIP && e.addr.IsValid() && e.addr == addr && e.portOK(port):
			return true
		case isIP && e.prefix.IsValid() && e.prefix.Contains(addr):
			return true
		}
	}
	return false
}

// addressAllowed reports whether ip:port may be dialled. A public address may; an
// internal one (see internal) only when that address is itself listed, as an IP
// entry or inside a prefix: listing a name does not vouch for where it resolves.
func (l allowList) addressAllowed(ip netip.Addr, port int) bool {
	ip = ip.Unmap()
	if !internal(ip) {
		return true
	}
	for _, e := range l {
		if (e.addr.IsValid() && e.addr == ip && e.portOK(port)) || (e.prefix.IsValid() && e.prefix.Contains(ip)) {
			return true
		}
	}
	return false
}

// special are ranges beyond the net/netip predicates that reach inside a network:
// "this network", carrier-grade NAT (Alibaba Cloud's metadata service is
// 100.100.100.200), IETF protocol assignments, benchmarking, reserved and
// broadcast, and IPv6 prefixes that embed an IPv4 address (NAT64, 6to4).
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
}

// internal reports loopback, link-local (169.254.0.0/16, fe80::/10), private
// (RFC 1918, fc00::/7), unspecified, multicast and the special ranges.
func internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsPrivate() || ip.IsUnspecified() {
		return true
	}
	for _, p := range special {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// urlPort is the URL's port, or its scheme's default.
func urlPort(u *url.URL) int {
	if p := u.Port(); p != "" {
		n, _ := strconv.Atoi(p)
		return n
	}
	if strings.EqualFold(u.Scheme, "http") {
		return 80
	}
	return 443
}
