package bulk_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"customerservice/bulk"
	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/errcode"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func newService(tb testing.TB) *bulk.Service {
	tb.Helper()
	links, err := bulk.NewLinks([]byte("a test secret of at least 32 bytes!!"), 0)
	if err != nil {
		tb.Fatal(err)
	}
	return &bulk.Service{DB: dbtest.New(tb), Links: links}
}

// importFile runs an import of content to its end and returns its job.
func importFile(tb testing.TB, s *bulk.Service, content string, opts bulk.Options) *db.ImportJob {
	tb.Helper()
	f := strings.NewReader(content)
	job, err := s.Begin(context.Background(), f, "customers", opts, nil)
	if err != nil {
		tb.Fatalf("begin: %v", err)
	}
	job, err = s.Run(context.Background(), job, f, nil)
	if err != nil {
		tb.Fatalf("run: %v", err)
	}
	return job
}

// exported is the export of every customer of s's database, as format.
func exported(tb testing.TB, s *bulk.Service, f db.CustomerFilter, format db.FileFormat) string {
	tb.Helper()
	var b bytes.Buffer
	if _, err := s.Export(context.Background(), &b, f, format, nil); err != nil {
		tb.Fatalf("export: %v", err)
	}
	return b.String()
}

func count(tb testing.TB, pool *sqlx.DB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := pool.Get(&n, query, args...); err != nil {
		tb.Fatal(err)
	}
	return n
}

const header = "email,has_account,first_name,last_name,phone,company_name,metadata,groups,address_name,address_company,address_first_name,address_last_name,address_1,address_2,address_city,address_province,address_postal_code,address_country_code,address_phone,address_is_default_shipping,address_is_default_billing,address_metadata\n"

func TestCleanImport(t *testing.T) {
	t.Parallel()
	s := newService(t)
	file := header +
		`Ann@Example.com,true,Ann,Lee,+1 555 0100,Acme,"{""tier"": 2, ""big"": 12345678901234567890}",VIP;Wholesale,home,,Ann,Lee,1 Main St,,Springfield,IL,62701,US,,true,true,` + "\n" +
		`ann@example.com,true,,,,,,,work,Acme,,,2 Work Rd,,Springfield,,62702,us,,false,false,"{""floor"": 3}"` + "\n" +
		`bob@example.com,false,Bob,,,,,,,,,,,,,,,,,,,` + "\n" +
		`carol@example.com,,Carol,,,,,vip,,,,,9 Elm St,,Paris,,75001,fr,,,,` + "\n"
	job := importFile(t, s, file, bulk.Options{CreateGroups: true})
	if job.Status != db.ImportSucceeded || job.Created != 3 || job.RowsDone != 3 || job.Failed != 0 || len(job.Errors) != 0 {
		t.Fatalf("job: %+v", job)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM customer`); n != 3 {
		t.Errorf("%d customers, want 3", n)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM customer_address a JOIN customer c ON c.id = a.customer_id WHERE c.email = 'ann@example.com'`); n != 2 {
		t.Errorf("ann has %d addresses, want 2", n)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM customer_group`); n != 2 {
		t.Errorf("%d groups, want 2 (vip is VIP)", n)
	}
	if n := count(t, s.DB, `SELECT member_count FROM customer_group WHERE name = 'VIP'`); n != 2 {
		t.Errorf("VIP has %d members, want 2", n)
	}
	var meta string
	s.DB.Get(&meta, `SELECT metadata::text FROM customer WHERE email = 'ann@example.com'`)
	if !strings.Contains(meta, "12345678901234567890") {
		t.Errorf("metadata %s lost digits", meta)
	}
	// One event per customer, address and membership, as the mutations
	// write them.
	if n := count(t, s.DB, `SELECT count(*) FROM event WHERE type = 'customer.created'`); n != 3 {
		t.Errorf("%d customer.created events, want 3", n)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM event WHERE type = 'customer_address.created'`); n != 3 {
		t.Errorf("%d customer_address.created events, want 3", n)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM event WHERE type = 'customer_group.customer_added'`); n != 3 {
		t.Errorf("%d customer_added events, want 3", n)
	}
}

func TestImportJSONLines(t *testing.T) {
	t.Parallel()
	s := newService(t)
	file := `{"email": "a@example.com", "has_account": true, "first_name": "A", "metadata": {"n": 1}, "groups": ["G"], "addresses": [{"address_1": "1 Main", "country_code": "de", "is_default_billing": true}]}` + "\n\n" +
		`{"email": "b@example.com"}` + "\n"
	job := importFile(t, s, file, bulk.Options{CreateGroups: true})
	if job.Status != db.ImportSucceeded || job.Created != 2 || job.Format != db.FormatJSONL {
		t.Fatalf("job: %+v", job)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM customer_address WHERE is_default_billing AND country_code = 'de'`); n != 1 {
		t.Errorf("%d addresses, want 1", n)
	}
}

