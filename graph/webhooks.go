package graph

// Webhooks for admins: the endpoints' flows map onto webhooks.Service; the
// endpoints and their deliveries are read from db, the deliveries of a
// list's endpoints in one statement through a loader.

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/errcode"
	"customerservice/graph/model"
	"customerservice/webhooks"
)

func (r *Resolver) createWebhook(ctx context.Context, in model.CreateWebhookInput) (*model.WebhookSecret, error) {
	description, _ := in.Description.ValueOK()
	w, secret, err := r.Webhooks.Create(ctx, webhooks.Input{URL: in.URL, EventTypes: in.EventTypes, Description: description}, adminID(ctx))
	if err != nil {
		return nil, err
	}
	return &model.WebhookSecret{Webhook: w, Secret: secret}, nil
}

func (r *Resolver) updateWebhook(ctx context.Context, id string, in model.UpdateWebhookInput) (*db.Webhook, error) {
	var ch webhooks.Changes
	if v, ok := in.URL.ValueOK(); ok {
		if v == nil {
			return nil, errcode.Invalid("input.url", "url cannot be null: an endpoint needs one")
		}
		ch.URL = v
	}
	if v, ok := in.EventTypes.ValueOK(); ok {
		if v == nil {
			return nil, errcode.Invalid("input.event_types", "event_types cannot be null: list at least one type")
		}
		ch.EventTypes = v
	}
	ch.Description = change(in.Description)
	return prefetchedOne(ctx, prefetchWebhooks)(r.Webhooks.Update(ctx, id, ch))
}

func (r *Resolver) rotateWebhookSecret(ctx context.Context, id string) (*model.WebhookSecret, error) {
	w, secret, err := r.Webhooks.RotateSecret(ctx, id)
	if err != nil {
		return nil, err
	}
	return &model.WebhookSecret{Webhook: w, Secret: secret}, nil
}

func webhookList(limit, offset *int, after *string) (*model.WebhookList, error) {
	page, err := startAfter(after)(db.NewWebhookPage(intOr(limit, db.DefaultLimit), intOr(offset, 0)))
	if err != nil {
		return nil, err
	}
	return &model.WebhookList{Page: page}, nil
}

// defaultDeliveries is the schema's default of Webhook.deliveries' limit.
const defaultDeliveries = 10

// deliveriesLimit checks Webhook.deliveries' limit: 1 to MaxLimit.
func deliveriesLimit(limit *int) (int, error) {
	n := intOr(limit, defaultDeliveries)
	if n < 1 || n > db.MaxLimit {
		return 0, errcode.Invalid("limit", "limit must be between 1 and %d, got %d", db.MaxLimit, n)
	}
	return n, nil
}

func (r *Resolver) webhookDeliveries(ctx context.Context, w *db.Webhook, limit *int) ([]*db.WebhookDelivery, error) {
	n, err := deliveriesLimit(limit)
	if err != nil {
		return nil, err
	}
	return load(ctx, loadersFrom(ctx).DeliveriesByWebhook, deliveriesKey{ID: w.ID, Limit: n})
}

// deliveriesKey is the key of an endpoint's newest deliveries: the
// endpoint and how many.
type deliveriesKey struct {
	ID    string
	Limit int
}

// deliveriesByWebhook adapts db.DeliveriesByWebhookIDs: one statement per
// distinct limit, as paged does for pages.
func deliveriesByWebhook(q sqlx.QueryerContext) func(ctx context.Context, keys []deliveriesKey) ([][]*db.WebhookDelivery, error) {
	return func(ctx context.Context, keys []deliveriesKey) ([][]*db.WebhookDelivery, error) {
		byLimit := map[int][]int{}
		var limits []int
		for i, k := range keys {
			if _, ok := byLimit[k.Limit]; !ok {
				limits = append(limits, k.Limit)
			}
			byLimit[k.Limit] = append(byLimit[k.Limit], i)
		}
		out := make([][]*db.WebhookDelivery, len(keys))
		for _, limit := range limits {
			ids := make([]string, len(byLimit[limit]))
			for j, i := range byLimit[limit] {
				ids[j] = keys[i].ID
			}
			rows, err := db.DeliveriesByWebhookIDs(ctx, q, ids, limit)
			if err != nil {
				return nil, err
			}
			for j, i := range byLimit[limit] {
				out[i] = rows[j]
			}
		}
		return out, nil
	}
}

// prefetchWebhooks loads the deliveries of endpoints, when the query
// selects them, in one statement for all.
func prefetchWebhooks(ctx context.Context, hooks []*db.Webhook) {
	if len(hooks) == 0 || !isAdmin(ctx) {
		return
	}
	l := loadersFrom(ctx)
	var tasks []func()
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"Webhook"}) {
		if f.Name != "deliveries" {
			continue
		}
		limit, ok := intArg(ctx, f.ArgumentMap(graphql.GetOperationContext(ctx).Variables), "limit")
		if !ok {
			continue // the field's resolver reports it
		}
		n, err := deliveriesLimit(limit)
		if err != nil {
			continue // the field's resolver reports it
		}
		keys := make([]deliveriesKey, len(hooks))
		for i, w := range hooks {
			keys[i] = deliveriesKey{ID: w.ID, Limit: n}
		}
		tasks = append(tasks, func() { l.DeliveriesByWebhook.prefetch(ctx, keys) })
	}
	if len(tasks) > 0 {
		runAll(tasks)
	}
}
