package httpserver

import (
	"net/http"

	"customerservice/db"
	"customerservice/errcode"
)

// consistencyHeader carries a consistency token both ways: in an answer
// to a write, the position of the primary's log past that write's commit;
// in a later request, the writes that request's reads must see. A client
// that sends back the last token it got reads its own writes, from a
// replica that has replayed them or else from the primary.
const consistencyHeader = "X-Consistency-Token"

// consistent reads a request's consistency token and, once the request has
// written and committed (after the idempotency layer's commit, which is
// why it wraps it), gives the answer the token of its writes. Without
// replicas tokens are neither needed nor given, and one sent is only
// checked.
func (s *Server) consistent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &db.Consistency{}
		if token := r.Header.Get(consistencyHeader); token != "" {
			lsn, err := db.ParseLSN(token)
			if err != nil {
				writeError(w, r, http.StatusBadRequest, errcode.InvalidData, consistencyHeader+" is not a token this server gave: it looks like 16/B374D848")
				return
			}
			c.Min = lsn
		}
		next.ServeHTTP(w, r.WithContext(db.WithConsistency(r.Context(), c)))
		if s.cfg.Replicas == nil || !(c.Wrote() || w.Header().Get("Idempotent-Replayed") == "true") {
			return
		}
		lsn, err := s.cfg.Replicas.WriteLSN(r.Context())
		if err != nil {
			s.cfg.Logger.WarnContext(r.Context(), "no consistency token for a write", "error", err)
			return
		}
		w.Header().Set(consistencyHeader, lsn.String())
	})
}
