package playground_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"customerservice/playground"
)

func get(tb testing.TB, h http.Handler, path, acceptEncoding string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestPage checks the page loads only files the server serves, and carries
// the endpoint and the welcome tabs.
func TestPage(t *testing.T) {
	h := playground.Handler("/graphql")
	rec := get(t, h, "/", "")
	page := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("/: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("the page refers to another host:\n%s", page)
	}
	config := regexp.MustCompile(`(?s)<script id="config" type="application/json">(.*?)</script>`).FindStringSubmatch(page)
	if config == nil {
		t.Fatalf("no configuration in the page:\n%s", page)
	}
	var c struct {
		Endpoint string
		Tabs     []struct{ Query, Headers string }
	}
	if err := json.Unmarshal([]byte(config[1]), &c); err != nil {
		t.Fatalf("configuration: %v\n%s", err, config[1])
	}
	if c.Endpoint != "/graphql" || len(c.Tabs) < 3 || !strings.Contains(c.Tabs[0].Query, "mutation Login") ||
		c.Tabs[0].Headers != "" || !strings.Contains(c.Tabs[1].Headers, "Authorization") {
		t.Errorf("configuration: %+v", c)
	}
	for _, src := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if rec := get(t, h, src[1], "gzip"); rec.Code != 200 {
			t.Errorf("%s: %d", src[1], rec.Code)
		}
	}
}

// TestAssets checks the bundled files go out gzipped as stored, unzipped to
// a client that takes no gzip, with their types.
func TestAssets(t *testing.T) {
	h := playground.Handler("/graphql")
	zipped := get(t, h, "/playground/main.js", "gzip, deflate, br")
	if zipped.Code != 200 || zipped.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(zipped.Header().Get("Content-Type"), "javascript") {
		t.Fatalf("main.js gzipped: %d %v", zipped.Code, zipped.Header())
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	plain := get(t, h, "/playground/main.js", "identity")
	if plain.Header().Get("Content-Encoding") != "" || !bytes.Equal(plain.Body.Bytes(), unzipped) {
		t.Errorf("main.js unzipped: %v, %d bytes, want %d", plain.Header(), plain.Body.Len(), len(unzipped))
	}
	// GraphiQL, and the workers its editor loads.
	for _, want := range []string{"graphiql", "MonacoEnvironment"} {
		if !bytes.Contains(unzipped, []byte(want)) {
			t.Errorf("main.js lacks %q", want)
		}
	}
	for _, name := range []string{"main.css", "editor.worker.js", "json.worker.js", "graphql.worker.js"} {
		if rec := get(t, h, "/playground/"+name, "gzip"); rec.Code != 200 {
			t.Errorf("%s: %d", name, rec.Code)
		}
	}
	for _, missing := range []string{"/playground/nope.js", "/playground/..%2fplayground.go", "/playground/"} {
		if rec := get(t, h, missing, "gzip"); rec.Code != 404 {
			t.Errorf("%s: %d, want 404", missing, rec.Code)
		}
	}
}
