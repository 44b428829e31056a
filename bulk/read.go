package bulk

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"customerservice/db"
	"customerservice/errcode"
)

// Format is the format of an import or export file.
type Format = db.FileFormat

// The columns of the CSV format, in the order an export writes them. A
// customer takes one line, or one per address: the lines after its first
// with the same email and has_account and empty customer columns
// (first_name to groups) add addresses to it.
var csvColumns = []string{
	"email", "has_account", "first_name", "last_name", "phone", "company_name", "metadata", "groups",
	"address_name", "address_company", "address_first_name", "address_last_name", "address_1", "address_2",
	"address_city", "address_province", "address_postal_code", "address_country_code", "address_phone",
	"address_is_default_shipping", "address_is_default_billing", "address_metadata",
}

// customerColumns are the columns of a customer's own fields: a line that
// leaves them empty and repeats the previous line's email and has_account
// continues its customer with another address.
var customerColumns = []string{"first_name", "last_name", "phone", "company_name", "metadata", "groups"}

// shopifyColumns map the columns of Shopify's customer export (its current
// "Default Address ..." names and the older ones) to ours; shopifyIgnored
// are its columns that have no place here (marketing consents, totals,
// notes), read and dropped. Tags become groups. Shopify's default address
// is both the default shipping and billing address.
var shopifyColumns = map[string]string{
	"email": "email", "first name": "first_name", "last name": "last_name", "phone": "phone", "tags": "groups",
	"company": "address_company", "default address company": "address_company",
	"address1": "address_1", "default address address1": "address_1",
	"address2": "address_2", "default address address2": "address_2",
	"city": "address_city", "default address city": "address_city",
	"province": "address_province", "province code": "address_province", "default address province code": "address_province",
	"country code": "address_country_code", "default address country code": "address_country_code",
	"zip": "address_postal_code", "default address zip": "address_postal_code",
	"default address phone": "address_phone",
}

var shopifyIgnored = map[string]bool{
	"customer id": true, "accepts email marketing": true, "accepts marketing": true, "accepts sms marketing": true,
	"total spent": true, "total orders": true, "note": true, "tax exempt": true, "country": true,
}

// record is one customer of a file, as read.
type record struct {
	// line is the line the customer starts on.
	line  int64
	input db.ImportInput
	// err is what makes the record unreadable (a bad boolean, metadata that
	// is not a JSON object), reported as the row's error.
	err *db.RowError
}

// reader reads the customers of a file one at a time. A fault of the whole
// file is an *errcode.Error with one of the FILE_ codes; io.EOF ends it.
type reader interface {
	next() (record, error)
}

// sniff tells a file's format from its first byte: '{' is JSON Lines.
func sniff(br *bufio.Reader) (Format, error) {
	b, err := br.Peek(4)
	if len(b) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return "", errcode.New(errcode.FileHeaderMissing, "the file is empty: a CSV file starts with a header line, such as %s", strings.Join(csvColumns[:4], ","))
		}
		return "", fmt.Errorf("read the file: %w", err)
	}
	if bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF}) {
		return "", errcode.New(errcode.FileNotUTF8, "the file is UTF-16 text; save it as UTF-8")
	}
	if bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) {
		br.Discard(3) // a UTF-8 byte order mark, as spreadsheets write
		b, _ = br.Peek(1)
	}
	if len(b) > 0 && b[0] == '{' {
		return db.FormatJSONL, nil
	}
	return db.FormatCSV, nil
}

// newReader returns the reader of a file in format.
func newReader(br *bufio.Reader, format Format) (reader, error) {
	if format == db.FormatJSONL {
		return &jsonlReader{br: br}, nil
	}
	return newCSVReader(br)
}

// notUTF8 is the error of a file that is not UTF-8 at line.
func notUTF8(line int64) error {
	return errcode.New(errcode.FileNotUTF8, "line %d is not UTF-8 text (a Latin-1 or Windows-1252 export, say); save the file as UTF-8", line)
}

type csvReader struct {
	r *csv.Reader
	// col is the position of each of our columns in the file, -1 when it
	// has none.
	col     map[string]int
	shopify bool
	// width is the number of the header's fields.
	width int
	// pending is a line read ahead: the first of the next customer.
	pending []string
	pline   int64
	perr    *db.RowError
}

