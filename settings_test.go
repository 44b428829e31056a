package main

import (
	"bytes"
	"context"
	"flag"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite README.md's Settings table from the settings table")

// env is an environment of its own for a test.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestSettingsDefaults(t *testing.T) {
	c, err := loadConfig(env())
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"DATABASE_URL", c.databaseURL, ""},
		{"DATABASE_DIRECT_URL", c.databaseDirectURL, ""},
		{"DATABASE_POOLER", c.transactionPooler, false},
		{"DATABASE_REPLICA_URLS", len(c.replicaURLs), 0},
		{"DATA_DIR", c.dataDir, ".data"},
		{"ADDR", c.addr, "localhost:8080"},
		{"DEMO_CUSTOMERS", c.demoCustomers, 300},
		{"TOKEN_SECRET", c.tokenSecret, ""},
		{"ACCESS_TOKEN_TTL", c.tokenTTL, 15 * time.Minute},
		{"REFRESH_TOKEN_TTL", c.refreshTTL, 720 * time.Hour},
		{"ACCOUNT_DELETION_GRACE", c.deletionGrace, 7 * 24 * time.Hour},
		{"GROUP_RULES_REFRESH", c.rulesRefresh, 15 * time.Minute},
		{"SMTP_ADDR", c.smtp.Addr, ""},
		{"SMTP_ALLOW_PLAINTEXT", c.smtp.AllowPlaintext, false},
		{"SMTP_FROM", c.smtp.From, "no-reply@localhost"},
		{"PRODUCTION", c.production, false},
		{"REQUEST_TIMEOUT", c.requestTimeout, 10 * time.Second},
		{"SHUTDOWN_DELAY", c.drainDelay, time.Duration(0)},
		{"SHUTDOWN_GRACE", c.shutdownGrace, 20 * time.Second},
		{"DB_MAX_CONNS", c.maxConns, 20},
		{"IMPORT_MAX_BYTES", c.importMaxBytes, int64(1 << 30)},
		{"WEBSOCKETS_PER_ACCOUNT", c.sockets.PerActor, 20},
		{"SUBSCRIPTIONS_PER_WEBSOCKET", c.sockets.PerConnection, 10},
		{"CORS_ORIGINS", strings.Join(c.corsOrigins, ","), "*"},
		{"WEBHOOK_ALLOW_PRIVATE", c.webhookAllowPrivate, true},
		{"TRUSTED_PROXIES", len(c.trustedProxies), 0},
		{"PERSISTED_OPERATIONS", c.trustedDocuments == nil, true},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", c.otlpEndpoint, ""},
		{"METRICS_ADDR", c.metricsAddr, ""},
		{"PPROF_ADDR", c.pprofAddr, ""},
		{"GOGC", c.gcPercent, 600},
		{"GOMEMLIMIT", c.memoryLimit, int64(44 << 20)},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if len(checks) != len(settings)-2 { // SMTP_USER and SMTP_PASSWORD default to nothing
		t.Errorf("%d defaults checked of %d settings", len(checks), len(settings))
	}

	prod, err := loadConfig(env("PRODUCTION", "true"))
	if err != nil || prod.corsOrigins != nil {
		t.Errorf("CORS_ORIGINS in production = %q, %v; want none", prod.corsOrigins, err)
	}
	if prod.webhookAllowPrivate {
		t.Error("WEBHOOK_ALLOW_PRIVATE in production = true, want false")
	}
	if prod, err := loadConfig(env("PRODUCTION", "true", "WEBHOOK_ALLOW_PRIVATE", "true")); err != nil || !prod.webhookAllowPrivate {
		t.Errorf("WEBHOOK_ALLOW_PRIVATE=true in production = %v, %v; want true", prod.webhookAllowPrivate, err)
	}
	if dev, err := loadConfig(env("WEBHOOK_ALLOW_PRIVATE", "false")); err != nil || dev.webhookAllowPrivate {
		t.Errorf("WEBHOOK_ALLOW_PRIVATE=false locally = %v, %v; want false", dev.webhookAllowPrivate, err)
	}
}

