package main

// customerservice bench: the load driver, against a running server.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"customerservice/bench"
)

// benchCommand runs the load driver against a running server.
func benchCommand(ctx context.Context, cfg config, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	url := fs.String("url", "http://"+cfg.addr, "the server's base URL")
	scenarios := fs.String("scenario", "all", "a scenario, a comma-separated list, or all: "+strings.Join(bench.Scenarios(), ", ")+
		"; or subscriptions, alone (see -subscribers); or cursor-pages, alone: a deep page of each list by offset and by cursor (see -runs)")
	concurrency := fs.Int("c", 4, "concurrent clients")
	duration := fs.Duration("duration", 10*time.Second, "how long each scenario runs")
	requests := fs.Int("n", 0, "stop each scenario after this many requests (0: by duration only)")
	email := fs.String("email", demoAdmin, "admin user to log in as")
	customerEmail := fs.String("customer-email", demoCustomer, "customer to log in as, for the me and mixed scenarios")
	password := fs.String("password", "", "password of both logins (default: DATA_DIR/admin.password)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	subscribers := fs.Int("subscribers", 1000, "the subscriptions scenario: WebSocket subscribers (the server's WEBSOCKETS_PER_ACCOUNT must allow them)")
	changes := fs.Int("changes", 200, "the subscriptions scenario: changes whose deliveries are timed")
	interval := fs.Duration("interval", 20*time.Millisecond, "the subscriptions scenario: pause between changes")
	runs := fs.Int("runs", 15, "cursor-pages: reads of each page, after two warm-ups")
	group := fs.String("group", "", "cursor-pages: a group whose members' list to page too")
	only := fs.String("only", "", "cursor-pages: only the orders that contain this, e.g. last_name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *password == "" {
		b, err := os.ReadFile(filepath.Join(cfg.dataDir, "admin.password"))
		if err != nil {
			return fmt.Errorf("no -password and no %s: %w", filepath.Join(cfg.dataDir, "admin.password"), err)
		}
		*password = strings.TrimSpace(string(b))
	}
	admin, err := bench.Login(ctx, *url, "USER", *email, *password)
	if err != nil {
		return err
	}
	if *scenarios == "subscriptions" {
		r, err := bench.RunSubscriptions(ctx, bench.SubscriptionConfig{URL: *url, AdminToken: admin,
			Subscribers: *subscribers, Changes: *changes, Interval: *interval})
		if err != nil {
			return fmt.Errorf("subscriptions: %w", err)
		}
		if *asJSON {
			return printJSON(r)
		}
		fmt.Println(bench.PrintSubscriptions(r))
		return nil
	}
	if *scenarios == "cursor-pages" {
		cases, err := bench.RunCursorPages(ctx, bench.CursorPagesConfig{URL: *url, AdminToken: admin, Runs: *runs, Group: *group, Only: *only})
		if err != nil {
			return fmt.Errorf("cursor-pages: %w", err)
		}
		if *asJSON {
			return printJSON(cases)
		}
		bench.PrintCursorPages(os.Stdout, cases)
		return nil
	}
	customer, err := bench.Login(ctx, *url, "CUSTOMER", *customerEmail, *password)
	if err != nil {
		// No such login yet: a shopper of the run's own.
		if customer, err = bench.SignUp(ctx, *url, *customerEmail, *password); err != nil {
			return err
		}
	}
	names := bench.Scenarios()
	if *scenarios != "all" {
		names = strings.Split(*scenarios, ",")
	}
	var results []bench.Result
	for _, name := range names {
		r, err := bench.Run(ctx, bench.Config{URL: *url, Scenario: strings.TrimSpace(name), Concurrency: *concurrency,
			Duration: *duration, Requests: *requests, AdminToken: admin, CustomerToken: customer})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		results = append(results, r)
	}
	if *asJSON {
		return printJSON(results)
	}
	bench.Print(os.Stdout, results)
	return nil
}

// printJSON writes v to standard output as indented JSON.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