func newCSVReader(br *bufio.Reader) (*csvReader, error) {
	r := csv.NewReader(br)
	r.ReuseRecord = false
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errcode.New(errcode.FileHeaderMissing, "the file is empty: a CSV file starts with a header line")
		}
		return nil, csvError(err)
	}
	c := &csvReader{r: r, col: map[string]int{}, width: len(header)}
	known := map[string]bool{}
	for _, name := range csvColumns {
		known[name] = true
	}
	for i, h := range header {
		if !utf8.ValidString(h) {
			return nil, notUTF8(1)
		}
		name := strings.TrimSpace(h)
		lower := strings.ToLower(name)
		switch {
		case known[lower]:
		case shopifyColumns[lower] != "":
			c.shopify = true
			lower = shopifyColumns[lower]
		case shopifyIgnored[lower]:
			c.shopify = true
			continue
		default:
			if !c.looksLikeHeader(header) {
				return nil, errcode.New(errcode.FileHeaderMissing,
					"the first line is not a header: a CSV file starts with its column names, such as %s", strings.Join(csvColumns[:4], ","))
			}
			return nil, errcode.New(errcode.FileUnknownColumn, "column %d, %q, is not one the import knows; the columns are %s (or Shopify's customer export)",
				i+1, name, strings.Join(csvColumns, ", "))
		}
		if _, dup := c.col[lower]; dup {
			if c.shopify && lower == "address_province" {
				continue // Province and Province Code: the first wins
			}
			return nil, errcode.New(errcode.FileMalformed, "column %q appears twice in the header", name)
		}
		c.col[lower] = i
	}
	if _, ok := c.col["email"]; !ok {
		return nil, errcode.New(errcode.FileHeaderMissing, "the header has no email column")
	}
	return c, nil
}

// looksLikeHeader tells a header with an unknown column from a file that
// has none: a header names email.
func (c *csvReader) looksLikeHeader(header []string) bool {
	for _, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), "email") {
			return true
		}
	}
	return false
}

// csvError is the error of a line encoding/csv cannot read.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(pe.Err, csv.ErrQuote):
			return errcode.New(errcode.FileMalformed, "line %d: a quoted field is not closed (a quote left open runs to the end of the file)", pe.StartLine)
		case errors.Is(pe.Err, csv.ErrBareQuote):
			return errcode.New(errcode.FileMalformed, "line %d, column %d: a quote inside a field that is not quoted; quote the field and double the quote", pe.Line, pe.Column)
		}
		return errcode.New(errcode.FileMalformed, "line %d: %v", pe.Line, pe.Err)
	}
	return fmt.Errorf("read the file: %w", err)
}

// line reads the next line, or a row error for a line of the wrong number
// of fields.
func (c *csvReader) line() ([]string, int64, *db.RowError, error) {
	fields, err := c.r.Read()
	line, _ := c.r.FieldPos(0)
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
			return nil, int64(pe.StartLine), &db.RowError{Line: int64(pe.StartLine), Code: errcode.InvalidData,
				Message: fmt.Sprintf("the line has %d fields, the header %d", len(fields), c.width)}, nil
		}
		if errors.Is(err, io.EOF) {
			return nil, 0, nil, io.EOF
		}
		return nil, 0, nil, csvError(err)
	}
	for _, f := range fields {
		if !utf8.ValidString(f) {
			return nil, 0, nil, notUTF8(int64(line))
		}
	}
	return fields, int64(line), nil, nil
}

func (c *csvReader) get(fields []string, col string) string {
	if i, ok := c.col[col]; ok && i < len(fields) {
		return fields[i]
	}
	return ""
}

func (c *csvReader) next() (record, error) {
	fields, line, rerr := c.pending, c.pline, c.perr
	c.pending, c.perr = nil, nil
	if fields == nil && rerr == nil {
		var err error
		if fields, line, rerr, err = c.line(); err != nil {
			return record{}, err
		}
	}
	if rerr != nil {
		return record{line: line, err: rerr}, nil
	}
	rec := record{line: line}
	in := &rec.input
	in.Customer.Email = db.To(c.get(fields, "email"))
	for _, col := range []struct {
		name string
		dst  *db.Change[*string]
	}{{"first_name", &in.Customer.FirstName}, {"last_name", &in.Customer.LastName}, {"phone", &in.Customer.Phone}, {"company_name", &in.Customer.CompanyName}} {
		if _, ok := c.col[col.name]; ok {
			*col.dst = db.To(ptr(c.get(fields, col.name)))
		}
	}
	var err *db.RowError
	if in.HasAccount, err = parseBool(line, "has_account", c.get(fields, "has_account")); err != nil {
		rec.err = err
	}
	if m, err := parseObject(line, "metadata", c.get(fields, "metadata")); err != nil {
		rec.err = err
	} else if m != nil {
		in.Customer.Metadata = db.To(db.JSONObject(m))
	}
	in.Groups = c.groups(c.get(fields, "groups"))
	if err := c.address(&rec, fields, line); err != nil && rec.err == nil {
		rec.err = err
	}
	// The lines that follow with the same key and no customer columns
	// are more addresses of this customer.
	key := continuationKey(c.get(fields, "email"), c.get(fields, "has_account"))
	for {
		next, nline, nerr, ferr := c.line()
		if ferr != nil {
			if errors.Is(ferr, io.EOF) {
				return rec, nil
			}
			return record{}, ferr
		}
		if nerr != nil || continuationKey(c.get(next, "email"), c.get(next, "has_account")) != key || !c.continues(next) {
			c.pending, c.pline, c.perr = next, nline, nerr
			return rec, nil
		}
		if err := c.address(&rec, next, nline); err != nil && rec.err == nil {
			rec.err = err
		}
	}
}

