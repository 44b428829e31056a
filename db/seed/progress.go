package seed

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Bar draws a load's progress on one terminal line, rewritten in place, so
// that a load of a million customers says how long it has left.
type Bar struct {
	w     io.Writer
	start time.Time
	now   func() time.Time
}

// NewBar returns a bar that writes to w, counting time from start.
func NewBar(w io.Writer, start time.Time) *Bar {
	return &Bar{w: w, start: start, now: time.Now}
}

// Update draws done of total customers; it is a Progress.
func (b *Bar) Update(done, total int) {
	const width = 30
	filled := width * done / max(total, 1)
	elapsed := b.now().Sub(b.start)
	rate := float64(done) / max(elapsed.Seconds(), 0.001)
	eta := time.Duration(float64(total-done)/max(rate, 1)) * time.Second
	fmt.Fprintf(b.w, "\r[%s%s] %d/%d customers  %.0f/s  %s elapsed  ~%s left ",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, rate,
		elapsed.Round(time.Second), eta.Round(time.Second))
}

// Done ends the bar's line, so that what follows starts on a line of its
// own.
func (b *Bar) Done() { fmt.Fprintln(b.w) }
