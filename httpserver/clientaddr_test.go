package httpserver_test

import (
	"net/http/httptest"
	"testing"

	"customerservice/httpserver"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted, err := httpserver.ParseTrustedProxies(" 10.0.0.0/8, 2001:db8:ffff::/48,192.0.2.10 ")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"peer", "198.51.100.1:1234", nil, "198.51.100.1"},
		{"untrusted peer's header is ignored", "198.51.100.1:1234", []string{"203.0.113.5"}, "198.51.100.1"},
		{"trusted peer without a header", "10.1.2.3:80", nil, "10.1.2.3"},
		{"right-most untrusted", "10.1.2.3:80", []string{"1.1.1.1, 203.0.113.5"}, "203.0.113.5"},
		{"proxies skipped", "10.1.2.3:80", []string{"203.0.113.5, 192.0.2.10, 10.9.9.9"}, "203.0.113.5"},
		{"several headers", "10.1.2.3:80", []string{"1.1.1.1", "203.0.113.5, 10.0.0.7"}, "203.0.113.5"},
		{"all trusted: the left-most", "10.1.2.3:80", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"ports and brackets", "[2001:db8:ffff::1]:443", []string{"[2001:db8::5]:4711"}, "2001:db8::5"},
		{"mapped IPv4", "[::ffff:10.0.0.1]:80", []string{"::ffff:203.0.113.5"}, "203.0.113.5"},
		{"garbage stops at the proxy that sent it", "10.1.2.3:80", []string{"203.0.113.5, bogus"}, "10.1.2.3"},
		{"empty entries", "10.1.2.3:80", []string{"203.0.113.5, ,"}, "203.0.113.5"},
		{"unreadable peer", "pipe", nil, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/graphql", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := httpserver.ClientAddr(r, trusted).String(); got != tt.want {
				t.Errorf("ClientAddr = %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := httpserver.ParseTrustedProxies("10.0.0.0/8, localhost"); err == nil {
		t.Error("a host name was taken for a proxy address")
	}
}
