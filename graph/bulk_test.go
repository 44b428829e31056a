package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"customerservice/graph"
)

// upload sends import_customers as a browser or curl -F would: a multipart
// request of the GraphQL multipart request specification, over real HTTP.
func upload(tb testing.TB, url, token, file, options string) (int, response) {
	tb.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("operations", `{"query": "mutation ($file: Upload!) { import_customers(file: $file, options: `+options+`) { id status dry_run on_conflict format file_size } }", "variables": {"file": null}}`)
	mw.WriteField("map", `{"0": ["variables.file"]}`)
	part, _ := mw.CreateFormFile("0", "customers.csv")
	io.WriteString(part, file)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var resp response
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &resp); err != nil {
		tb.Fatalf("not JSON (%d): %s", res.StatusCode, b)
	}
	for _, e := range resp.Errors {
		checkNoLeak(tb, e)
	}
	return res.StatusCode, resp
}

type importJob struct {
	ID, Status, Format string
	DryRun             bool   `json:"dry_run"`
	OnConflict         string `json:"on_conflict"`
	RowsDone           int    `json:"rows_done"`
	Created, Failed    int
	ErrorCode          *string `json:"error_code"`
	Errors             []struct {
		Line         int
		Column, Code string
	}
}

// waitForJob polls import_job until the run in the background ends.
func (a *api) waitForJob(id string) importJob {
	a.tb.Helper()
	for range 6000 {
		var got struct {
			ImportJob importJob `json:"import_job"`
		}
		a.query(`query ($id: ID!) { import_job(id: $id) { id status format dry_run on_conflict rows_done created failed error_code errors { line column code message } } }`,
			map[string]any{"id": id}, &got)
		if got.ImportJob.Status != "RUNNING" {
			return got.ImportJob
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.tb.Fatalf("import job %s still runs", id)
	return importJob{}
}

const importHeader = "email,has_account,first_name,groups,address_1,address_country_code\n"

func TestImportUploadOverHTTP(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	srv := httptest.NewServer(a.h)
	defer srv.Close()
	file := importHeader + "ann@example.com,true,Ann,VIP,1 Main St,us\nbob@example.com,false,Bob,,,\n"

	status, resp := upload(t, srv.URL, a.token, file, `{dry_run: true}`)
	var started struct {
		ImportCustomers importJob `json:"import_customers"`
	}
	if status != http.StatusOK || len(resp.Errors) > 0 || json.Unmarshal(resp.Data, &started) != nil || !started.ImportCustomers.DryRun {
		t.Fatalf("dry run: %d %s %+v", status, resp.Data, resp.Errors)
	}
	job := a.waitForJob(started.ImportCustomers.ID)
	if job.Status != "FAILED" || job.Failed != 1 || job.Errors[0].Column != "groups" || job.Errors[0].Code != "NOT_FOUND" || job.Created != 1 {
		t.Errorf("dry run without the group: %+v", job)
	}

	_, resp = upload(t, srv.URL, a.token, file, `{create_groups: true, on_conflict: SKIP}`)
	json.Unmarshal(resp.Data, &started)
	if job := a.waitForJob(started.ImportCustomers.ID); job.Status != "SUCCEEDED" || job.Created != 2 || job.RowsDone != 2 || job.OnConflict != "SKIP" {
		t.Errorf("import: %+v", job)
	}
	var list struct {
		Customers struct {
			Count int
			Items []struct {
				Email  string
				Groups []struct{ Name string }
			}
		}
	}
	a.query(`{ customers(order: "email") { count items { email groups { name } } } }`, nil, &list)
	if list.Customers.Count != 2 || list.Customers.Items[0].Email != "ann@example.com" || len(list.Customers.Items[0].Groups) != 1 {
		t.Errorf("customers after the import: %+v", list)
	}
	// The admin made them: the events say so.
	var events struct {
		CustomerEvents struct{ Items []loggedEvent } `json:"customer_events"`
	}
	a.query(`{ customer_events(filter: {types: ["customer.created"]}) { items { `+eventFields+` } } }`, nil, &events)
	if len(events.CustomerEvents.Items) != 2 || events.CustomerEvents.Items[0].ActorType != "USER" || str(events.CustomerEvents.Items[0].ActorID) != a.adminID {
		t.Errorf("the import's events: %+v", events.CustomerEvents.Items)
	}

	// A file refused for its header is answered at once, with its code.
	_, resp = upload(t, srv.URL, a.token, "email,shoe_size\na@example.com,42\n", `{}`)
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "FILE_UNKNOWN_COLUMN" {
		t.Errorf("unknown column: %+v", resp.Errors)
	}
	// One refused as it is read fails its job, with its code.
	_, resp = upload(t, srv.URL, a.token, importHeader+"c@example.com,,\"Carol,,,\n", `{}`)
	json.Unmarshal(resp.Data, &started)
	if job := a.waitForJob(started.ImportCustomers.ID); job.Status != "FAILED" || job.ErrorCode == nil || *job.ErrorCode != "FILE_MALFORMED" {
		t.Errorf("quote left open: %+v", job)
	}
}

// TestImportAndExportAreAdminOnly: anonymous callers, customers and a
// link's holder without a valid signature get nothing.
func TestImportAndExportAreAdminOnly(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	srv := httptest.NewServer(a.h)
	defer srv.Close()
	customer, _ := a.signUp("buyer@example.com", "a good password 1")
	for name, token := range map[string]string{"anonymous": "", "customer": customer} {
		_, resp := upload(t, srv.URL, token, importHeader+"x@example.com,,,,,\n", `{}`)
		if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "UNAUTHORIZED" && resp.Errors[0].Extensions["code"] != "NOT_ALLOWED" {
			t.Errorf("%s import: %+v", name, resp.Errors)
		}
		for _, q := range []string{`mutation { export_customers { url } }`, `{ import_job(id: "impjob_01M90CWC75JZNYPBXEHK01DPSH") { id } }`} {
			resp := a.as(token).do(q, nil)
			if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "UNAUTHORIZED" && resp.Errors[0].Extensions["code"] != "NOT_ALLOWED" {
				t.Errorf("%s %s: %+v", name, q, resp.Errors)
			}
		}
	}
	if n := count(t, a, `SELECT count(*) FROM customer WHERE email = 'x@example.com'`); n != 0 {
		t.Errorf("a refused upload imported")
	}
	for _, path := range []string{"/exports/nothing", "/exports/e30.AAAA"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "UNAUTHORIZED") {
			t.Errorf("GET %s: %d %s", path, res.StatusCode, b)
		}
	}
	resp := a.do(`{ import_job(id: "impjob_01M90CWC75JZNYPBXEHK01DPSH") { id } }`, nil)
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "NOT_FOUND" {
		t.Errorf("an unknown job: %+v", resp.Errors)
	}
}

func TestUploadLimits(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(o *graph.Options) { o.MaxUpload = 4096 })
	srv := httptest.NewServer(a.h)
	defer srv.Close()
	big := importHeader + strings.Repeat("someone@example.com,,,,,\n", 200)
	status, resp := upload(t, srv.URL, a.token, big, `{}`)
	if status != http.StatusRequestEntityTooLarge || len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "PAYLOAD_TOO_LARGE" {
		t.Errorf("too large: %d %+v", status, resp.Errors)
	}
	// An Idempotency-Key is refused: the same file sent again resumes its
	// job instead.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("operations", `{"query": "{ __typename }"}`)
	mw.Close()
	keyed, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", &body)
	keyed.Header.Set("Content-Type", mw.FormDataContentType())
	keyed.Header.Set("Idempotency-Key", "k1")
	if res, err := http.DefaultClient.Do(keyed); err != nil || res.StatusCode != http.StatusBadRequest {
		t.Errorf("an upload with an Idempotency-Key: %v %v", res.StatusCode, err)
	} else {
		res.Body.Close()
	}
	// Without a length, the body's size is not known before it is read.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", io.MultiReader(strings.NewReader("--x\r\n")))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.ContentLength = -1
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusLengthRequired {
		t.Errorf("chunked upload: %d", res.StatusCode)
	}
}

