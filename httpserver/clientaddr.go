package httpserver

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"customerservice/auth"
)

// ParseTrustedProxies reads a comma-separated list of CIDR prefixes
// (TRUSTED_PROXIES); a bare address stands for itself alone. Blank entries
// are skipped.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR prefix nor an address", part)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// clientAddr puts the client's address (see ClientAddr) in the request's
// context, where the login throttle reads it.
func (s *Server) clientAddr(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := ClientAddr(r, s.cfg.TrustedProxies)
		next.ServeHTTP(w, r.WithContext(auth.WithClientAddr(r.Context(), addr)))
	})
}

// ClientAddr returns the address of the client that sent r: the TCP peer,
// unless the peer is a trusted proxy. Then it is the right-most address of
// X-Forwarded-For that is not a trusted proxy: each proxy appends the
// address it got the request from, so entries left of the last untrusted
// one were written by the client itself and prove nothing. When every entry
// is a trusted proxy, the left-most is the client; an entry that is not an
// address stops the walk at the proxy that reported it. The zero Addr means
// the peer's address could not be read.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	client := parseHop(r.RemoteAddr)
	if !client.IsValid() || !isTrusted(client, trusted) {
		return client
	}
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		rest := values[i]
		for rest != "" {
			var hop string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				rest, hop = rest[:j], rest[j+1:]
			} else {
				rest, hop = "", rest
			}
			if strings.TrimSpace(hop) == "" {
				continue
			}
			a := parseHop(hop)
			if !a.IsValid() {
				return client
			}
			client = a
			if !isTrusted(a, trusted) {
				return client
			}
		}
	}
	return client
}

// parseHop reads an address as RemoteAddr and X-Forwarded-For carry it:
// bare, or with a port ("192.0.2.1:80", "[2001:db8::1]:80").
func parseHop(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
