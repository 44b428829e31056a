package webhooks

// Server-side request forgery: an admin names the URL, and the server
// sends requests to it from inside the network. In production, webhooks
// reach public addresses only: a URL whose host resolves to any other
// address (loopback, private, link-local such as a cloud's metadata
// service at 169.254.169.254, CGNAT, multicast, ...) is refused when the
// endpoint is made or changed, and again at every delivery, against the
// addresses the connection is then made to, so that a DNS answer that
// changes between the check and the connection (DNS rebinding) cannot
// turn a public host into an internal one.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// Guard decides which addresses webhooks may reach, and dials only those.
type Guard struct {
	// AllowPrivate lets webhooks reach any address: for development, where
	// receivers run on the developer's machine or network.
	AllowPrivate bool
	// LookupIP resolves a host name; net.DefaultResolver's when nil.
	// Tests put a resolver of their own here.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
}

// AddressError refuses a host that resolves to an address webhooks may not
// reach.
type AddressError struct {
	Host string
	Addr netip.Addr
	// Kind says what the address is: "loopback", "private", ...
	Kind string
}

func (e *AddressError) Error() string {
	if e.Host == e.Addr.String() {
		return fmt.Sprintf("%s is a %s address; webhooks may reach public addresses only", e.Host, e.Kind)
	}
	return fmt.Sprintf("%s resolves to %s, a %s address; webhooks may reach public addresses only", e.Host, e.Addr, e.Kind)
}

// errNoAddress is a host name without an address.
var errNoAddress = errors.New("the host has no address")

// Resolve returns the addresses of host (a name, or an address literal),
// each checked unless private addresses are allowed: one address webhooks
// may not reach refuses the host, with an *AddressError, since the
// connection could go to any of them.
func (g *Guard) Resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		lookup := g.LookupIP
		if lookup == nil {
			lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
				return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			}
		}
		if addrs, err = lookup(ctx, host); err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("resolve %s: %w", host, errNoAddress)
		}
	}
	if g.AllowPrivate {
		return addrs, nil
	}
	for _, a := range addrs {
		if kind := nonPublic(a); kind != "" {
			return nil, &AddressError{Host: host, Addr: a, Kind: kind}
		}
	}
	return addrs, nil
}

// DialContext connects to address (host:port) at the addresses Resolve
// checked, trying each in turn, and never to a name: the transport of the
// dispatcher's HTTP client dials through it. The dialer's Control checks
// the address of the socket itself, as a second lock on the same door.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := g.Resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Control: g.control}
	var first error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// control refuses a socket about to connect to an address webhooks may not
// reach.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", address, err)
	}
	if kind := nonPublic(ap.Addr()); kind != "" {
		return &AddressError{Host: ap.Addr().String(), Addr: ap.Addr(), Kind: kind}
	}
	return nil
}

// The address blocks that are not globally reachable, from IANA's IPv4 and
// IPv6 Special-Purpose Address Registries, beside what netip's predicates
// name.
var (
	ipv4Special = []struct {
		prefix netip.Prefix
		kind   string
	}{
		{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\""},
		{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"},
		{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
		{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
		{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay"},
		{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
		{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
		{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
		{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	}
	ipv6Special = []struct {
		prefix netip.Prefix
		kind   string
	}{
		{netip.MustParsePrefix("64:ff9b:1::/48"), "local NAT64"},
		{netip.MustParsePrefix("100::/64"), "discard"},
		{netip.MustParsePrefix("2001::/23"), "IETF protocol"},
		{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
		{netip.MustParsePrefix("2002::/16"), "6to4"},
		{netip.MustParsePrefix("3fff::/20"), "documentation"},
		{netip.MustParsePrefix("5f00::/16"), "segment routing"},
		{netip.MustParsePrefix("fec0::/10"), "site-local"},
	}
	// nat64 embeds an IPv4 address, which is checked in its stead: a NAT64
	// gateway would forward to it.
	nat64         = netip.MustParsePrefix("64:ff9b::/96")
	globalUnicast = netip.MustParsePrefix("2000::/3")
)

// nonPublic returns what kind of address a is when webhooks may not reach
// it, or "" for a public address.
func nonPublic(a netip.Addr) string {
	if a.Zone() != "" {
		return "scoped"
	}
	a = a.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	}
	if a.Is4() {
		for _, s := range ipv4Special {
			if s.prefix.Contains(a) {
				return s.kind
			}
		}
		return ""
	}
	if nat64.Contains(a) {
		b := a.As16()
		return nonPublic(netip.AddrFrom4([4]byte(b[12:])))
	}
	for _, s := range ipv6Special {
		if s.prefix.Contains(a) {
			return s.kind
		}
	}
	if !globalUnicast.Contains(a) {
		return "reserved"
	}
	return ""
}