func continuationKey(email, hasAccount string) string {
	return strings.ToLower(strings.TrimSpace(email)) + "\x00" + strings.ToLower(strings.TrimSpace(hasAccount))
}

// continues reports whether a line leaves every customer column empty.
func (c *csvReader) continues(fields []string) bool {
	for _, col := range customerColumns {
		if strings.TrimSpace(c.get(fields, col)) != "" {
			return false
		}
	}
	return true
}

// groups splits a groups cell: a JSON array of names, or names separated
// by ";" (by "," in Shopify's Tags).
func (c *csvReader) groups(cell string) []string {
	cell = strings.TrimSpace(cell)
	if cell == "" {
		return nil
	}
	if strings.HasPrefix(cell, "[") {
		var names []string
		if json.Unmarshal([]byte(cell), &names) == nil {
			return names
		}
	}
	sep := ";"
	if c.shopify {
		sep = ","
	}
	return strings.Split(cell, sep)
}

// address adds the address of a line, when it has one, to rec.
func (c *csvReader) address(rec *record, fields []string, line int64) *db.RowError {
	var a db.AddressFields
	any := false
	for _, col := range []struct {
		name string
		dst  *db.Change[*string]
	}{{"address_name", &a.AddressName}, {"address_company", &a.Company}, {"address_first_name", &a.FirstName},
		{"address_last_name", &a.LastName}, {"address_1", &a.Address1}, {"address_2", &a.Address2}, {"address_city", &a.City},
		{"address_province", &a.Province}, {"address_postal_code", &a.PostalCode}, {"address_country_code", &a.CountryCode},
		{"address_phone", &a.Phone}} {
		if v := c.get(fields, col.name); strings.TrimSpace(v) != "" {
			*col.dst = db.To(ptr(v))
			any = true
		}
	}
	m, err := parseObject(line, "address_metadata", c.get(fields, "address_metadata"))
	if err != nil {
		return err
	}
	if m != nil {
		a.Metadata = db.To(db.JSONObject(m))
		any = true
	}
	shipping, err := parseBool(line, "address_is_default_shipping", c.get(fields, "address_is_default_shipping"))
	if err != nil {
		return err
	}
	billing, err := parseBool(line, "address_is_default_billing", c.get(fields, "address_is_default_billing"))
	if err != nil {
		return err
	}
	if c.shopify && any {
		shipping, billing = true, true
	}
	if !any && !shipping && !billing {
		return nil
	}
	a.IsDefaultShipping, a.IsDefaultBilling = db.To(&shipping), db.To(&billing)
	rec.input.Addresses = append(rec.input.Addresses, a)
	return nil
}

func ptr(s string) *string { return &s }

// parseBool reads a boolean cell: true/false, yes/no, 1/0; empty is false.
func parseBool(line int64, col, v string) (bool, *db.RowError) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "false", "no", "0", "f", "n":
		return false, nil
	case "true", "yes", "1", "t", "y":
		return true, nil
	}
	return false, &db.RowError{Line: line, Column: col, Code: errcode.InvalidData,
		Message: fmt.Sprintf("%s must be true or false, got %q", col, v)}
}

// parseObject reads a metadata cell: a JSON object, or nothing.
func parseObject(line int64, col, v string) (map[string]any, *db.RowError) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, &db.RowError{Line: line, Column: col, Code: errcode.InvalidData,
			Message: fmt.Sprintf("%s must be a JSON object, such as {\"source\": \"import\"}", col)}
	}
	return m, nil
}

// maxJSONLine bounds a line of a JSON Lines file: a customer with a
// hundred addresses and their metadata fits.
const maxJSONLine = 4 << 20

