// Package playground serves GraphiQL, the GraphQL IDE, from files built
// into the binary: it works without a network, with the server's own
// endpoint, docs and completion from introspection, and welcome tabs that
// show how to log in and where the token goes.
//
// The files in assets are GraphiQL, React and Monaco's workers, bundled
// from the npm packages that build/package-lock.json pins (and checks by
// their integrity hashes) and gzipped; `go generate ./playground` builds
// them again.
package playground

//go:generate sh -c "cd build && npm ci --ignore-scripts --no-audit --no-fund && node build.mjs"

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
)

//go:embed assets tabs
var files embed.FS

// tab is a tab GraphiQL opens with.
type tab struct {
	Query   string `json:"query"`
	Headers string `json:"headers,omitempty"`
}

// Handler serves the Playground at / and its files under /playground/ (and
// an empty /favicon.ico),
// calling the GraphQL endpoint at endpoint.
func Handler(endpoint string) http.Handler {
	page, err := indexPage(endpoint)
	if err != nil {
		// The tabs and the template are part of the binary: an error is a
		// bug of the build, found by the package's tests.
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(page)
	})
	mux.HandleFunc("GET /playground/{file}", serveAsset)
	// Browsers ask for it on every visit; there is none, and saying so
	// without an error keeps their consoles clean.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// indexPage is the Playground's page: GraphiQL's script and style, and its
// configuration (the endpoint and the tabs) as JSON.
func indexPage(endpoint string) ([]byte, error) {
	names, err := fs.Glob(files, "tabs/*.graphql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var tabs []tab
	for _, name := range names {
		q, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		t := tab{Query: string(q)}
		if !strings.Contains(name, "welcome") {
			t.Headers = `{"Authorization": "Bearer <token from the Login tab>"}`
		}
		tabs = append(tabs, t)
	}
	config, err := json.Marshal(map[string]any{"endpoint": endpoint, "tabs": tabs})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = pageTemplate.Execute(&b, template.JS(config))
	return b.Bytes(), err
}

var pageTemplate = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Customer service · Playground</title>
<link rel="stylesheet" href="/playground/main.css">
<style>body { margin: 0; } #graphiql { height: 100dvh; }</style>
</head>
<body>
<div id="graphiql">Loading the Playground…</div>
<script id="config" type="application/json">{{.}}</script>
<script type="module" src="/playground/main.js"></script>
</body>
</html>
`))

// serveAsset sends a bundled file as it is stored, gzipped, or unzipped
// for a client that does not take gzip.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	data, err := files.ReadFile(path.Join("assets", name+".gz"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	// The files change only with the binary; an hour spares reloads
	// without keeping an old Playground long after an upgrade.
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(data)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		http.Error(w, "corrupt asset", http.StatusInternalServerError)
		return
	}
	io.Copy(w, zr)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
