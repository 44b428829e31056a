package webhooks

import (
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSignatureMatchesTheSpecificationsVector signs the test vector the
// Standard Webhooks reference libraries publish.
func TestSignatureMatchesTheSpecificationsVector(t *testing.T) {
	got, err := signature([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; err != nil || got != want {
		t.Errorf("signature = %q, %v; want %q", got, err, want)
	}
	two, err := signature([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil || len(strings.Split(two, " ")) != 2 {
		t.Errorf("two secrets: %q, %v; want two signatures separated by a space", two, err)
	}
	if _, err := signature([]string{"not a secret"}, "msg_1", 1, nil); err == nil {
		t.Error("signed with a malformed secret")
	}
	s, err := newSecret()
	if key, kerr := secretKey(s); err != nil || kerr != nil || len(key) != secretBytes || !strings.HasPrefix(s, "whsec_") {
		t.Errorf("newSecret = %q, %v, %v", s, err, kerr)
	}
}

func TestSealedSecretsOpenOnlyForTheirEndpointAndKey(t *testing.T) {
	sealer, err := NewSealer([]byte("a token secret of at least 32 bytes!!"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealer.Seal("wh_A", "whsec_secret")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "whsec_secret") {
		t.Error("the sealed secret holds it in the clear")
	}
	if got, err := sealer.Open("wh_A", sealed); err != nil || got != "whsec_secret" {
		t.Errorf("Open = %q, %v", got, err)
	}
	if _, err := sealer.Open("wh_B", sealed); err == nil {
		t.Error("a secret sealed for one endpoint opened for another")
	}
	other, _ := NewSealer([]byte("another token secret of 32 bytes or more"))
	if _, err := other.Open("wh_A", sealed); err == nil {
		t.Error("a secret opened under another TOKEN_SECRET")
	}
	again, _ := sealer.Seal("wh_A", "whsec_secret")
	if string(again) == string(sealed) {
		t.Error("sealing twice gave the same bytes: the nonce is not random")
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Error("a short token secret was taken")
	}
}

func TestNonPublicAddresses(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1": "loopback", "127.9.9.9": "loopback", "::1": "loopback", "::ffff:127.0.0.1": "loopback",
		"10.1.2.3": "private", "172.16.0.1": "private", "192.168.1.1": "private", "fd00::1": "private",
		"169.254.169.254": "link-local", "fe80::1": "link-local", "100.64.0.1": "shared (CGNAT)",
		"0.0.0.0": "unspecified", "::": "unspecified", "224.0.0.1": "multicast", "ff02::1": "multicast",
		"255.255.255.255": "reserved", "192.0.2.10": "documentation", "2001:db8::1": "documentation",
		"198.18.0.1": "benchmarking", "64:ff9b::a00:1": "private", "2002:a00:1::": "6to4", "fec0::1": "site-local",
		"::a00:1": "reserved", "100::1": "discard", "fe80::1%eth0": "scoped",
		// Public addresses.
		"93.184.216.34": "", "8.8.8.8": "", "2606:4700:4700::1111": "", "64:ff9b::808:808": "",
	} {
		if got := nonPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("nonPublic(%s) = %q, want %q", addr, got, want)
		}
	}
}

// TestEventTypesAreTheLogs: the types an endpoint may ask for are those
// the schema says the log writes.
func TestEventTypesAreTheLogs(t *testing.T) {
	schema, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)type Event \{.*?"""(.*?)"""\s*type: String!`).FindSubmatch(schema)
	if block == nil {
		t.Fatal("schema.graphqls: Event.type's description not found")
	}
	var documented []string
	for _, f := range strings.Split(string(block[1]), ",") {
		documented = append(documented, strings.TrimSpace(f))
	}
	slices.Sort(documented)
	known := slices.Sorted(slices.Values(eventTypes))
	if !slices.Equal(documented, known) {
		t.Errorf("event types\n%v\nwant the schema's\n%v", known, documented)
	}
}

func TestCheckEventTypes(t *testing.T) {
	got, err := CheckEventTypes("f", []string{" customer.* ", "order.placed", "customer.*", "*"})
	if err != nil || !slices.Equal(got, []string{"customer.*", "order.placed", "*"}) {
		t.Errorf("CheckEventTypes = %v, %v", got, err)
	}
	for _, bad := range [][]string{nil, {}, {"customer"}, {"customer.nope"}, {"cust*"}, {"nope.*"}, {"customer.created*"}, {""}, make([]string, 51)} {
		if _, err := CheckEventTypes("f", bad); err == nil {
			t.Errorf("CheckEventTypes(%q) accepted", bad)
		}
	}
}

func TestBackoffGrowsWithJitterUpToTheCap(t *testing.T) {
	d := &Dispatcher{}
	for attempt, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 8: 64 * time.Minute, 9: 2 * time.Hour, 30: 2 * time.Hour, 100: 2 * time.Hour} {
		seen := map[time.Duration]bool{}
		for range 50 {
			got := d.backoff(attempt)
			if got < want/2 || got > want {
				t.Fatalf("backoff(%d) = %v, want between %v and %v", attempt, got, want/2, want)
			}
			seen[got] = true
		}
		if len(seen) < 2 {
			t.Errorf("backoff(%d) has no jitter: %v", attempt, seen)
		}
	}
}

// TestTheSocketIsCheckedToo: the dialer's Control, the second lock behind
// Resolve, refuses a socket bound for a non-public address.
func TestTheSocketIsCheckedToo(t *testing.T) {
	prod, dev := &Guard{}, &Guard{AllowPrivate: true}
	for _, addr := range []string{"127.0.0.1:443", "[::1]:443", "169.254.169.254:80", "10.0.0.1:443"} {
		if err := prod.control("tcp", addr, nil); err == nil {
			t.Errorf("production control let %s through", addr)
		}
		if err := dev.control("tcp", addr, nil); err != nil {
			t.Errorf("development control refused %s: %v", addr, err)
		}
	}
	if err := prod.control("tcp", "93.184.216.34:443", nil); err != nil {
		t.Errorf("production control refused a public address: %v", err)
	}
}
