//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"customerservice/db/dbtest"
	"customerservice/db/seed"
)

// artifact returns where a test keeps a file for people to look at: in
// TEST_ARTIFACTS when set (.ci/run sets it), else in the test's temporary
// folder.
func artifact(t *testing.T, name string) string {
	dir := os.Getenv("TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// TestPlaygroundInChromium opens the Playground in headless Chromium with
// every request to another host refused: the page loads from the server
// alone, the Docs pane lists Customer's fields from introspection, and a
// query sent with an Authorization header shows its data.
func TestPlaygroundInChromium(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(dbtest.URL(t), t.TempDir())
	a, err := newApp(ctx, cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if err := seed.Load(ctx, a.db.pool, 3, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	token := adminToken(t, a)
	srv := httptest.NewServer(a.web)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browser, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	browser, cancelTimeout := context.WithTimeout(browser, 90*time.Second)
	defer cancelTimeout()

	// Every request the page makes is paused here: the server's go on, any
	// other host's are refused and recorded.
	var (
		mu        sync.Mutex
		elsewhere []string
	)
	paused := chromedp.Events(browser, fetch.RequestPaused)
	messages := chromedp.Console(browser)
	if _, err := chromedp.Call(browser, fetch.Enable, fetch.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if strings.HasPrefix(ev.Request.URL, srv.URL+"/") {
				chromedp.Call(browser, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			mu.Lock()
			elsewhere = append(elsewhere, ev.Request.URL)
			mu.Unlock()
			chromedp.Call(browser, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
		}
	}()
	var problems []string
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(browser, actions...); err != nil {
			if shot, err := chromedp.Run(browser, chromedp.FullScreenshot(100)); err == nil {
				os.WriteFile(artifact(t, "playground-failed.png"), shot, 0o644)
			}
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("%s: %v (page errors: %v; other hosts: %v)", what, err, problems, elsewhere)
		}
	}
	poll := func(what, expression string) {
		t.Helper()
		if _, err := chromedp.Run(browser, chromedp.Poll[bool](expression, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			step(what, chromedp.Evaluate[chromedp.Void](`throw new Error("timed out")`))
		}
	}
	docs := []chromedp.Action[chromedp.Void]{
		chromedp.Click(chromedp.CSS(`button[aria-label="Show Documentation Explorer"]`)),
		chromedp.Click(chromedp.Search(`//a[contains(@class,"graphiql-doc-explorer-type-name") and text()="Query"]`)),
		chromedp.Click(chromedp.Search(`//a[contains(@class,"graphiql-doc-explorer-type-name") and text()="Customer"]`)),
		chromedp.WaitVisible(chromedp.Search(`//a[contains(@class,"graphiql-doc-explorer-field-name") and text()="addresses"]`)),
	}
	step("open the Playground", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`.graphiql-container`)))
	// The Docs pane, from introspection: the schema's root, then Query,
	// then Customer and its fields.
	step("open the docs", docs...)

	// The admin list's tab, with a token pasted into its headers, as a
	// person does, and run.
	headers := chromedp.CSS(`section.graphiql-editor-tool div.graphiql-editor:not(.hidden) .view-lines`)
	// The headers are one line: select it (End, then Shift-Home), paste
	// over it, and delete what the editor closed by itself after the
	// cursor (a quote and a brace).
	paste := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: `{"Authorization": "Bearer ` + token + `"}`})
		return err
	})
	step("run the admin list with a token",
		chromedp.Click(chromedp.Search(`//button[normalize-space()="AdminCustomerList"]`)),
		chromedp.Click(headers),
		chromedp.KeyEvent(kb.End),
		chromedp.KeyEvent(kb.Home, chromedp.KeyModifiers(chromedp.ModifierShift)),
		paste,
		chromedp.KeyEvent(kb.End, chromedp.KeyModifiers(chromedp.ModifierShift)),
		chromedp.KeyEvent(kb.Delete),
		chromedp.Click(chromedp.CSS(`button.graphiql-execute-button`)))
	poll("see the answer", `document.querySelector(".graphiql-response")?.innerText.includes("customer1@example.com")`)
	shot, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := artifact(t, "playground.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)

	// The Live tab: a subscription over a WebSocket, whose token goes in
	// connection_init; a change made elsewhere shows up in its answer.
	step("run the Live tab with a token",
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Live"]`)),
		// GraphiQL reads the tab's operation name from its editor a moment
		// later; run sooner, and it sends the previous tab's.
		chromedp.Sleep(time.Second),
		chromedp.Click(headers),
		chromedp.KeyEvent(kb.End),
		chromedp.KeyEvent(kb.Home, chromedp.KeyModifiers(chromedp.ModifierShift)),
		paste,
		chromedp.KeyEvent(kb.End, chromedp.KeyModifiers(chromedp.ModifierShift)),
		chromedp.KeyEvent(kb.Delete),
		chromedp.Click(chromedp.CSS(`button.graphiql-execute-button`)))
	// The subscription starts once the server has it, which nothing
	// acknowledges: rename a customer until the change shows.
	c := &client{base: srv.URL, token: token, http: &http.Client{Timeout: 10 * time.Second}}
	var ids struct{ Items []struct{ ID string } }
	r, err := c.post(`{ customers(limit: 1) { items { id } } }`)
	if err != nil || json.Unmarshal(r.Data["customers"], &ids) != nil || len(ids.Items) == 0 {
		t.Fatalf("a customer to rename: %v %+v", err, r.Errors)
	}
	shown := false
	for i := 0; i < 20 && !shown; i++ {
		name := fmt.Sprintf("Live%d", i)
		if r, err := c.post(fmt.Sprintf(`mutation { update_customer(id: %q, input: {first_name: %q}) { id } }`, ids.Items[0].ID, name)); err != nil || len(r.Errors) > 0 {
			t.Fatalf("rename: %v %+v", err, r.Errors)
		}
		_, err := chromedp.Run(browser, chromedp.Poll[bool](`document.querySelector(".graphiql-response")?.innerText.includes("`+name+`")`,
			chromedp.WithPollingTimeout(time.Second)))
		shown = err == nil
	}
	if !shown {
		step("see the change live", chromedp.Evaluate[chromedp.Void](`throw new Error("no change shown")`))
	}
	if shot, err = chromedp.Run(browser, chromedp.FullScreenshot(100)); err != nil {
		t.Fatal(err)
	}
	path = artifact(t, "playground-live.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)

	mu.Lock()
	defer mu.Unlock()
	if len(elsewhere) > 0 {
		t.Errorf("the page asked other hosts: %v", elsewhere)
	}
	if len(problems) > 0 {
		t.Errorf("errors in the page: %v", problems)
	}
}

func mustJSON(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// chromiumPath is Debian's Chromium, which .ci/run installs.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: apt-get install chromium (.ci/run does)")
	return ""
}
