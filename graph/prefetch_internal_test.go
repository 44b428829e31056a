package graph

import (
	"strings"
	"sync/atomic"
	"testing"
)

func TestRunAllRaisesABatchPanicInTheCaller(t *testing.T) {
	var ran atomic.Int32
	defer func() {
		p := recover()
		if s, _ := p.(string); !strings.HasPrefix(s, "batch failed\n") {
			t.Errorf("recovered %v, want the batch's panic with its stack", p)
		}
		if ran.Load() != 2 {
			t.Errorf("%d of 2 healthy batches ran", ran.Load())
		}
	}()
	runAll([]func(){
		func() { ran.Add(1) },
		func() { panic("batch failed") },
		func() { ran.Add(1) },
	})
}
