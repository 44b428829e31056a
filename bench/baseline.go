package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/jmoiron/sqlx"
	"golang.org/x/sync/errgroup"

	"customerservice/db"
)

// Baseline answers the Headline query without GraphQL: the
// same statements the server sends for it, run the same way (the page and
// its count side by side, then the page's addresses, groups and order
// counts side by side), and the same JSON, written by encoding/json. It is
// the limit the server's GraphQL layer is measured against
// (BENCHMARKS.md): whatever the server spends beyond it is parsing,
// validation, execution and marshaling.
//
// check stands for the server's token check (one statement, as the
// server's first operation needing an actor runs); it is given the
// request's Authorization header.
//
// Any other request (the driver's logins, say) goes to next, the server
// itself.
func Baseline(pool *sqlx.DB, check func(ctx context.Context, authorization string) error, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, `{"errors":[{"message":"the body could not be read"}]}`, http.StatusBadRequest)
			return
		}
		var req struct {
			Query     string `json:"query"`
			Variables struct {
				Limit int `json:"limit"`
			} `json:"variables"`
		}
		if r.Method != http.MethodPost || r.URL.Path != "/graphql" || json.Unmarshal(body, &req) != nil || req.Query != Headline {
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
			return
		}
		if req.Variables.Limit < 1 || req.Variables.Limit > 100 {
			http.Error(w, `{"errors":[{"message":"limit must be 1..100"}]}`, http.StatusBadRequest)
			return
		}
		ctx := r.Context()
		if err := check(ctx, r.Header.Get("Authorization")); err != nil {
			http.Error(w, `{"errors":[{"message":"unauthorized"}]}`, http.StatusUnauthorized)
			return
		}
		answer, err := headlineAnswer(ctx, pool, req.Variables.Limit)
		if err != nil {
			http.Error(w, `{"errors":[{"message":"internal"}]}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/graphql-response+json")
		json.NewEncoder(w).Encode(answer)
	})
}

// The headline's answer, field for field in the order the query selects
// them, as the server writes it.
type (
	baselineAnswer struct {
		Data struct {
			Customers baselineList `json:"customers"`
		} `json:"data"`
	}
	baselineList struct {
		Count int                `json:"count"`
		Items []baselineCustomer `json:"items"`
	}
	baselineCustomer struct {
		ID        string       `json:"id"`
		Email     string       `json:"email"`
		Addresses []baselineID `json:"addresses"`
		Groups    []baselineID `json:"groups"`
		Orders    struct {
			Count int `json:"count"`
		} `json:"orders"`
	}
	baselineID struct {
		ID string `json:"id"`
	}
)

func headlineAnswer(ctx context.Context, pool *sqlx.DB, limit int) (*baselineAnswer, error) {
	page, err := db.NewCustomerPage(limit, 0, "-created_at")
	if err != nil {
		return nil, err
	}
	var (
		answer    baselineAnswer
		customers []*db.Customer
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		answer.Data.Customers.Count, err = db.CountCustomers(gctx, pool, db.CustomerFilter{})
		return err
	})
	g.Go(func() (err error) {
		customers, err = db.ListCustomers(gctx, pool, db.CustomerFilter{}, page, db.CustomerColumns([]string{"id", "email"}))
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	ids := make([]string, len(customers))
	for i, c := range customers {
		ids[i] = c.ID
	}
	var (
		addresses [][]*db.Address
		groups    [][]*db.CustomerGroup
		orders    []int
	)
	g, gctx = errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		addresses, err = db.AddressesByCustomerIDs(gctx, pool, ids, db.AddressColumns([]string{"id"}))
		return err
	})
	g.Go(func() (err error) {
		groups, err = db.GroupsByCustomerIDs(gctx, pool, ids, db.GroupColumns([]string{"id"}))
		return err
	})
	g.Go(func() (err error) {
		orders, err = db.CountOrdersByCustomerIDs(gctx, pool, ids)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	items := make([]baselineCustomer, len(customers))
	for i, c := range customers {
		items[i] = baselineCustomer{ID: c.ID, Email: c.Email, Addresses: idsOf(addresses[i], func(a *db.Address) string { return a.ID }),
			Groups: idsOf(groups[i], func(g *db.CustomerGroup) string { return g.ID })}
		items[i].Orders.Count = orders[i]
	}
	answer.Data.Customers.Items = items
	return &answer, nil
}

func idsOf[T any](rows []T, id func(T) string) []baselineID {
	out := make([]baselineID, len(rows))
	for i, row := range rows {
		out[i].ID = id(row)
	}
	return out
}
