package seed

import (
	"strings"
	"testing"
	"time"
)

func TestBar(t *testing.T) {
	var out strings.Builder
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	b := NewBar(&out, start)
	b.now = func() time.Time { return start.Add(4 * time.Second) }
	b.Update(10_000, 40_000)
	b.Update(40_000, 40_000)
	b.Done()
	want := "\r[#######.......................] 10000/40000 customers  2500/s  4s elapsed  ~12s left " +
		"\r[##############################] 40000/40000 customers  10000/s  4s elapsed  ~0s left \n"
	if got := out.String(); got != want {
		t.Errorf("bar:\n got %q\nwant %q", got, want)
	}
}
