package main

// Demo data: the dataset and the logins a person needs to try it.

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/db/seed"
)

// The demo data's logins: an admin user and a registered customer, who
// share a password generated with the data and kept in the data folder, so
// the server can print it.
const (
	demoAdmin    = "admin@example.com"
	demoCustomer = "customer4@example.com"
)

// loadDataset loads the dataset for n customers and the demo logins, whose
// password it keeps in the data folder.
func loadDataset(ctx context.Context, cfg config, svc *auth.Service, n int, progress seed.Progress) error {
	if err := seed.Load(ctx, svc.DB, n, time.Now(), progress); err != nil {
		return fmt.Errorf("load the dataset: %w", err)
	}
	password := rand.Text()
	if _, err := svc.CreateUser(ctx, demoAdmin, password, nil, nil); err != nil {
		return fmt.Errorf("create the demo admin user: %w", err)
	}
	if err := linkDemoCustomer(ctx, svc, demoCustomer, password); err != nil {
		return fmt.Errorf("give the demo customer a login: %w", err)
	}
	if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(cfg.dataDir, "admin.password"), []byte(password+"\n"), 0o600)
}

// linkDemoCustomer gives the registered customer with email a login with
// password. The seeder writes customers straight to their tables, so the
// identity that registration would have made is made here.
func linkDemoCustomer(ctx context.Context, svc *auth.Service, email, password string) error {
	hash, err := svc.Hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	customers, err := db.ListCustomers(ctx, svc.DB, db.CustomerFilter{Email: []string{email}, HasAccount: new(true)}, db.Page{Limit: 1, Sort: db.Sort{Column: "created_at"}}, db.Columns[db.Customer]{})
	if err != nil {
		return err
	}
	if len(customers) == 0 {
		return fmt.Errorf("no registered customer has the email %s", email)
	}
	_, err = db.InTx(ctx, svc.DB, func(tx db.Tx) (struct{}, error) {
		identity, err := db.CreateIdentity(ctx, tx, db.NormalizeEmail(email), hash)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, db.LinkCustomer(ctx, tx, identity.ID, customers[0].ID)
	})
	return err
}