// TestSettingsBoundaries gives each setting values just inside and just
// outside what it accepts: a bad one is refused with a message that starts
// with its variable.
func TestSettingsBoundaries(t *testing.T) {
	secret32 := strings.Repeat("s", 32)
	for _, c := range []struct {
		name string
		good []string
		bad  []string
	}{
		{"DATABASE_URL", []string{"postgres://app:pw@db.internal:5432/shop?sslmode=require", "host=localhost dbname=shop"},
			[]string{"postgres://app:hunter2@db:bad/shop", "mysql://db/shop", "host=localhost sslmode=sometimes"}},
		{"DATABASE_DIRECT_URL", []string{"postgres://app:pw@db.internal:5432/shop"}, []string{"postgres://app:hunter2@db:bad/shop"}},
		{"DATABASE_REPLICA_URLS", []string{"postgres://app:pw@replica1:5432/shop, postgres://app:pw@replica2:5432/shop"}, []string{"postgres://app:hunter2@db:bad/shop"}},
		{"DATABASE_POOLER", []string{"none"}, []string{"transaction", "session", "pgbouncer"}},
		{"ADDR", []string{"localhost:8080", ":8080", "127.0.0.1:0", "[::1]:8080"}, []string{"8080", "localhost", "localhost:"}},
		{"DEMO_CUSTOMERS", []string{"0", "1", "300"}, []string{"-1", "many", "1e3"}},
		{"TOKEN_SECRET", []string{secret32}, []string{secret32[1:]}},
		{"ACCESS_TOKEN_TTL", []string{"1ns", "24h"}, []string{"0s", "0", "-1h", "24", "a day"}},
		{"SMTP_ADDR", []string{"mail.example:587", "127.0.0.1:25"}, []string{"mail.example", ":587", "mail.example:"}},
		{"SMTP_ALLOW_PLAINTEXT", []string{"true", "1", "false", "0"}, []string{"yes", "TRUE"}},
		{"SMTP_FROM", []string{"no-reply@shop.example", "Shop <no-reply@shop.example>"}, []string{"no-reply", "Shop <>"}},
		{"PRODUCTION", []string{"true", "1", "false", "0"}, []string{"yes", "on"}},
		{"REQUEST_TIMEOUT", []string{"1ms", "10s"}, []string{"0s", "-1s", "10"}},
		{"SHUTDOWN_DELAY", []string{"0s", "5s"}, []string{"-1ns", "5"}},
		{"SHUTDOWN_GRACE", []string{"0s", "20s"}, []string{"-1s", "soon"}},
		{"DB_MAX_CONNS", []string{"1", "20"}, []string{"0", "-1", "twenty", "2.5"}},
		{"WEBHOOK_ALLOW_PRIVATE", []string{"true", "1", "false", "0"}, []string{"yes", "off"}},
		{"TRUSTED_PROXIES", []string{"10.0.0.0/8, 192.0.2.1", "2001:db8::/32"}, []string{"proxy.example", "10.0.0.0/33"}},
		{"METRICS_ADDR", []string{"127.0.0.1:9090", ":0"}, []string{"9090"}},
		{"PPROF_ADDR", []string{"127.0.0.1:6060"}, []string{"localhost"}},
		{"GOGC", []string{"0", "100", "600", "off"}, []string{"-1", "abc", "6e2"}},
		{"GOMEMLIMIT", []string{"44MiB", "1073741824", "1024B", "1GiB", "off"}, []string{"44MB", "1.5GiB", "-1", "9999999TiB", "44 MiB"}},
	} {
		for _, v := range c.good {
			if _, err := loadConfig(env(c.name, v)); err != nil {
				t.Errorf("%s=%q refused: %v", c.name, v, err)
			}
		}
		for _, v := range c.bad {
			_, err := loadConfig(env(c.name, v))
			switch {
			case err == nil:
				t.Errorf("%s=%q accepted", c.name, v)
			case !strings.HasPrefix(err.Error(), c.name+": "):
				t.Errorf("%s=%q: the message %q does not start with the variable", c.name, v, err)
			case strings.Contains(err.Error(), "hunter2"):
				t.Errorf("%s=%q: the message %q shows the password", c.name, v, err)
			}
		}
	}
}

// A transaction pooler needs both connections: the pooler's, and one
// to PostgreSQL for the migrations and LISTEN.
func TestSettingsTransactionPooler(t *testing.T) {
	c, err := loadConfig(env("DATABASE_URL", "postgres://app@pgbouncer:6432/shop", "DATABASE_DIRECT_URL", "postgres://app@db:5432/shop",
		"DATABASE_POOLER", "transaction"))
	if err != nil || !c.transactionPooler {
		t.Errorf("transaction with both URLs: %v, pooler %v", err, c.transactionPooler)
	}
	for _, e := range []func(string) string{
		env("DATABASE_URL", "postgres://app@pgbouncer:6432/shop", "DATABASE_POOLER", "transaction"),
		env("DATABASE_DIRECT_URL", "postgres://app@db:5432/shop", "DATABASE_POOLER", "transaction"),
	} {
		if _, err := loadConfig(e); err == nil || !strings.HasPrefix(err.Error(), "DATABASE_POOLER: ") {
			t.Errorf("transaction without one of the URLs: %v", err)
		}
	}
}

