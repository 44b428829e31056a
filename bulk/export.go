package bulk

import (
	"bufio"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"customerservice/db"
	"customerservice/errcode"
)

// exportPage is how many customers an export reads at a time: its memory
// is a page's, whatever the number of customers.
const exportPage = 1000

// Export writes the customers f selects to w, in id order (their creation
// order), as format: what Import reads back unchanged. It reads them in
// one read-only transaction, so the file is one moment's list, a page at a
// time. Returns how many it wrote; INVALID_DATA for a bad filter.
func (s *Service) Export(ctx context.Context, w io.Writer, f db.CustomerFilter, format Format, progress Progress) (int64, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	tx, err := s.DB.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("export: begin: %w", err)
	}
	defer tx.Rollback()
	bw := bufio.NewWriterSize(w, 64<<10)
	out := newWriter(bw, format)
	if err := out.header(); err != nil {
		return 0, err
	}
	var n int64
	after := ""
	for {
		page, err := db.CustomersAfter(ctx, tx, f, after, exportPage)
		if err != nil {
			return n, err
		}
		if len(page) == 0 {
			break
		}
		ids := make([]string, len(page))
		for i, c := range page {
			ids[i] = c.ID
		}
		addresses, err := db.AddressesByCustomerIDs(ctx, tx, ids, db.Columns[db.Address]{})
		if err != nil {
			return n, err
		}
		groups, err := db.GroupsByCustomerIDs(ctx, tx, ids, db.Columns[db.CustomerGroup]{})
		if err != nil {
			return n, err
		}
		for i, c := range page {
			names := make([]string, len(groups[i]))
			for j, g := range groups[i] {
				names[j] = g.Name
			}
			if err := out.customer(c, addresses[i], names); err != nil {
				return n, err
			}
		}
		n += int64(len(page))
		after = page[len(page)-1].ID
		if progress != nil {
			progress(n)
		}
	}
	if err := out.flush(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// writer writes customers in one format.
type writer interface {
	header() error
	customer(c *db.Customer, addresses []*db.Address, groups []string) error
	flush() error
}

func newWriter(w *bufio.Writer, format Format) writer {
	if format == db.FormatJSONL {
		return &jsonlWriter{w: w, enc: json.NewEncoder(w)}
	}
	return &csvWriter{w: csv.NewWriter(w)}
}

type csvWriter struct {
	w   *csv.Writer
	rec []string
}

func (c *csvWriter) header() error { return c.w.Write(csvColumns) }

func (c *csvWriter) customer(cu *db.Customer, addresses []*db.Address, groups []string) error {
	if c.rec == nil {
		c.rec = make([]string, len(csvColumns))
	}
	rec := c.rec
	clear(rec)
	rec[0], rec[1] = cu.Email, strconv.FormatBool(cu.HasAccount)
	rec[2], rec[3], rec[4], rec[5] = str(cu.FirstName), str(cu.LastName), str(cu.Phone), str(cu.CompanyName)
	rec[6] = jsonString(cu.Metadata)
	rec[7] = groupCell(groups)
	if len(addresses) == 0 {
		return c.w.Write(rec)
	}
	for i, a := range addresses {
		if i > 0 {
			// The customer's next address: a line of its key and the
			// address, its customer columns empty.
			clear(rec[2:])
		}
		rec[8], rec[9], rec[10], rec[11] = str(a.AddressName), str(a.Company), str(a.FirstName), str(a.LastName)
		rec[12], rec[13], rec[14], rec[15] = str(a.Address1), str(a.Address2), str(a.City), str(a.Province)
		rec[16], rec[17], rec[18] = str(a.PostalCode), str(a.CountryCode), str(a.Phone)
		rec[19], rec[20] = strconv.FormatBool(a.IsDefaultShipping), strconv.FormatBool(a.IsDefaultBilling)
		rec[21] = jsonString(a.Metadata)
		if err := c.w.Write(rec); err != nil {
			return err
		}
	}
	return nil
}

func (c *csvWriter) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// groupCell writes group names separated by ";", or as a JSON array when
// a name holds a ";" or starts with "[".
func groupCell(names []string) string {
	for _, n := range names {
		if strings.Contains(n, ";") || strings.HasPrefix(n, "[") {
			b, _ := json.Marshal(names)
			return string(b)
		}
	}
	return strings.Join(names, ";")
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func jsonString(o db.JSONObject) string {
	if o == nil {
		return ""
	}
	b, err := json.Marshal(o)
	if err != nil {
		return ""
	}
	return string(b)
}

type jsonlWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func (j *jsonlWriter) header() error { return nil }

func (j *jsonlWriter) customer(c *db.Customer, addresses []*db.Address, groups []string) error {
	out := jsonCustomer{Email: &c.Email, HasAccount: &c.HasAccount, FirstName: c.FirstName, LastName: c.LastName,
		Phone: c.Phone, CompanyName: c.CompanyName, Metadata: c.Metadata, Groups: groups, Addresses: []jsonAddress{}}
	if out.Groups == nil {
		out.Groups = []string{}
	}
	for _, a := range addresses {
		out.Addresses = append(out.Addresses, jsonAddress{AddressName: a.AddressName, Company: a.Company, FirstName: a.FirstName,
			LastName: a.LastName, Address1: a.Address1, Address2: a.Address2, City: a.City, Province: a.Province,
			PostalCode: a.PostalCode, CountryCode: a.CountryCode, Phone: a.Phone, IsDefaultShipping: a.IsDefaultShipping,
			IsDefaultBilling: a.IsDefaultBilling, Metadata: a.Metadata})
	}
	return j.enc.Encode(out) // one line each, with its newline
}

func (j *jsonlWriter) flush() error { return nil }

// DefaultLinkTTL is how long an export's download link works.
const DefaultLinkTTL = 15 * time.Minute

// Links signs and checks export download links: the export's request
// (filter, format, expiry) in the link itself, signed with HMAC-SHA256
// under a key derived from the token secret, so any server of the service
// serves a link another made, and nothing is stored.
type Links struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewLinks returns links signed with a key derived from secret, valid for
// ttl (DefaultLinkTTL when 0).
func NewLinks(secret []byte, ttl time.Duration) (*Links, error) {
	if len(secret) < 32 {
		return nil, errors.New("the export link secret must be at least 32 bytes")
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "customerservice export links", 32)
	if err != nil {
		return nil, err
	}
	if ttl == 0 {
		ttl = DefaultLinkTTL
	}
	return &Links{key: key, ttl: ttl, now: time.Now}, nil
}

// ExportRequest is what an export link asks for.
type ExportRequest struct {
	Filter  db.CustomerFilter `json:"filter"`
	Format  Format            `json:"format"`
	Expires int64             `json:"exp"`
}

// Sign returns the token of a link to the export, and when it expires.
func (l *Links) Sign(f db.CustomerFilter, format Format) (string, time.Time, error) {
	expires := l.now().Add(l.ttl).Truncate(time.Second)
	payload, err := json.Marshal(ExportRequest{Filter: f, Format: format, Expires: expires.Unix()})
	if err != nil {
		return "", time.Time{}, err
	}
	body := base64.RawURLEncoding.EncodeToString(payload)
	return body + "." + base64.RawURLEncoding.EncodeToString(l.mac(body)), expires, nil
}

func (l *Links) mac(body string) []byte {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Verify returns the export a token asks for. Returns UNAUTHORIZED for a
// token this service did not sign, and NOT_ALLOWED for an expired one.
func (l *Links) Verify(token string) (ExportRequest, error) {
	var r ExportRequest
	body, sig, ok := strings.Cut(token, ".")
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(got, l.mac(body)) {
		return r, errcode.New(errcode.Unauthorized, "the export link is not valid")
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || json.Unmarshal(payload, &r) != nil {
		return r, errcode.New(errcode.Unauthorized, "the export link is not valid")
	}
	if l.now().Unix() >= r.Expires {
		return r, errcode.New(errcode.NotAllowed, "the export link has expired; ask for another with export_customers")
	}
	return r, nil
}

// ExportLink returns the path of a download of the export, served by
// ExportHandler at /exports/{token}, and when it expires.
func (s *Service) ExportLink(f db.CustomerFilter, format Format) (string, time.Time, error) {
	if s.Links == nil {
		return "", time.Time{}, errors.New("export links: no secret configured")
	}
	if err := f.Validate(); err != nil {
		return "", time.Time{}, err
	}
	token, expires, err := s.Links.Sign(f, format)
	return "/exports/" + token, expires, err
}

// maxExportTime bounds a download; the server's write timeout, made for
// API answers, would cut it.
const maxExportTime = 30 * time.Minute

// ExportHandler serves GET /exports/{token}: the export the link's token
// asks for, streamed. The token is the authority: it was signed for an
// admin user, and expires.
func (s *Service) ExportHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Links == nil {
			writeError(w, http.StatusNotFound, errcode.New(errcode.NotFound, "exports are not served here"))
			return
		}
		req, err := s.Links.Verify(r.PathValue("token"))
		if err != nil {
			status := http.StatusUnauthorized
			if errcode.Of(err) == errcode.NotAllowed {
				status = http.StatusGone
			}
			writeError(w, status, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), maxExportTime)
		defer cancel()
		rc := http.NewResponseController(w)
		rc.SetWriteDeadline(time.Now().Add(maxExportTime))
		ext, ctype := "csv", "text/csv; charset=utf-8"
		if req.Format == db.FormatJSONL {
			ext, ctype = "jsonl", "application/x-ndjson"
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="customers-%s.%s"`, time.Now().UTC().Format("20060102-150405"), ext))
		w.Header().Set("Cache-Control", "no-store")
		if _, err := s.Export(ctx, w, req.Filter, req.Format, nil); err != nil {
			// The status is sent: the client sees the transfer cut, not a
			// file that looks whole.
			s.init()
			s.Logger.ErrorContext(ctx, "export", "error", err)
			panic(http.ErrAbortHandler)
		}
	})
}

func writeError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var e *errcode.Error
	errors.As(err, &e)
	json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": e.Message,
		"extensions": map[string]any{"code": e.Code, "type": e.Code.Type()}}}})
}
