package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"customerservice/auth"
	"customerservice/db/dbtest"
)

// TestDemoLogins loads a small dataset as demo data: the admin user and
// the registered customer log in with the password kept in the data
// folder, each as its own actor.
func TestDemoLogins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(dbtest.URL(t), t.TempDir())
	d, svc, err := openWithAuth(ctx, cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if err := loadDataset(ctx, cfg, svc, 8, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(cfg.dataDir, "admin.password"))
	if err != nil {
		t.Fatal(err)
	}
	password := strings.TrimSpace(string(b))
	for _, c := range []struct {
		actor  auth.ActorType
		email  string
		prefix string
	}{
		{auth.User, demoAdmin, "user_"},
		{auth.Customer, demoCustomer, "cus_"},
	} {
		tok, err := svc.Login(ctx, c.actor, c.email, password)
		if err != nil {
			t.Errorf("%s cannot log in: %v", c.email, err)
			continue
		}
		actor, err := svc.Tokens.Verify(tok.Token)
		if err != nil || actor.Type != c.actor || !strings.HasPrefix(actor.ID, c.prefix) {
			t.Errorf("%s: token actor = %+v, %v; want a %s", c.email, actor, err, c.prefix)
		}
	}
	if err := linkDemoCustomer(ctx, svc, "customer3@example.com", password); err == nil {
		t.Error("customer3, a guest, was given a login")
	}
}