func TestExportDownload(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	srv := httptest.NewServer(a.h)
	defer srv.Close()
	a.createCustomer(map[string]any{"email": "guest@example.com", "first_name": "Gus"})
	a.createCustomer(map[string]any{"email": "other@example.com"})
	var got struct {
		ExportCustomers struct{ URL, ExpiresAt string } `json:"export_customers"`
	}
	a.query(`mutation { export_customers(filter: {q: "gus"}, format: JSONL) { url expires_at } }`, nil, &got)
	if !strings.HasPrefix(got.ExportCustomers.URL, "/exports/") {
		t.Fatalf("url: %+v", got)
	}
	res, err := http.Get(srv.URL + got.ExportCustomers.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/x-ndjson" ||
		strings.Count(string(b), "\n") != 1 || !strings.Contains(string(b), `"email":"guest@example.com"`) {
		t.Errorf("download: %d %s %s", res.StatusCode, res.Header, b)
	}
	// The downloaded file imports as it is.
	_, resp := upload(t, srv.URL, a.token, string(b), `{on_conflict: SKIP}`)
	var started struct {
		ImportCustomers importJob `json:"import_customers"`
	}
	json.Unmarshal(resp.Data, &started)
	if job := a.waitForJob(started.ImportCustomers.ID); job.Status != "SUCCEEDED" || job.Format != "JSONL" {
		t.Errorf("re-import: %+v", job)
	}
	resp = a.do(`mutation { export_customers(filter: {q: "`+strings.Repeat("x", 300)+`"}) { url } }`, nil)
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "INVALID_DATA" {
		t.Errorf("bad filter: %+v", resp.Errors)
	}
}

func count(tb testing.TB, a *api, query string) int {
	tb.Helper()
	var n int
	if err := a.pool.Get(&n, query); err != nil {
		tb.Fatal(err)
	}
	return n
}

var _ = fmt.Sprint