// TestDryRunReportsEveryRowError: every kind of row fault, with its line,
// column and code, counted, and nothing written.
func TestDryRunReportsEveryRowError(t *testing.T) {
	t.Parallel()
	s := newService(t)
	importFile(t, s, header+"taken@example.com,false,,,,,,,,,,,,,,,,,,,,\n", bulk.Options{})
	long := strings.Repeat("x", 256)
	big := `"{""k"": ""` + strings.Repeat("y", 17<<10) + `""}"`
	lines := []struct {
		line, column string
		code         errcode.Code
	}{
		{"not-an-email,,,,,,,,,,,,,,,,,,,,,", "email", errcode.InvalidData},
		{",,,,,,,,,,,,,,,,,,,,,", "email", errcode.InvalidData},
		{"a1@example.com,,,,,,,,,,,,,,,,,zz,,,,", "address_country_code", errcode.InvalidData},
		{"a2@example.com,," + long + ",,,,,,,,,,,,,,,,,,,", "first_name", errcode.InvalidData},
		{"a3@example.com,,,,,,[1],,,,,,,,,,,,,,,", "metadata", errcode.InvalidData},
		{"a4@example.com,,,,,," + big + ",,,,,,,,,,,,,,,", "metadata", errcode.InvalidData},
		{"a5@example.com,,,,call me,,,,,,,,,,,,,,,,,", "phone", errcode.InvalidData},
		{"a6@example.com,maybe,,,,,,,,,,,,,,,,,,,,", "has_account", errcode.InvalidData},
		{"a7@example.com,,,,,,,,,,,,,,,,,,,,", "", errcode.InvalidData}, // a field short
		{"a8@example.com,,,,,,,Nope,,,,,,,,,,,,,,", "groups", errcode.NotFound},
		{"a9@example.com,,,,,,,,,,,,1 A St,,,,,,,true,,\na9@example.com,,,,,,,,,,,,2 B St,,,,,,,true,,", "address_is_default_shipping", errcode.InvalidData},
		{"a10@example.com,,,,,,,,,,,,,,,,,,,,,\nA10@EXAMPLE.COM,false,X,,,,,,,,,,,,,,,,,,,", "email", errcode.DuplicateError},
		{"Taken@Example.com,false,,,,,,,,,,,,,,,,,,,,", "email", errcode.DuplicateError},
		{"a11@example.com,,,Lee\u202e,,,,,,,,,,,,,,,,,,", "last_name", errcode.InvalidData},
		{"a12@example.com,,,,,,,,,,,,,,,,,,,,,", "", ""}, // fine
	}
	var b strings.Builder
	b.WriteString(header)
	var want []string
	line := 2
	for _, l := range lines {
		b.WriteString(l.line + "\n")
		if l.code != "" {
			at := line + strings.Count(l.line, "\n") // the duplicate is the last line
			if l.column == "address_is_default_shipping" {
				at = line
			}
			want = append(want, fmt.Sprintf("%d %s %s", at, l.column, l.code))
		}
		line += strings.Count(l.line, "\n") + 1
	}
	before := count(t, s.DB, `SELECT count(*) FROM event`)
	job := importFile(t, s, b.String(), bulk.Options{DryRun: true})
	if job.ErrorMessage != nil {
		t.Log(*job.ErrorMessage)
	}
	var got []string
	for _, e := range job.Errors {
		got = append(got, fmt.Sprintf("%d %s %s", e.Line, e.Column, e.Code))
		if e.Message == "" {
			t.Errorf("error without a message: %+v", e)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// a10's first line is fine: 2 rows would be created (a10, a12).
	if job.Failed != int64(len(want)) || job.Created != 2 || job.Status != db.ImportFailed || job.RowsDone != int64(len(lines)+1) {
		t.Errorf("job: failed %d created %d status %s rows %d", job.Failed, job.Created, job.Status, job.RowsDone)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM customer`); n != 1 {
		t.Errorf("a dry run wrote: %d customers", n)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM event`); n != before {
		t.Errorf("a dry run wrote %d events", n-before)
	}
	stored, err := db.ImportJobByID(context.Background(), s.DB, job.ID)
	if err != nil || len(stored.Errors) != len(want) || stored.Failed != job.Failed {
		t.Errorf("stored job: %+v, %v", stored, err)
	}
}

// TestDuplicatesInBothAccountKindsAndCases: a guest and a registered
// customer may share an email; the same kind twice may not, in any letter
// case, in the file or against the database.
func TestDuplicatesInBothAccountKindsAndCases(t *testing.T) {
	t.Parallel()
	s := newService(t)
	importFile(t, s, header+"guest@example.com,false,,,,,,,,,,,,,,,,,,,,\nuser@example.com,true,,,,,,,,,,,,,,,,,,,,\n", bulk.Options{})
	file := header +
		"GUEST@example.com,false,,,,,,,,,,,,,,,,,,,,\n" + // line 2: the database's guest
		"guest@EXAMPLE.com,true,,,,,,,,,,,,,,,,,,,,\n" + // 3: a registered one: new
		"User@Example.com,true,,,,,,,,,,,,,,,,,,,,\n" + // 4: the database's registered one
		"user@example.com,false,,,,,,,,,,,,,,,,,,,,\n" + // 5: a guest: new
		"new@example.com,false,A,,,,,,,,,,,,,,,,,,,\n" + // 6: new
		"NEW@example.com,false,B,,,,,,,,,,,,,,,,,,,\n" + // 7: line 6 again
		"new@example.com,true,C,,,,,,,,,,,,,,,,,,,\n" + // 8: the registered one: new
		"New@Example.Com,TRUE,D,,,,,,,,,,,,,,,,,,,\n" // 9: line 8 again
	job := importFile(t, s, file, bulk.Options{DryRun: true})
	var got []string
	for _, e := range job.Errors {
		got = append(got, fmt.Sprintf("%d %s", e.Line, e.Code))
	}
	want := "2 DUPLICATE_ERROR,4 DUPLICATE_ERROR,7 DUPLICATE_ERROR,9 DUPLICATE_ERROR"
	if strings.Join(got, ",") != want || job.Created != 4 {
		t.Errorf("errors %v, created %d; want %s and 4", got, job.Created, want)
	}
	if !strings.Contains(job.Errors[2].Message, "line 6") {
		t.Errorf("a duplicate in the file names the first line: %q", job.Errors[2].Message)
	}
	// With SKIP, the database's are skipped and the file's own duplicates
	// still refused: the real run stops at the batch, writing none of it.
	job = importFile(t, s, file, bulk.Options{OnConflict: db.ConflictSkip})
	if job.Status != db.ImportFailed || job.Failed != 2 || count(t, s.DB, `SELECT count(*) FROM customer`) != 2 {
		t.Errorf("a real run with duplicates in the file: %+v", job)
	}
}

func TestOnConflictModes(t *testing.T) {
	t.Parallel()
	s := newService(t)
	importFile(t, s, header+"a@example.com,false,Ann,Lee,,,,,,,,,,,,,,,,,,\n", bulk.Options{})
	file := header + "A@example.com,false,Anna,,,,,,,,,,,,,,,,,,,\nb@example.com,false,Bea,,,,,,,,,,,,,,,,,,,\n"
	name := func(email string) string {
		var n string
		s.DB.Get(&n, `SELECT coalesce(first_name, '') || ' ' || coalesce(last_name, '') FROM customer WHERE email = $1`, email)
		return n
	}

	job := importFile(t, s, file, bulk.Options{})
	if job.Status != db.ImportFailed || len(job.Errors) != 1 || job.Errors[0].Code != errcode.DuplicateError || job.Errors[0].Line != 2 ||
		count(t, s.DB, `SELECT count(*) FROM customer`) != 1 {
		t.Errorf("ERROR: %+v, %d customers", job, count(t, s.DB, `SELECT count(*) FROM customer`))
	}

	job = importFile(t, s, file, bulk.Options{OnConflict: db.ConflictSkip})
	if job.Status != db.ImportSucceeded || job.Skipped != 1 || job.Created != 1 || name("a@example.com") != "Ann Lee" {
		t.Errorf("SKIP: %+v, a is %q", job, name("a@example.com"))
	}

	file = header + "a@example.com,false,Anna,,+1 555 0100,,,G,,,,,9 New St,,,,,,,,,\nb@example.com,false,Beatrice,,,,,,,,,,,,,,,,,,,\n"
	job = importFile(t, s, file, bulk.Options{OnConflict: db.ConflictUpdate, CreateGroups: true})
	if job.Status != db.ImportSucceeded || job.Updated != 2 || job.Created != 0 {
		t.Errorf("UPDATE: %+v", job)
	}
	// Given fields are written, blank ones kept; the address book stays.
	if got := name("a@example.com"); got != "Anna Lee" {
		t.Errorf("UPDATE: a is %q, want Anna Lee", got)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM customer_address`); n != 0 {
		t.Errorf("UPDATE added %d addresses to existing customers", n)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM customer_group_customer`); n != 1 {
		t.Errorf("UPDATE: %d memberships, want 1", n)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM event WHERE type = 'customer.updated'`); n != 2 {
		t.Errorf("%d customer.updated events, want 2", n)
	}
}

// TestResumeAfterACrash cuts a run short after three batches, as a crash
// would, and runs the same file again: the job resumes where its last
// batch committed, and no customer is written twice.
func TestResumeAfterACrash(t *testing.T) {
	t.Parallel()
	s := newService(t)
	s.BatchSize = 10
	var b strings.Builder
	b.WriteString(header)
	for i := range 95 {
		fmt.Fprintf(&b, "c%d@example.com,false,N%d,,,,,,,,,,%d Main St,,,,,us,,true,true,\n", i, i, i)
	}
	file := b.String()
	ctx, crash := context.WithCancel(context.Background())
	f := strings.NewReader(file)
	job, err := s.Begin(ctx, f, "c.csv", bulk.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(ctx, job, f, func(done int64) {
		if done == 30 {
			crash()
		}
	})
	if err == nil {
		t.Fatal("the run went on after the crash")
	}
	stored, _ := db.ImportJobByID(context.Background(), s.DB, job.ID)
	if stored.Status != db.ImportRunning || stored.RowsDone != 30 || count(t, s.DB, `SELECT count(*) FROM customer`) != 30 {
		t.Fatalf("after the crash: %s, %d done, %d customers", stored.Status, stored.RowsDone, count(t, s.DB, `SELECT count(*) FROM customer`))
	}

	f = strings.NewReader(file)
	resumed, err := s.Begin(context.Background(), f, "c.csv", bulk.Options{}, nil)
	if err != nil || resumed.ID != job.ID {
		t.Fatalf("the same file again: job %v (%v), want %s resumed", resumed, err, job.ID)
	}
	resumed, err = s.Run(context.Background(), resumed, f, nil)
	if err != nil || resumed.Status != db.ImportSucceeded || resumed.RowsDone != 95 || resumed.Created != 95 {
		t.Fatalf("resumed: %+v, %v", resumed, err)
	}
	if n := count(t, s.DB, `SELECT count(DISTINCT email) FROM customer`); n != 95 || count(t, s.DB, `SELECT count(*) FROM customer`) != 95 ||
		count(t, s.DB, `SELECT count(*) FROM customer_address`) != 95 {
		t.Errorf("%d customers after the resumed run, want 95 once each", n)
	}
	// A finished file run again is a new job, whose rows all exist.
	again := importFile(t, s, file, bulk.Options{OnConflict: db.ConflictSkip})
	if again.ID == job.ID || again.Skipped != 95 {
		t.Errorf("the file again: %+v", again)
	}
}

// TestMalformedFiles: each kind of bad file gets its code, before the run
// when the header shows it, or as the failed job's error_code.
func TestMalformedFiles(t *testing.T) {
	t.Parallel()
	s := newService(t)
	for _, tc := range []struct {
		name, file string
		code       errcode.Code
		atBegin    bool
	}{
		{"empty", "", errcode.FileHeaderMissing, true},
		{"no header", "ann@example.com,true,Ann\n", errcode.FileHeaderMissing, true},
		{"no email column", "first_name,last_name\nAnn,Lee\n", errcode.FileHeaderMissing, true},
		{"unknown column", "email,first_name,shoe_size\na@example.com,A,42\n", errcode.FileUnknownColumn, true},
		{"column twice", "email,email\na@example.com,a@example.com\n", errcode.FileMalformed, true},
		{"UTF-16", "\xff\xfee\x00m\x00", errcode.FileNotUTF8, true},
		{"Latin-1", "email,first_name\na@example.com,Ren\xe9\n", errcode.FileNotUTF8, false},
		{"quote left open", "email,first_name\na@example.com,\"Ann\nb@example.com,Bob\n", errcode.FileMalformed, false},
		{"bare quote", "email,first_name\na@example.com,An\"n\n", errcode.FileMalformed, false},
		{"JSON Lines: not an object", "{\"email\": \"a@example.com\"}\n[1, 2]\n", errcode.FileMalformed, false},
		{"JSON Lines: cut short", "{\"email\": \"a@example.com\"\n", errcode.FileMalformed, false},
		{"JSON Lines: unknown key", "{\"email\": \"a@example.com\", \"shoe_size\": 42}\n", errcode.FileUnknownColumn, false},
		{"JSON Lines: Latin-1", "{\"email\": \"a@example.com\", \"first_name\": \"Ren\xe9\"}\n", errcode.FileNotUTF8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := strings.NewReader(tc.file)
			job, err := s.Begin(context.Background(), f, "bad", bulk.Options{}, nil)
			if tc.atBegin {
				if errcode.Of(err) != tc.code || job != nil {
					t.Fatalf("begin: %v (%s), want %s", err, errcode.Of(err), tc.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			job, err = s.Run(context.Background(), job, f, nil)
			if err != nil || job.Status != db.ImportFailed || job.ErrorCode == nil || *job.ErrorCode != tc.code || job.ErrorMessage == nil {
				t.Fatalf("run: %+v, %v; want FAILED with %s", job, err, tc.code)
			}
			t.Log(*job.ErrorMessage)
		})
	}
	if n := count(t, s.DB, `SELECT count(*) FROM customer`); n != 0 {
		t.Errorf("bad files wrote %d customers", n)
	}
}

// TestShopifyExport reads Shopify's customer export columns.
func TestShopifyExport(t *testing.T) {
	t.Parallel()
	s := newService(t)
	file := "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,Default Address Address1,Default Address Address2,Default Address City,Default Address Province Code,Default Address Country Code,Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,Tax Exempt,Tags\n" +
		"'7254,Russell,Winfield,russel.winfield@example.com,no,Company HQ,105 Victoria St,,Toronto,ON,CA,M5C1N7,+1 416-555-0100,,no,0.00,0,,no,\"VIP, Newsletter\"\n"
	job := importFile(t, s, file, bulk.Options{CreateGroups: true})
	if job.Status != db.ImportSucceeded || job.Created != 1 {
		t.Fatalf("job: %+v", job)
	}
	var a struct {
		City, Country, Province string
		Shipping, Billing       bool
	}
	if err := s.DB.QueryRow(`SELECT city, country_code, province, is_default_shipping, is_default_billing FROM customer_address`).
		Scan(&a.City, &a.Country, &a.Province, &a.Shipping, &a.Billing); err != nil {
		t.Fatal(err)
	}
	if a.City != "Toronto" || a.Country != "ca" || a.Province != "ON" || !a.Shipping || !a.Billing {
		t.Errorf("address: %+v", a)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM customer_group WHERE name IN ('VIP', 'Newsletter')`); n != 2 {
		t.Errorf("%d groups from Tags, want 2", n)
	}
}

var _ = io.EOF
