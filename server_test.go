package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"customerservice/auth"
	"customerservice/db/dbtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(serveForTest) == "1" {
		os.Args = []string{os.Args[0], "serve"}
		main()
		os.Exit(0)
	}
	if args := os.Getenv(runForTest); args != "" {
		os.Args = append([]string{os.Args[0]}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(dbtest.Main(m))
}

func TestUserCreateCommand(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config{databaseURL: dbtest.URL(t), dataDir: t.TempDir(), tokenTTL: 1e9}
	args := []string{"create", "-email", "Boss@Example.com", "-password-stdin", "-first-name", "Ada"}
	if err := userCommand(ctx, cfg, args, strings.NewReader("boss password\n"), logger); err != nil {
		t.Fatalf("user create: %v", err)
	}
	d, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	svc, err := authService(cfg, d.pool)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := svc.Login(ctx, auth.User, "boss@example.com", "boss password")
	if err != nil {
		t.Fatalf("the new user cannot log in: %v", err)
	}
	actor, err := svc.Tokens.Verify(tok.Token)
	if err != nil || actor.Type != auth.User || !strings.HasPrefix(actor.ID, "user_") {
		t.Errorf("token actor = %+v, %v; want an admin user", actor, err)
	}

	for name, c := range map[string]struct {
		args  []string
		stdin string
	}{
		"no password flag": {[]string{"create", "-email", "x@example.com"}, "a password\n"},
		"short password":   {[]string{"create", "-email", "x@example.com", "-password-stdin"}, "short\n"},
		"bad email":        {[]string{"create", "-email", "nope", "-password-stdin"}, "a long password\n"},
		"taken, other pw":  {[]string{"create", "-email", "boss@example.com", "-password-stdin"}, "not the password\n"},
		"no subcommand":    {nil, ""},
	} {
		if err := userCommand(ctx, cfg, c.args, strings.NewReader(c.stdin), logger); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
