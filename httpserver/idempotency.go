package httpserver

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"

	"customerservice/db"
	"customerservice/errcode"
)

// idempotent makes a POST with an Idempotency-Key act once: the first
// request with a key runs in one transaction (db.BeginShared) that also
// keeps its answer for a day, so what it did and its answer commit
// together or not at all; a retry with the same key and body gets that
// answer (marked Idempotent-Replayed), waiting for it if the first is still
// running; the same key with another body is a CONFLICT. Keys are scoped to
// the caller's credentials.
//
// An answer that failed on the server's side (a 5xx, or an error coded
// INTERNAL, TIMEOUT, SERVICE_UNAVAILABLE or CANCELLED) is not kept, and
// what the request did is rolled back with it: the client may retry, and
// the retry acts for the first time.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > 255 || !printable(key) {
			writeError(w, r, http.StatusBadRequest, errcode.InvalidData, "Idempotency-Key must be 1 to 255 printable ASCII characters")
			return
		}
		body, err := io.ReadAll(r.Body) // guard has bounded and buffered it
		if err != nil {
			writeError(w, r, http.StatusBadRequest, errcode.InvalidData, "the request body could not be read")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		scope, hash := digest(r.Header.Get("Authorization")), digest(string(body))

		ctx, tx, err := db.BeginShared(r.Context(), s.cfg.DB)
		if err != nil {
			s.storeFailed(w, r, err)
			return
		}
		defer tx.Rollback()
		kept, err := db.ClaimIdempotencyKey(ctx, tx.Tx, scope, key, hash)
		if err != nil {
			s.storeFailed(w, r, err)
			return
		}
		if kept != nil {
			tx.Rollback()
			if kept.RequestHash != hash {
				writeError(w, r, http.StatusConflict, errcode.Conflict, "this Idempotency-Key was used with another request body")
				return
			}
			if kept.ContentType != nil {
				w.Header().Set("Content-Type", *kept.ContentType)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(kept.Status)
			w.Write(kept.Response)
			return
		}
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		if rec.status >= 500 {
			rec.writeTo(w)
			return
		}
		if code := failedOnOurSide(rec.body.Bytes()); code != "" {
			// Rolled back: the answer's data, if any, shows what is undone.
			status := http.StatusServiceUnavailable
			if code == errcode.Internal {
				status = http.StatusInternalServerError
			}
			writeError(w, r, status, code, "the request failed on the server's side, and nothing it did was kept; retry with the same Idempotency-Key")
			return
		}
		err = db.CompleteIdempotencyKey(ctx, tx, scope, key, rec.status, rec.header.Get("Content-Type"), rec.body.Bytes())
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			// Whether the commit happened may be unknown (the connection
			// broke during it): a retry with the key finds out, replaying
			// the answer or acting.
			s.cfg.Logger.WarnContext(ctx, "commit an idempotent request", "error", err)
			writeError(w, r, http.StatusServiceUnavailable, errcode.Unavailable,
				"the answer could not be kept; retry with the same Idempotency-Key")
			return
		}
		rec.writeTo(w)
	})
}

// failedOnOurSide returns the code of the first error of a GraphQL answer
// that is the server's fault, not the request's: INTERNAL, TIMEOUT,
// SERVICE_UNAVAILABLE or CANCELLED (gqlgen answers them with status 200),
// or "" when there is none. Such an answer is not kept, and what the
// request did is rolled back, wherever the error is: one below a mutation
// that succeeded would otherwise leave the order placed while the client is
// told it failed, or retries it.
func failedOnOurSide(body []byte) errcode.Code {
	var resp struct {
		Errors []struct {
			Extensions struct {
				Code errcode.Code `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return ""
	}
	for _, e := range resp.Errors {
		switch e.Extensions.Code {
		case errcode.Internal, errcode.Timeout, errcode.Unavailable, errcode.Cancelled:
			return e.Extensions.Code
		}
	}
	return ""
}

func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	code, status := errcode.Internal, http.StatusInternalServerError
	if db.Unavailable(err) {
		code, status = errcode.Unavailable, http.StatusServiceUnavailable
	}
	s.cfg.Logger.ErrorContext(r.Context(), "idempotency key", "error", err)
	writeError(w, r, status, code, "the request could not be checked for repeats; retry shortly")
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