// TOKEN_TTL, renamed, stops the server rather than being ignored.
func TestSettingsRenamedTokenTTL(t *testing.T) {
	if _, err := loadConfig(env("TOKEN_TTL", "24h")); err == nil || !strings.Contains(err.Error(), "ACCESS_TOKEN_TTL") {
		t.Errorf("TOKEN_TTL set: %v", err)
	}
}

func TestSettingsGOMEMLIMITUnits(t *testing.T) {
	for v, want := range map[string]int64{"0": 0, "1024": 1024, "1024B": 1024, "2KiB": 2 << 10, "44MiB": 44 << 20, "3GiB": 3 << 30, "1TiB": 1 << 40, "off": math.MaxInt64} {
		if got, err := parseMemoryLimit(v); err != nil || got != want {
			t.Errorf("GOMEMLIMIT=%s: %d, %v; want %d", v, got, err, want)
		}
	}
}

// TestBadSettingsStopTheStart runs the command as main does: every bad
// setting is named, in one line, and nothing starts.
func TestBadSettingsStopTheStart(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve"},
		env("DB_MAX_CONNS", "0", "ACCESS_TOKEN_TTL", "0s", "DATA_DIR", t.TempDir()), nil, &stdout, &stderr)
	log := stderr.String()
	if code != 1 || !strings.Contains(log, `DB_MAX_CONNS: must be a whole number of 1 or more, got \"0\"`) ||
		!strings.Contains(log, "ACCESS_TOKEN_TTL: must be longer than 0") || strings.Count(log, "\n") != 1 {
		t.Errorf("exit %d, log:\n%s", code, log)
	}

	stderr.Reset()
	code = run(context.Background(), []string{"serve"}, env("GROUP_RULES_REFRESH", "30s", "DATA_DIR", t.TempDir()), nil, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), `GROUP_RULES_REFRESH: must be at least 1m, got \"30s\"`) {
		t.Errorf("GROUP_RULES_REFRESH under a minute: exit %d, log:\n%s", code, stderr.String())
	}

	stderr.Reset()
	code = run(context.Background(), []string{"serve"}, env("PRODUCTION", "true", "DATA_DIR", t.TempDir()), nil, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "PRODUCTION=true needs TOKEN_SECRET") {
		t.Errorf("production without TOKEN_SECRET: exit %d, log:\n%s", code, stderr.String())
	}
}

// TestHelp: help lists every setting with its default, and works with bad
// settings, since it is how one fixes them; each command's -h exits 0.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"help", "-h", "-help", "--help"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{arg}, env("DB_MAX_CONNS", "0"), nil, &stdout, &stderr); code != 0 {
			t.Errorf("%s: exit %d, %s", arg, code, stderr.String())
		}
		for _, s := range settings {
			line := "  " + s.name + " (default: " + strings.ReplaceAll(s.defaultText(), "`", "") + ")\n"
			if !strings.Contains(stdout.String(), line) {
				t.Errorf("%s does not list %q", arg, line)
			}
		}
	}
	for _, args := range [][]string{{"seed", "-h"}, {"user", "create", "-h"}, {"bench", "-h"}} {
		var stdout, stderr bytes.Buffer
		// The flag sets print their usage on os.Stderr, as before.
		if code := run(context.Background(), args, env("DATA_DIR", t.TempDir()), nil, &stdout, &stderr); code != 0 {
			t.Errorf("%s: exit %d, %s", args, code, stderr.String())
		}
	}
}

