package auth

import (
	"context"
	"net/netip"
)

type clientAddrKey struct{}

// WithClientAddr returns ctx carrying the address of the client a request
// came from, as the HTTP layer established it (behind trusted proxies, the
// address they forwarded). Login throttling counts attempts by it.
func WithClientAddr(ctx context.Context, addr netip.Addr) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddrFrom returns the client address of ctx, or the zero Addr when
// none is known (a call from outside HTTP).
func ClientAddrFrom(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(clientAddrKey{}).(netip.Addr)
	return a
}

// addressKey is the throttling key of a client address: an IPv4 address as
// it is, an IPv6 address as its /64, since one subscriber usually gets a
// whole /64 and could otherwise take a new address for every attempt.
// Requests with no known address share one key.
func addressKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is6():
		return netip.PrefixFrom(a, 64).Masked().String()
	default:
		return a.String()
	}
}