// jsonCustomer is a line of a JSON Lines file, as an export writes it.
type jsonCustomer struct {
	Email       *string        `json:"email"`
	HasAccount  *bool          `json:"has_account"`
	FirstName   *string        `json:"first_name"`
	LastName    *string        `json:"last_name"`
	Phone       *string        `json:"phone"`
	CompanyName *string        `json:"company_name"`
	Metadata    map[string]any `json:"metadata"`
	Groups      []string       `json:"groups"`
	Addresses   []jsonAddress  `json:"addresses"`
}

type jsonAddress struct {
	AddressName       *string        `json:"address_name"`
	Company           *string        `json:"company"`
	FirstName         *string        `json:"first_name"`
	LastName          *string        `json:"last_name"`
	Address1          *string        `json:"address_1"`
	Address2          *string        `json:"address_2"`
	City              *string        `json:"city"`
	Province          *string        `json:"province"`
	PostalCode        *string        `json:"postal_code"`
	CountryCode       *string        `json:"country_code"`
	Phone             *string        `json:"phone"`
	IsDefaultShipping bool           `json:"is_default_shipping"`
	IsDefaultBilling  bool           `json:"is_default_billing"`
	Metadata          map[string]any `json:"metadata"`
}

type jsonlReader struct {
	br   *bufio.Reader
	line int64
}

func (j *jsonlReader) next() (record, error) {
	for {
		b, err := j.readLine()
		if err != nil {
			return record{}, err
		}
		j.line++
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if !utf8.Valid(b) {
			return record{}, notUTF8(j.line)
		}
		return j.parse(b)
	}
}

// readLine reads a line of at most maxJSONLine bytes, without its end.
func (j *jsonlReader) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := j.br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxJSONLine {
			return nil, errcode.New(errcode.FileMalformed, "line %d is longer than %d MiB", j.line+1, maxJSONLine>>20)
		}
		switch {
		case err == nil:
			return bytes.TrimRight(line, "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return nil, io.EOF
			}
			return line, nil
		default:
			return nil, fmt.Errorf("read the file: %w", err)
		}
	}
}

func (j *jsonlReader) parse(b []byte) (record, error) {
	rec := record{line: j.line}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var c jsonCustomer
	if err := dec.Decode(&c); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			rec.err = &db.RowError{Line: j.line, Column: typeErr.Field, Code: errcode.InvalidData,
				Message: fmt.Sprintf("%s must be a JSON %s, not %s", typeErr.Field, jsonType(typeErr.Type.Kind().String()), typeErr.Value)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			return rec, errcode.New(errcode.FileUnknownColumn, "line %d: %q is not a key the import knows; the keys are those an export writes", j.line, name)
		default:
			return rec, errcode.New(errcode.FileMalformed, "line %d is not a JSON object (JSON Lines: one customer object per line)", j.line)
		}
		return rec, nil
	}
	if dec.More() {
		return rec, errcode.New(errcode.FileMalformed, "line %d holds more than one JSON value", j.line)
	}
	in := &rec.input
	if c.Email != nil {
		in.Customer.Email = db.To(*c.Email)
	}
	in.HasAccount = c.HasAccount != nil && *c.HasAccount
	in.Customer.FirstName = db.To(c.FirstName)
	in.Customer.LastName = db.To(c.LastName)
	in.Customer.Phone = db.To(c.Phone)
	in.Customer.CompanyName = db.To(c.CompanyName)
	if c.Metadata != nil {
		in.Customer.Metadata = db.To(db.JSONObject(c.Metadata))
	}
	in.Groups = c.Groups
	for _, a := range c.Addresses {
		f := db.AddressFields{AddressName: db.To(a.AddressName), Company: db.To(a.Company), FirstName: db.To(a.FirstName),
			LastName: db.To(a.LastName), Address1: db.To(a.Address1), Address2: db.To(a.Address2), City: db.To(a.City),
			Province: db.To(a.Province), PostalCode: db.To(a.PostalCode), CountryCode: db.To(a.CountryCode), Phone: db.To(a.Phone),
			IsDefaultShipping: db.To(&a.IsDefaultShipping), IsDefaultBilling: db.To(&a.IsDefaultBilling)}
		if a.Metadata != nil {
			f.Metadata = db.To(db.JSONObject(a.Metadata))
		}
		in.Addresses = append(in.Addresses, f)
	}
	return rec, nil
}

func jsonType(kind string) string {
	switch kind {
	case "bool":
		return "boolean"
	case "map", "struct":
		return "object"
	case "slice":
		return "array"
	}
	return kind
}