// TestSettingsLogLine: one line names every setting, with secrets masked.
func TestSettingsLogLine(t *testing.T) {
	getenv := env(
		"DATABASE_URL", "postgres://app:hunter2@db.internal:5432/shop?sslmode=require&password=hunter3",
		"TOKEN_SECRET", "hunter4-hunter4-hunter4-hunter4-hunter4",
		"SMTP_USER", "mailer", "SMTP_PASSWORD", "hunter5", "SMTP_ADDR", "mail.example:587",
		"PRODUCTION", "true", "CORS_ORIGINS", "https://shop.example, https://admin.example",
	)
	c, err := loadConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	logSettings(slog.New(slog.NewTextHandler(&out, nil)), getenv, c)
	line := out.String()
	t.Log(line)
	if strings.Count(line, "\n") != 1 || strings.Contains(line, "hunter") {
		t.Errorf("not one line with secrets masked:\n%s", line)
	}
	for _, want := range []string{
		"DATABASE_URL=\"postgres://app:***@db.internal:5432/shop?sslmode=require&password=***\"",
		"TOKEN_SECRET=***", "SMTP_USER=mailer", "SMTP_PASSWORD=***", "DB_MAX_CONNS=20", "GOMEMLIMIT=44MiB",
		"CORS_ORIGINS=https://shop.example,https://admin.example",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("no %s in %s", want, line)
		}
	}
	for _, s := range settings {
		if !strings.Contains(line, " "+s.name+"=") {
			t.Errorf("%s is not logged", s.name)
		}
	}
}

func TestMaskDatabaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:p@ss@db/shop":                   "postgres://app:***@db/shop",
		"postgresql://app@db/shop":                      "postgresql://app@db/shop",
		"postgres://db/shop?user=app&password=pw&x=1":   "postgres://db/shop?user=app&password=***&x=1",
		"host=db user=app password=pw dbname=shop":      "host=db user=app password=*** dbname=shop",
		"host=db password = 'p w\\'d' dbname=shop":      "host=db password = *** dbname=shop",
		`parse "postgres://app:pw@db:x/shop": bad port`: `parse "postgres://app:***@db:x/shop": bad port`,
		"": "",
		"host=/var/run/postgresql dbname=customerservice": "host=/var/run/postgresql dbname=customerservice",
	} {
		if got := maskDatabaseURL(in); got != want {
			t.Errorf("maskDatabaseURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestREADMESettings keeps README.md's Settings table the settings
// table's; go test -run TestREADMESettings -update-readme rewrites it.
func TestREADMESettings(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	const header = "| variable | default | meaning |\n| --- | --- | --- |\n"
	start := strings.Index(readme, header)
	if start < 0 {
		t.Fatalf("README.md has no table that starts\n%s", header)
	}
	end := start + len(header)
	for end < len(readme) && readme[end] == '|' {
		end += strings.IndexByte(readme[end:], '\n') + 1
	}
	var want strings.Builder
	want.WriteString(header)
	for _, s := range settings {
		want.WriteString("| `" + s.name + "` | " + s.defaultText() + " | " + strings.ReplaceAll(s.help, "|", `\|`) + " |\n")
	}
	if got := readme[start:end]; got != want.String() {
		if *updateREADME {
			if err := os.WriteFile("README.md", []byte(readme[:start]+want.String()+readme[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		gotRows, wantRows := strings.Split(got, "\n"), strings.Split(want.String(), "\n")
		for i := range max(len(gotRows), len(wantRows)) {
			if i >= len(gotRows) || i >= len(wantRows) || gotRows[i] != wantRows[i] {
				t.Errorf("README.md's Settings table differs from settings.go's from row %d:\nREADME:   %s\nsettings: %s\n(go test -run TestREADMESettings -update-readme . rewrites it)",
					i+1, rowAt(gotRows, i), rowAt(wantRows, i))
				break
			}
		}
	}
}

func rowAt(rows []string, i int) string {
	if i < len(rows) {
		return rows[i]
	}
	return "(none)"
}

// TestEnvironmentIsReadThroughTheTable finds every read of the environment
// in the module's code: main hands os.Getenv to the settings table, and
// db/dbtest reads TEST_DATABASE_URL for the tests; a setting anywhere else
// would escape the help, the log line and the README.
func TestEnvironmentIsReadThroughTheTable(t *testing.T) {
	allowed := map[string]string{
		"server.go":           "run(ctx, os.Args[1:], os.Getenv,",
		"db/dbtest/dbtest.go": `os.Getenv("TEST_DATABASE_URL")`,
	}
	read := regexp.MustCompile(`\b(os|syscall)\.(Getenv|LookupEnv|Environ)\b`)
	var found []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(src), "\n") {
			if !read.MatchString(line) {
				continue
			}
			if want, ok := allowed[filepath.ToSlash(path)]; ok && strings.Contains(line, want) {
				continue
			}
			found = append(found, path+": "+strings.TrimSpace(line))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(found)
	for _, f := range found {
		t.Errorf("reads the environment outside the settings table (settings.go): %s", f)
	}
}
