package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"customerservice/db/dbtest"
)

// binary is the server started as its own process in production mode,
// with env on top of the test's environment; its JSON log lines arrive on
// lines, and it has exited when exited is closed.
type binary struct {
	cmd    *exec.Cmd
	lines  chan map[string]any
	exited chan struct{}
	err    error
}

func startBinary(t *testing.T, env ...string) *binary {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{serveForTest + "=1", "ADDR=127.0.0.1:0", "PRODUCTION=true",
		"DEMO_CUSTOMERS=0", "DATA_DIR=" + t.TempDir()}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &binary{cmd: cmd, lines: make(chan map[string]any, 1000), exited: make(chan struct{})}
	go func() {
		scanner := bufio.NewScanner(stderr)
		for scanner.Scan() {
			var line map[string]any
			if json.Unmarshal(scanner.Bytes(), &line) != nil {
				line = map[string]any{"msg": scanner.Text(), "not_json": true}
			}
			b.lines <- line
		}
		b.err = cmd.Wait()
		close(b.lines)
		close(b.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-b.exited
	})
	return b
}

// until returns the first log line for which match is true, or nil when
// the process ended first.
func (b *binary) until(match func(map[string]any) bool) map[string]any {
	for line := range b.lines {
		if match(line) {
			return line
		}
	}
	return nil
}

// PRODUCTION=true refuses to start without TOKEN_SECRET (it would sign
// tokens with a secret of its own, which other servers do not share) or
// without SMTP_ADDR (it would write reset and transfer tokens to the log):
// the process exits with an error and never serves.
func TestProductionRefusesToStartWithoutSecretOrMail(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	const secret = "TOKEN_SECRET=0123456789abcdef0123456789abcdef"
	for name, env := range map[string][]string{
		"no TOKEN_SECRET":             {"DATABASE_URL=" + url, "SMTP_ADDR=127.0.0.1:2525"},
		"no SMTP_ADDR":                {"DATABASE_URL=" + url, secret},
		"neither":                     {"DATABASE_URL=" + url},
		"an empty TOKEN_SECRET, mail": {"DATABASE_URL=" + url, "TOKEN_SECRET=", "SMTP_ADDR=127.0.0.1:2525"},
	} {
		b := startBinary(t, env...)
		served := b.until(func(l map[string]any) bool { return l["msg"] == "serving" })
		<-b.exited
		if served != nil {
			t.Errorf("%s: the server started: %v", name, served)
		}
		var exit *exec.ExitError
		if !errors.As(b.err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%s: exit %v, want status 1", name, b.err)
		}
	}
	// With both, it starts; the refusal is about them, not about
	// production.
	b := startBinary(t, "DATABASE_URL="+url, secret, "SMTP_ADDR=127.0.0.1:2525")
	if b.until(func(l map[string]any) bool { return l["msg"] == "serving" }) == nil {
		t.Fatalf("production with TOKEN_SECRET and SMTP_ADDR did not start: %v", b.err)
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	<-b.exited
	if b.err != nil {
		t.Errorf("stopped with %v, want a clean exit on SIGTERM", b.err)
	}
}

// The log says why a production start was refused.
func TestProductionRefusalIsLogged(t *testing.T) {
	t.Parallel()
	b := startBinary(t, "DATABASE_URL="+dbtest.URL(t))
	line := b.until(func(l map[string]any) bool { return l["level"] == "ERROR" })
	if line == nil || !strings.Contains(line["msg"].(string), "PRODUCTION=true needs TOKEN_SECRET") || !strings.Contains(line["msg"].(string), "SMTP_ADDR") {
		t.Errorf("refusal logged as %v", line)
	}
}

// One JSON log line per request, with the request id a caller sent when it
// looks like one, and a new one otherwise, as the answer's X-Request-Id
// says (README, "Serving in production"). An order asked for without a
// token is refused before any statement.
func TestRequestLogLineThroughTheBinary(t *testing.T) {
	t.Parallel()
	b := startBinary(t, "DATABASE_URL="+dbtest.URL(t), "TOKEN_SECRET=0123456789abcdef0123456789abcdef", "SMTP_ADDR=127.0.0.1:2525")
	serving := b.until(func(l map[string]any) bool { return l["msg"] == "serving" })
	if serving == nil {
		t.Fatalf("the server did not start: %v", b.err)
	}
	url, _ := serving["graphql"].(string)
	send := func(id string) string {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"query":"{ order(id: \"order_x\") { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header["X-Request-Id"] = []string{id}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Request-Id")
	}
	for _, tt := range []struct {
		sent string
		kept bool
	}{{"trace-42.a:b_c", true}, {"not an id; it has spaces", false}, {strings.Repeat("x", 65), false}} {
		answered := send(tt.sent)
		if (answered == tt.sent) != tt.kept || answered == "" {
			t.Errorf("X-Request-Id %q answered as %q, kept: want %v", tt.sent, answered, tt.kept)
		}
		line := b.until(func(l map[string]any) bool { return l["msg"] == "request" })
		if line == nil {
			t.Fatalf("no request line: %v", b.err)
		}
		want := map[string]any{"level": "INFO", "request_id": answered, "method": "POST", "path": "/graphql",
			"operation": "query order", "status": float64(200), "sql_statements": float64(0), "loader_misses": float64(0)}
		for k, v := range want {
			if line[k] != v {
				t.Errorf("%q: log %s = %v, want %v (%v)", tt.sent, k, line[k], v, line)
			}
		}
		if codes, _ := line["error_codes"].([]any); len(codes) != 1 || codes[0] != "UNAUTHORIZED" {
			t.Errorf("%q: error_codes = %v, want [UNAUTHORIZED]", tt.sent, line["error_codes"])
		}
	}
}
