package auth_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"customerservice/auth"
)

// RunResetRequests empties the queue before it waits for its next round,
// however many batches of 100 that takes, mails the known identity among
// them, and stops when its context ends.
func TestRunResetRequestsDrainsTheQueue(t *testing.T) {
	t.Parallel()
	s := service(t)
	ctx := context.Background()
	register(t, s, auth.Customer, "known@example.com", "a password")
	for i := range 230 {
		if err := s.RequestPasswordReset(ctx, auth.Customer, fmt.Sprintf("unknown%d@example.com", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RequestPasswordReset(ctx, auth.Customer, "known@example.com"); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&syncWriter{w: &log}, nil))
	run, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	// An hour between rounds: only the first round can drain the queue.
	go func() { s.RunResetRequests(run, time.Hour, logger); close(done) }()
	for tries := 0; ; tries++ {
		var queued int
		if err := s.DB.Get(&queued, `SELECT count(*) FROM password_reset_request`); err != nil {
			t.Fatal(err)
		}
		if queued == 0 {
			break
		}
		if tries == 3000 {
			t.Fatalf("%d requests still queued: the first round stopped before the queue was empty", queued)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	if n := resetMails(t, s, "known@example.com"); n != 1 {
		t.Errorf("%d mails to the known identity, want 1", n)
	}
	if log.Len() != 0 {
		t.Errorf("a clean run logged: %s", log.String())
	}
}

// A job whose database fails logs the error and keeps its rounds.
func TestRunResetRequestsLogsFailures(t *testing.T) {
	t.Parallel()
	s := service(t)
	s.DB.Close()
	var log bytes.Buffer
	w := &syncWriter{w: &log}
	logger := slog.New(slog.NewTextHandler(w, nil))
	run, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.RunResetRequests(run, time.Millisecond, logger); close(done) }()
	for tries := 0; !w.contains("password reset requests"); tries++ {
		if tries == 3000 {
			t.Fatal("the failure was not logged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) contains(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Contains(s.w.Bytes(), []byte(text))
}
