package main

// customerservice seed: the reference dataset, for benchmarks.

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"customerservice/db/seed"
)

// seedCommand runs "seed": the dataset for -customers customers, loaded
// with a progress bar, and the demo logins.
func seedCommand(ctx context.Context, cfg config, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	n := fs.Int("customers", 10_000, "number of customers to load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, svc, err := openWithAuth(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.close()
	start := time.Now()
	bar := seed.NewBar(os.Stderr, start)
	err = loadDataset(ctx, cfg, svc, *n, bar.Update)
	bar.Done()
	if err != nil {
		return err
	}
	logger.Info("seeded", "customers", *n, "took", time.Since(start).Round(time.Millisecond),
		"logins", demoAdmin+", "+demoCustomer, "password_file", filepath.Join(cfg.dataDir, "admin.password"))
	return nil
}
