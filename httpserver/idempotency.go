package httpserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/acme/customerservice/db"
	"github.com/acme/customerservice/errcode"
)

// idempotent makes a POST with an Idempotency-Key act once: the first
// request with a key runs and its response is kept for a day; a retry with
// the same key and body gets that response (marked Idempotent-Replayed),
// waiting for it if the first is still running; the same key with another
// body is a CONFLICT. Keys are scoped to the caller's credentials.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > 255 || !printable(key) {
			writeError(w, http.StatusBadRequest, errcode.InvalidData, "Idempotency-Key must be 1 to 255 printable ASCII characters")
			return
		}
		body, err := io.ReadAll(r.Body) // guard has bounded and buffered it
		if err != nil {
			writeError(w, http.StatusBadRequest, errcode.InvalidData, "the request body could not be read")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ctx := r.Context()
		scope, hash := digest(r.Header.Get("Authorization")), digest(string(body))

		// A claim older than twice the request deadline and a minute
		// belongs to a request that can no longer be running or storing its
		// answer (its server died): it is let go.
		claimed, err := db.ClaimIdempotencyKey(ctx, s.cfg.DB, scope, key, hash, 2*s.cfg.RequestTimeout+time.Minute)
		if err != nil {
			s.storeFailed(w, r, err)
			return
		}
		if claimed {
			// Kept with a context of its own: the answer must be stored
			// even when the request's deadline has just passed.
			storeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			answered := false
			defer func() {
				// A panic in next: nothing was answered, the key is free.
				if !answered {
					if err := db.ReleaseIdempotencyKey(storeCtx, s.cfg.DB, scope, key); err != nil {
						s.cfg.Logger.ErrorContext(ctx, "release idempotency key", "error", err)
					}
				}
			}()
			rec := &recorder{header: http.Header{}, status: http.StatusOK}
			next.ServeHTTP(rec, r)
			answered = true
			if rec.status >= 500 || failedOnOurSide(rec.body.Bytes()) {
				err = db.ReleaseIdempotencyKey(storeCtx, s.cfg.DB, scope, key)
			} else {
				err = db.CompleteIdempotencyKey(storeCtx, s.cfg.DB, scope, key, rec.status, rec.header.Get("Content-Type"), rec.body.Bytes())
			}
			if err != nil {
				s.cfg.Logger.ErrorContext(ctx, "keep idempotent response", "error", err)
			}
			rec.writeTo(w)
			return
		}
		for {
			state, err := db.IdempotencyKeyState(ctx, s.cfg.DB, scope, key)
			if err != nil {
				s.storeFailed(w, r, err)
				return
			}
			switch {
			case state == nil:
				// The first request failed and let the key go: the client
				// may retry.
				writeError(w, http.StatusConflict, errcode.Conflict, "the first request with this Idempotency-Key failed; retry it")
				return
			case state.RequestHash != hash:
				writeError(w, http.StatusConflict, errcode.Conflict, "this Idempotency-Key was used with another request body")
				return
			case state.Done():
				if state.ContentType != nil {
					w.Header().Set("Content-Type", *state.ContentType)
				}
				w.Header().Set("Idempotent-Replayed", "true")
				w.WriteHeader(*state.Status)
				w.Write(state.Response)
				return
			}
			select {
			case <-ctx.Done():
				writeError(w, http.StatusConflict, errcode.Conflict, "a request with this Idempotency-Key is still running")
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}

// failedOnOurSide reports whether a GraphQL response did nothing because
// of the server (INTERNAL, TIMEOUT, SERVICE_UNAVAILABLE: gqlgen answers
// them with status 200): then the key is let go, as for a 5xx, so a retry
// acts instead of replaying the failure for a day. Only a failure of a
// mutation field itself counts: its store call failed, and rolled back. A
// field that failed below it (an order's customer, read after the order
// was placed) may have emptied data by null propagation, but what the
// mutation did is done, and the answer is kept so it is not done twice.
func failedOnOurSide(body []byte) bool {
	var resp struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors []struct {
			Path       []any `json:"path"`
			Extensions struct {
				Code errcode.Code `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return false
	}
	for _, v := range resp.Data {
		if string(v) != "null" {
			return false
		}
	}
	transient := false
	for _, e := range resp.Errors {
		if len(e.Path) > 1 {
			return false
		}
		switch e.Extensions.Code {
		case errcode.Internal, errcode.Timeout, errcode.Unavailable:
			transient = true
		}
	}
	return transient
}

func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	code, status := errcode.Internal, http.StatusInternalServerError
	if db.Unavailable(err) {
		code, status = errcode.Unavailable, http.StatusServiceUnavailable
	}
	s.cfg.Logger.ErrorContext(r.Context(), "idempotency key", "error", err)
	writeError(w, status, code, "the request could not be checked for repeats; retry shortly")
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// recorder keeps a response to store it before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

func (r *recorder) writeTo(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status)
	w.Write(r.body.Bytes())
}
