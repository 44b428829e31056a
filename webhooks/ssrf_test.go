package webhooks_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/errcode"
	"customerservice/webhooks"
)

// fakeDNS answers for a few names, as the test's resolver: rebind.example
// answers a public address the first time and 127.0.0.1 after, as a DNS
// rebinding attacker's server would.
type fakeDNS struct {
	mu      sync.Mutex
	rebinds int
}

func (f *fakeDNS) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch host {
	case "public.example":
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	case "internal.example":
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	case "mixed.example": // one public address is not enough
		return []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.5")}, nil
	case "rebind.example":
		f.rebinds++
		if f.rebinds == 1 {
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestProductionRefusesNonPublicAddresses: in production an endpoint on a
// loopback, private, link-local or metadata address, or on a name that
// resolves to one, is refused when it is created, and, when it got in
// some other way (made in development, or a name that resolved elsewhere
// when checked), at delivery, before any connection: a receiver listening
// on 127.0.0.1 gets nothing.
func TestProductionRefusesNonPublicAddresses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	dns := &fakeDNS{}
	prodGuard := &webhooks.Guard{LookupIP: dns.lookup}
	prod := &webhooks.Service{DB: pool, Sealer: sealer(t), Guard: prodGuard, RequireHTTPS: true}

	// A real receiver on the loopback interface, which must never be
	// reached.
	var mu sync.Mutex
	reached := 0
	local := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		reached++
		mu.Unlock()
	}))
	defer local.Close()
	port := local.Listener.Addr().(*net.TCPAddr).Port
	local6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer local6.Close()
	go func() {
		for {
			conn, err := local6.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			reached++
			mu.Unlock()
			conn.Close()
		}
	}()
	port6 := local6.Addr().(*net.TCPAddr).Port

	refused := map[string]string{
		"https://127.0.0.1:" + itoa(port) + "/hook":        "127.0.0.1 is a loopback address",
		"https://10.1.2.3/hook":                            "10.1.2.3 is a private address",
		"https://169.254.169.254/latest/meta-data/":        "169.254.169.254 is a link-local address",
		"https://[::1]:" + itoa(port6) + "/hook":           "::1 is a loopback address",
		"https://internal.example:" + itoa(port) + "/hook": "internal.example resolves to 127.0.0.1, a loopback address",
		"https://mixed.example/hook":                       "mixed.example resolves to 10.0.0.5, a private address",
		"https://100.64.1.1/hook":                          "100.64.1.1 is a shared (CGNAT) address",
		"https://[::ffff:127.0.0.1]/hook":                  "is a loopback address",
	}
	for url, why := range refused {
		_, _, err := prod.Create(ctx, webhooks.Input{URL: url, EventTypes: []string{"*"}}, nil)
		e, ok := errors.AsType[*errcode.Error](err)
		if !ok || e.Code != errcode.InvalidData || e.Field != "input.url" || !strings.Contains(e.Message, why) {
			t.Errorf("create %s: %v; want INVALID_DATA on input.url saying %q", url, err, why)
		}
	}
	for url, want := range map[string]string{
		"http://public.example/hook":      "must be https:// in production",
		"https://nowhere.example/":        "does not resolve",
		"ftp://public.example/":           "must be http:// or https://",
		"https://user:pw@public.example/": "must not hold credentials",
		"/relative":                       "absolute",
	} {
		_, _, err := prod.Create(ctx, webhooks.Input{URL: url, EventTypes: []string{"*"}}, nil)
		if e, ok := errors.AsType[*errcode.Error](err); !ok || e.Code != errcode.InvalidData || !strings.Contains(e.Message, want) {
			t.Errorf("create %s: %v; want INVALID_DATA saying %q", url, err, want)
		}
	}
	if _, _, err := prod.Create(ctx, webhooks.Input{URL: "https://public.example/hook", EventTypes: []string{"*"}}, nil); err != nil {
		t.Errorf("a public endpoint was refused: %v", err)
	}
	// rebind.example is public when it is checked...
	rebound, _, err := prod.Create(ctx, webhooks.Input{URL: "https://rebind.example:" + itoa(port) + "/hook", EventTypes: []string{"*"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// ... and the others got in through a development server.
	dev := &webhooks.Service{DB: pool, Sealer: sealer(t), Guard: &webhooks.Guard{AllowPrivate: true}}
	for url := range refused {
		if strings.Contains(url, "mixed.example") {
			continue // it would only fail to connect
		}
		if _, _, err := dev.Create(ctx, webhooks.Input{URL: url, EventTypes: []string{"*"}}, nil); err != nil {
			t.Fatalf("development refused %s: %v", url, err)
		}
	}
	createCustomers(t, pool, 1)

	d := dispatcher(t, pool, prodGuard)
	if _, err := d.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
	var got []struct {
		URL    string  `db:"url"`
		Code   *string `db:"last_error_code"`
		Error  *string `db:"last_error"`
		Status string  `db:"status"`
	}
	if err := pool.Select(&got, `SELECT w.url, d.last_error_code, d.last_error, d.status FROM webhook_delivery d
		JOIN webhook_endpoint w ON w.id = d.endpoint_id WHERE w.url NOT LIKE '%public.example%'`); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(refused) { // the development ones, and rebind.example
		t.Fatalf("%d deliveries to refused endpoints, want %d", len(got), len(refused))
	}
	for _, g := range got {
		if g.Code == nil || *g.Code != string(db.DeliveryAddressNotAllowed) || g.Status != "pending" ||
			!strings.Contains(*g.Error, "public addresses only") {
			t.Errorf("delivery to %s: code %v, error %v, status %s; want ADDRESS_NOT_ALLOWED", g.URL, deref(g.Code), deref(g.Error), g.Status)
		}
		if strings.Contains(g.URL, "rebind.example") && !strings.Contains(*g.Error, "rebind.example resolves to 127.0.0.1") {
			t.Errorf("the rebound host's delivery: %s", *g.Error)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if reached != 0 {
		t.Errorf("the loopback receivers were reached %d times", reached)
	}
	if _, err := db.WebhookByID(ctx, pool, rebound.ID); err != nil {
		t.Error(err)
	}
}

// TestTheGuardDialsOnlyWhatItChecked: in production the dialer refuses a
// loopback address; in development it connects.
func TestTheGuardDialsOnlyWhatItChecked(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	g := &webhooks.Guard{LookupIP: (&fakeDNS{}).lookup}
	for _, addr := range []string{ln.Addr().String(), "internal.example:" + itoa(ln.Addr().(*net.TCPAddr).Port)} {
		if _, err := g.DialContext(context.Background(), "tcp", addr); !isAddressError(err) {
			t.Errorf("production dial to %s: %v; want an AddressError", addr, err)
		}
	}
	dev := &webhooks.Guard{AllowPrivate: true}
	conn, err := dev.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("development dial: %v", err)
	}
	conn.Close()
}

func isAddressError(err error) bool {
	_, ok := errors.AsType[*webhooks.AddressError](err)
	return ok
}

func itoa(n int) string { return strconv.Itoa(n) }

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}
